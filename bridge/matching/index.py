"""The per-tenant match index: profiles of Accounts, Contacts and Leads with blocking keys.

A candidate is compared only with the records that share a blocking key with it (same email,
registrable domain or phone; a name token; a short name prefix; an acronym), never with every
record. Very common keys ("n:john", "c:services") are skipped when rarer ones exist, so a block
stays small however large the org is. `upsert`/`remove` keep it current one record at a time;
tie-breaker counts (contacts and opportunities per account, leads per account domain) are kept
alongside.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from bridge.matching.frequency import TermFrequency
from bridge.matching.normalize import phonetic_key
from bridge.matching.profiles import Profile, build_profile
from bridge.matching.tiebreak import RecordStats

INDEXED_OBJECTS = ("account", "contact", "lead")
# A key shared by more records than this says little; use it only when nothing rarer exists.
COMMON_KEY = 2_000
# Keys at most this common (or 1/500 of the object's records, if more) are always used.
RARE_KEY = 32
# Stop widening a block past this many records (keys are taken rarest first).
MAX_BLOCK = 5_000


def blocking_keys(p: Profile) -> set[str]:
    keys: set[str] = set()
    if p.email:
        keys.add("e:" + p.email)
    if p.domain:
        keys.add("d:" + p.domain)
    keys.update("p:" + phone for phone in p.phones)
    if p.person:
        keys.update("n:" + t for t in p.last.split() if len(t) > 1)
        if p.first and p.last:
            # A last-name prefix with the first initial (of the name or any of its nickname
            # forms), and the same crosswise for swapped names: survives most single typos.
            initials = {f[0] for f in p.first_forms} | {p.first[0]}
            keys.update("s:" + p.last[:3] + "/" + i for i in initials)
            keys.add("s:" + p.first[:3] + "/" + p.last[0])
            # Sound-alike surnames ('Smyth'/'Smith', 'Gallager'/'Gallagher') by first initial,
            # and crosswise for swapped names.
            sound = phonetic_key(p.last)
            if sound:
                keys.update("ph:" + sound + "/" + i for i in initials)
            sound = phonetic_key(p.first)
            if sound:
                keys.add("ph:" + sound + "/" + p.last[0])
        # The company with the start of either name: a copy whose surname is misspelt early
        # on, or whose names are swapped and misspelt ('Baker Stehpen' at White Systems).
        if p.company and (p.first or p.last):
            company = p.company.replace(" ", "")[:8]
            keys.update("co:" + company + "/" + n[:2] for n in (p.first, p.last) if n)
        # The address: house number with the street's start, and with the postcode (a copy
        # whose names are both misspelt still lives there; households share these blocks).
        number, _, street = p.street.partition(" ")
        if number[:1].isdigit() and street:
            keys.add("a:" + number + "/" + street.replace(" ", "")[:5])
            if p.postal_code:
                keys.add("a:" + number + "/" + p.postal_code)
        # Identifying fields of people: a copy whose names are both misspelt still shares them.
        if p.national_id:
            keys.add("i:" + p.national_id)
        if len(p.birthdate) == 8:
            keys.add("b:" + p.birthdate)
    elif p.company:
        tokens = p.company.split()
        keys.update("c:" + t for t in tokens if len(t) > 1)
        keys.update("c4:" + t[:4] for t in tokens if len(t) > 4)
        squeezed = p.company.replace(" ", "")
        keys.add("c:" + squeezed)
        if p.company_acronym:
            keys.add("c:" + p.company_acronym)
    return keys


class ObjectIndex:
    """One object's records: slots, an id -> slot map and the postings of each blocking key."""

    def __init__(self) -> None:
        self.slots: list[Profile | None] = []
        self.slot_of: dict[str, int] = {}
        self.postings: dict[str, set[int]] = defaultdict(set)
        self._free: list[int] = []
        self.freq = TermFrequency()

    def __len__(self) -> int:
        return len(self.slot_of)

    def get(self, record_id: str) -> Profile | None:
        slot = self.slot_of.get(record_id)
        return None if slot is None else self.slots[slot]

    def put(self, profile: Profile) -> Profile | None:
        previous = self.drop(profile.id)
        slot = self._free.pop() if self._free else len(self.slots)
        if slot == len(self.slots):
            self.slots.append(profile)
        else:
            self.slots[slot] = profile
        self.slot_of[profile.id] = slot
        self.freq.update(profile, +1)
        for key in blocking_keys(profile):
            self.postings[key].add(slot)
        return previous

    def drop(self, record_id: str) -> Profile | None:
        slot = self.slot_of.pop(record_id, None)
        if slot is None:
            return None
        profile = self.slots[slot]
        assert profile is not None
        self.freq.update(profile, -1)
        for key in blocking_keys(profile):
            posting = self.postings.get(key)
            if posting is not None:
                posting.discard(slot)
                if not posting:
                    del self.postings[key]
        self.slots[slot] = None
        self._free.append(slot)
        return profile

    def block(self, candidate: Profile) -> list[Profile]:
        sized = sorted(
            (len(self.postings[k]), k) for k in blocking_keys(candidate) if k in self.postings
        )
        rare = max(RARE_KEY, len(self.slot_of) // 500)
        chosen: set[int] = set()
        for size, key in sized:
            if chosen and (size > rare or len(chosen) + size > MAX_BLOCK):
                break
            if size > COMMON_KEY:
                break
            chosen |= self.postings[key]
        found = [self.slots[s] for s in sorted(chosen)]
        return [p for p in found if p is not None]

    def profiles(self) -> Iterable[Profile]:
        return (p for p in self.slots if p is not None)


class MatchIndex:
    """Accounts, Contacts and Leads of one tenant, plus the counts the tie-breakers need."""

    def __init__(self, region: str = "US") -> None:
        self.region = region
        self.objects = {name: ObjectIndex() for name in INDEXED_OBJECTS}
        self.contacts_per_account: Counter[str] = Counter()
        self.opportunity_account: dict[str, str] = {}
        self.opportunities_per_account: Counter[str] = Counter()
        # Readers take no lock: a write swaps whole entries, never leaves one half-built.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(o) for o in self.objects.values())

    def counts(self) -> dict[str, int]:
        counts = {name: len(index) for name, index in self.objects.items()}
        counts["opportunity"] = len(self.opportunity_account)
        return counts

    def upsert(self, sobject: str, records: Iterable[Mapping[str, Any]]) -> int:
        """Add or replace records (Salesforce JSON); deleted ones (`IsDeleted`) are removed."""
        obj = sobject.lower()
        done = 0
        with self._lock:
            for record in records:
                record_id = str(record.get("Id") or record.get("id") or "")
                if not record_id:
                    continue
                if record.get("IsDeleted") or record.get("IsConverted"):
                    self._remove_one(obj, record_id)
                elif obj == "opportunity":
                    self._set_opportunity(record_id, str(record.get("AccountId") or ""))
                elif obj in self.objects:
                    profile = build_profile(record, obj, record_id=record_id, region=self.region)
                    previous = self.objects[obj].put(profile)
                    if obj == "contact":
                        self._move_contact(previous, profile)
                done += 1
        return done

    def remove(self, sobject: str, record_ids: Iterable[str]) -> int:
        obj = sobject.lower()
        with self._lock:
            return sum(1 for rid in record_ids if self._remove_one(obj, rid))

    def _remove_one(self, obj: str, record_id: str) -> bool:
        if obj == "opportunity":
            existed = record_id in self.opportunity_account
            self._set_opportunity(record_id, None)
            return existed
        if obj not in self.objects:
            return False
        previous = self.objects[obj].drop(record_id)
        if obj == "contact":
            self._move_contact(previous, None)
        return previous is not None

    def _move_contact(self, before: Profile | None, after: Profile | None) -> None:
        if before is not None and before.account_id:
            self.contacts_per_account[before.account_id] -= 1
        if after is not None and after.account_id:
            self.contacts_per_account[after.account_id] += 1

    def _set_opportunity(self, opp_id: str, account_id: str | None) -> None:
        old = self.opportunity_account.pop(opp_id, None)
        if old:
            self.opportunities_per_account[old] -= 1
        if account_id is not None:
            self.opportunity_account[opp_id] = account_id
            if account_id:
                self.opportunities_per_account[account_id] += 1

    def get(self, sobject: str, record_id: str) -> Profile | None:
        return self.objects[sobject.lower()].get(record_id)

    def stats(self, sobject: str, record_id: str) -> RecordStats:
        profile = self.objects[sobject.lower()].get(record_id)
        if profile is None:
            return RecordStats()
        if profile.object != "account":
            return RecordStats(created=profile.created)
        leads = 0
        if profile.domain:
            leads = len(self.objects["lead"].postings.get("d:" + profile.domain, ()))
        return RecordStats(
            contacts=self.contacts_per_account[record_id],
            leads=leads,
            opportunities=self.opportunities_per_account[record_id],
            created=profile.created,
        )
