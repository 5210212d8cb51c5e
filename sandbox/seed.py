"""Realistic seed data (faker), including the near-duplicates a matching engine must handle.

Accounts come in families: "Acme Robotics Inc", "ACME Robotics, Inc.", "Acme Robotcs GmbH"
(legal-suffix swaps, typos, case) sharing a web domain. Contacts and leads reuse people under
nicknames (Robert/Bob), with typos, at the company domain or at free-mail providers; some leads
duplicate contacts or other leads. About 15 % of seeded users are inactive, and a few records
stay owned by them (a rep who left). Seeding writes the SQLite file directly (safe while the
server runs) and fires no callouts.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faker import Faker

from sandbox.records import RecordTransaction
from sandbox.schema import load_schema
from sandbox.standard_objects import INDUSTRIES, LEAD_SOURCES
from sandbox.store import Database
from sandbox.timefmt import format_datetime

LEGAL_SUFFIXES = ("Inc", "Inc.", ", Inc.", "LLC", "Ltd", "Ltd.", "GmbH", "AG", "Corp", "Corp.",
                  "Co.", "S.A.", "B.V.", "PLC", "")  # fmt: skip
FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "gmx.de", "web.de",
             "icloud.com", "aol.com", "proton.me")  # fmt: skip
NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Katherine": "Kate",
    "Michael": "Mike", "James": "Jim", "Jennifer": "Jen", "Thomas": "Tom",
    "Christopher": "Chris", "Daniel": "Dan", "Joseph": "Joe", "Margaret": "Maggie",
    "Richard": "Rick", "Anthony": "Tony", "Steven": "Steve", "Alexander": "Alex",
    "Andrew": "Andy", "Nicholas": "Nick", "Patricia": "Pat", "Samuel": "Sam",
    "Jonathan": "Jon", "Matthew": "Matt", "Rebecca": "Becky", "Susan": "Sue",
    "Benjamin": "Ben", "Timothy": "Tim", "Edward": "Ed", "Deborah": "Debbie",
}  # fmt: skip
TITLES = ("CEO", "CTO", "VP Sales", "VP Marketing", "Head of Operations", "IT Manager",
          "Procurement Lead", "Software Engineer", "Marketing Manager", "CFO", "Director of IT",
          "Sales Operations Analyst", "Office Manager")  # fmt: skip
BATCH = 2000


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text + text[-1]
    i = rng.randrange(1, len(text) - 2)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower()) or "company"


class _Seeder:
    def __init__(self, db: Database, seed: int | None) -> None:
        self.db = db
        self.rng = random.Random(seed)
        self.fake = Faker(["en_US", "en_GB", "de_DE"])
        self.fake.seed_instance(seed)
        self.now = datetime.now(UTC)
        self.active_users: list[str] = []
        self.inactive_users: list[str] = []
        self.accounts: list[dict[str, Any]] = []  # {Id, base, domain, Name}
        self.people: list[dict[str, Any]] = []  # {first, last, email, domain, company}

    def created(self) -> str:
        return format_datetime(self.now - timedelta(minutes=self.rng.randrange(1, 180 * 1440)))

    def owner(self) -> str:
        if self.inactive_users and self.rng.random() < 0.03:
            return self.rng.choice(self.inactive_users)
        if self.active_users:
            return self.rng.choice(self.active_users)
        return self.db.integration_user_id

    def batches(self, count: int, make: Any) -> None:
        user = self.db.integration_user_id
        done = 0
        while done < count:
            with self.db.transaction():
                tx = RecordTransaction(self.db, self.db.schema, user)
                for _ in range(min(BATCH, count - done)):
                    make(tx)
                    done += 1

    # --- users --------------------------------------------------------------------------
    def user(self, tx: RecordTransaction) -> None:
        first, last = self.fake.first_name(), self.fake.last_name()
        active = self.rng.random() >= 0.15
        handle = f"{_slug(first)}.{_slug(last)}{self.rng.randrange(1000)}"
        user_id = tx.create(
            "User",
            {"Username": f"{handle}@sandbox.bridge.local", "FirstName": first, "LastName": last,
             "Email": f"{handle}@example.com", "Alias": handle[:8], "IsActive": active,
             "Title": self.rng.choice(("Account Executive", "SDR", "Sales Manager", "AE")),
             "Department": "Sales", "CreatedDate": self.created()},
            system=True,
        )  # fmt: skip
        (self.active_users if active else self.inactive_users).append(user_id)

    # --- accounts -----------------------------------------------------------------------
    def account(self, tx: RecordTransaction) -> None:
        if self.accounts and self.rng.random() < 0.2:
            family = self.rng.choice(self.accounts)
            base, domain = family["base"], family["domain"]
            variant = self.rng.choice(("typo", "case", "suffix", "the"))
            if variant == "typo":
                base = _typo(self.rng, base)
            elif variant == "case":
                base = base.upper() if self.rng.random() < 0.5 else base.lower()
            elif variant == "the":
                base = f"The {base}"
        else:
            base = re.sub(r"[,]? (Inc|LLC|Ltd|Group|PLC|GmbH|AG|and Sons|& Co)\.?$", "",
                          self.fake.company()).replace(",", "")  # fmt: skip
            domain = f"{_slug(base)}.{self.rng.choice(('com', 'io', 'de', 'co.uk', 'net'))}"
        suffix = self.rng.choice(LEGAL_SUFFIXES)
        name = f"{base}{suffix if suffix.startswith(',') else ' ' + suffix}".strip()
        website = self.rng.choice((f"https://www.{domain}", f"http://{domain}", f"www.{domain}"))
        account_id = tx.create(
            "Account",
            {"Name": name, "Website": website, "Phone": self.fake.phone_number()[:40],
             "Industry": self.rng.choice(INDUSTRIES),
             "NumberOfEmployees": self.rng.choice((5, 12, 50, 180, 600, 2500, 12000)),
             "AnnualRevenue": float(self.rng.randrange(1, 500) * 100000),
             "BillingCity": self.fake.city(), "BillingCountry": self.fake.current_country(),
             "Domain__c": domain, "OwnerId": self.owner(), "CreatedDate": self.created(),
             "Type": self.rng.choice(("Prospect", "Customer", "Partner"))},
            system=True,
        )  # fmt: skip
        self.accounts.append({"Id": account_id, "base": base, "domain": domain, "Name": name})

    # --- people -------------------------------------------------------------------------
    def person(self, domain: str | None, company: str) -> dict[str, Any]:
        if self.people and self.rng.random() < 0.15:
            twin = dict(self.rng.choice(self.people))
            change = self.rng.choice(("nickname", "typo", "freemail", "same"))
            if change == "nickname" and twin["first"] in NICKNAMES:
                twin["first"] = NICKNAMES[twin["first"]]
            elif change == "typo":
                twin["last"] = _typo(self.rng, twin["last"])
            elif change == "freemail":
                twin["email"] = (
                    f"{_slug(twin['first'])}{_slug(twin['last'])}@{self.rng.choice(FREE_MAIL)}"
                )
            return twin
        if self.rng.random() < 0.3:
            first = self.rng.choice(list(NICKNAMES))
        else:
            first = self.fake.first_name()
        last = self.fake.last_name()
        if domain is None or self.rng.random() < 0.2:
            mailbox = self.rng.choice(FREE_MAIL)
            local = f"{_slug(first)}.{_slug(last)}{self.rng.randrange(100)}"
        else:
            mailbox = domain
            local = self.rng.choice(
                (f"{_slug(first)}.{_slug(last)}", f"{_slug(first)[0]}{_slug(last)}",
                 f"{_slug(first)}")
            )  # fmt: skip
        person = {"first": first, "last": last, "email": f"{local}@{mailbox}",
                  "domain": domain, "company": company}  # fmt: skip
        self.people.append(person)
        return person

    def contact(self, tx: RecordTransaction) -> None:
        account = self.rng.choice(self.accounts) if self.accounts else None
        person = self.person(account["domain"] if account else None,
                             account["Name"] if account else "")  # fmt: skip
        tx.create(
            "Contact",
            {"FirstName": person["first"], "LastName": person["last"], "Email": person["email"],
             "Phone": self.fake.phone_number()[:40], "Title": self.rng.choice(TITLES),
             "AccountId": account["Id"] if account else None, "OwnerId": self.owner(),
             "LeadSource": self.rng.choice(LEAD_SOURCES), "CreatedDate": self.created(),
             "MailingCity": self.fake.city()},
            system=True,
        )  # fmt: skip

    def lead(self, tx: RecordTransaction) -> None:
        if self.accounts and self.rng.random() < 0.4:
            account = self.rng.choice(self.accounts)
            company = account["Name"]
            if self.rng.random() < 0.3:
                company = _typo(self.rng, account["base"])
            domain: str | None = account["domain"]
        else:
            company = self.fake.company()
            domain = f"{_slug(company)[:20]}.com"
        person = self.person(domain, company)
        status = self.rng.choice(("Open - Not Contacted", "Open - Not Contacted",
                                  "Working - Contacted", "Closed - Not Converted"))  # fmt: skip
        tx.create(
            "Lead",
            {"FirstName": person["first"], "LastName": person["last"], "Email": person["email"],
             "Company": person["company"] or company, "Title": self.rng.choice(TITLES),
             "Phone": self.fake.phone_number()[:40], "Status": status,
             "LeadSource": self.rng.choice(LEAD_SOURCES), "Industry": self.rng.choice(INDUSTRIES),
             "City": self.fake.city(), "Country": self.fake.current_country(),
             "Website": f"https://{domain}" if domain else None,
             "OwnerId": self.owner(), "CreatedDate": self.created()},
            system=True,
        )  # fmt: skip


def seed_org(db: Database, *, users: int = 0, accounts: int = 0, contacts: int = 0,
             leads: int = 0, seed: int | None = None) -> dict[str, int]:  # fmt: skip
    """Add the given numbers of records; returns what was created."""
    seeder = _Seeder(db, seed)
    existing = db.conn.execute(
        'SELECT "Id", "IsActive" FROM "User" WHERE "IsDeleted" = 0 AND "Id" != ?',
        (db.integration_user_id,),
    ).fetchall()
    seeder.active_users = [r[0] for r in existing if r[1]]
    seeder.inactive_users = [r[0] for r in existing if not r[1]]
    for row in db.conn.execute('SELECT "Id", "Name", "Domain__c" FROM "Account" '
                               'WHERE "IsDeleted" = 0 LIMIT 5000'):  # fmt: skip
        domain = row[2] or f"{_slug(row[1])}.com"
        seeder.accounts.append({"Id": row[0], "base": row[1], "domain": domain, "Name": row[1]})
    seeder.batches(users, seeder.user)
    seeder.batches(accounts, seeder.account)
    seeder.batches(contacts, seeder.contact)
    seeder.batches(leads, seeder.lead)
    return {"users": users, "accounts": accounts, "contacts": contacts, "leads": leads}


def seed_data_dir(data_dir: Path, schema_path: Path | None = None, **counts: Any) -> dict[str, int]:
    """Seed the sandbox whose data lives in `data_dir` (server running or not)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / "sandbox.sqlite3", load_schema(schema_path))
    try:
        return seed_org(db, **counts)
    finally:
        db.close()
