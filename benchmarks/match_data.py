"""Labelled record-linkage data for the matching benchmarks and tests (faker-based).

Two files per kind: `left` and `right`, where part of `right` are corrupted copies of `left`
rows (the truth: left id -> right id) and the rest are other entities, including traps:
same-name people at other companies, companies whose name contains another's ("Acme" /
"Acme Holdings") with nothing else in common, and people sharing free-mail domains.

Corruptions of a copy (each with its own probability): typos (insert, delete, substitute,
transpose), nicknames, swapped first/last names, diacritics dropped or added, case changes,
legal suffixes changed, abbreviations (International -> Intl), missing fields, work vs
personal email, reformatted phones, website written differently.
"""

from __future__ import annotations

import csv
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from faker import Faker

NICKNAMES = {
    "robert": "Bob", "william": "Bill", "richard": "Dick", "james": "Jim", "john": "Jack",
    "michael": "Mike", "elizabeth": "Liz", "jennifer": "Jen", "katherine": "Kate",
    "thomas": "Tom", "christopher": "Chris", "joseph": "Joe", "daniel": "Dan", "matthew": "Matt",
    "anthony": "Tony", "margaret": "Peggy", "patricia": "Patty", "david": "Dave",
    "steven": "Steve", "edward": "Ed", "charles": "Charlie", "susan": "Sue", "rebecca": "Becky",
    "samuel": "Sam", "benjamin": "Ben", "alexander": "Alex", "nicholas": "Nick",
    "jonathan": "Jon", "timothy": "Tim", "kimberly": "Kim", "deborah": "Debbie",
    "victoria": "Vicky", "andrew": "Andy", "gregory": "Greg", "jessica": "Jess",
}  # fmt: skip
SUFFIXES = ["Inc", "Inc.", "LLC", "Ltd", "Corp", "Corporation", "Co.", "GmbH", "", "", ""]
ABBREVIATIONS = {
    "International": "Intl", "Technologies": "Tech", "Manufacturing": "Mfg", "Services": "Svcs",
    "Systems": "Sys", "Solutions": "Solution", "and": "&",
}  # fmt: skip
FREE_MAIL = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"]
ACCENTS = {"e": "é", "a": "á", "o": "ö", "u": "ü", "n": "ñ", "c": "ç"}


def typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(["insert", "delete", "substitute", "transpose"])
    letter = rng.choice(string.ascii_lowercase)
    if kind == "insert":
        return text[:i] + letter + text[i:]
    if kind == "delete":
        return text[:i] + text[i + 1 :]
    if kind == "substitute":
        return text[:i] + letter + text[i + 1 :]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def accent(text: str, rng: random.Random) -> str:
    spots = [i for i, c in enumerate(text) if c in ACCENTS]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + ACCENTS[text[i]] + text[i + 1 :]


def phone_format(digits: str, rng: random.Random) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}",
                       f"1{a}{b}{c}", f"{a}{b}{c}"])  # fmt: skip


@dataclass
class Company:
    name: str
    domain: str
    phone: str
    street: str
    city: str
    postcode: str


def make_company(fake: Faker, rng: random.Random, taken: set[str]) -> Company:
    while True:
        words = rng.choice([
            [fake.last_name()],
            [fake.last_name(), rng.choice(["Technologies", "Systems", "Manufacturing", "Group",
                                           "Services", "Solutions", "Labs", "Partners"])],
            [rng.choice(["International", "Global", "United", "Pacific", "Northern"]),
             fake.last_name(), rng.choice(["Holdings", "Industries", "Logistics", "Foods"])],
            [fake.last_name(), "and", fake.last_name()],
        ])  # fmt: skip
        name = " ".join(words)
        if name.lower() not in taken:
            taken.add(name.lower())
            break
    slug = "".join(w.lower() for w in words if w != "and")[:20]
    domain = f"{slug}{rng.choice(['.com', '.com', '.io', '.co.uk', '.net'])}"
    return Company(
        name, domain, f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}",
        fake.street_address(), fake.city(), fake.postcode(),
    )  # fmt: skip


def company_row(c: Company, rid: str, rng: random.Random, *, corrupt: bool) -> dict[str, str]:
    name, website, phone = c.name, f"https://www.{c.domain}", phone_format(c.phone, rng)
    street, city, postcode = c.street, c.city, c.postcode
    suffix = rng.choice(SUFFIXES)
    if corrupt:
        if rng.random() < 0.5:
            suffix = rng.choice(SUFFIXES)
        if rng.random() < 0.3:
            name = " ".join(ABBREVIATIONS.get(w, w) for w in name.split())
        if rng.random() < 0.3:
            name = typo(name, rng)
        if rng.random() < 0.2:
            name = name.upper() if rng.random() < 0.5 else name.lower()
        website = rng.choice([c.domain, f"http://{c.domain}/", f"www.{c.domain}/about", website])
        if rng.random() < 0.3:
            website = ""
        if rng.random() < 0.25:
            phone = ""
        if rng.random() < 0.3:
            street = typo(street, rng) if rng.random() < 0.5 else ""
        if rng.random() < 0.15:
            city = ""
        if rng.random() < 0.15:
            postcode = ""
        if not phone and not street and not postcode:
            phone = phone_format(c.phone, rng)  # records keep a phone or an address
    full = f"{name} {suffix}".strip() if suffix else name
    return {"id": rid, "name": full, "website": website, "phone": phone, "street": street,
            "city": city, "postal_code": postcode}  # fmt: skip


@dataclass
class Person:
    first: str
    last: str
    company: Company
    email: str
    phone: str
    city: str


def make_person(fake: Faker, rng: random.Random, companies: Sequence[Company]) -> Person:
    first, last = fake.first_name(), fake.last_name()
    company = rng.choice(companies)
    if rng.random() < 0.75:
        local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[0]}", first])
        email = f"{local.lower()}@{company.domain}"
    else:
        email = f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@{rng.choice(FREE_MAIL)}"
    return Person(first, last, company, email,
                  f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}",
                  company.city)  # fmt: skip


def person_row(p: Person, rid: str, rng: random.Random, *, corrupt: bool) -> dict[str, str]:
    first, last, email = p.first, p.last, p.email
    phone, company, city = phone_format(p.phone, rng), p.company.name, p.city
    if corrupt:
        nick = NICKNAMES.get(first.lower())
        if nick and rng.random() < 0.4:
            first = nick
        if rng.random() < 0.25:
            first = rng.choice([typo, typo, phonetic, ocr])(first, rng)
        if rng.random() < 0.25:
            last = rng.choice([typo, typo, phonetic, ocr])(last, rng)
        if rng.random() < 0.1:
            last = accent(last, rng)
        if rng.random() < 0.06:
            first, last = last, first
        if rng.random() < 0.1:
            first, last = first.upper(), last.upper()
        roll = rng.random()
        if roll < 0.15:
            email = ""
        elif roll < 0.25:
            email = f"{p.first.lower()}{rng.randint(1, 99)}@{rng.choice(FREE_MAIL)}"
        if rng.random() < 0.3:
            phone = ""
        if rng.random() < 0.3:
            company = f"{company} {rng.choice(SUFFIXES)}".strip()
        if rng.random() < 0.15:
            company = ""
        if rng.random() < 0.3:
            city = ""
    return {"id": rid, "first_name": first, "last_name": last, "email": email, "phone": phone,
            "company": company, "city": city}  # fmt: skip


def people_files(n: int, seed: int = 7, overlap: float = 0.6):  # type: ignore[no-untyped-def]
    """(left rows, right rows, truth {left id: right id})."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    taken: set[str] = set()
    companies = [make_company(fake, rng, taken) for _ in range(max(20, n // 8))]
    people = [make_person(fake, rng, companies) for _ in range(n)]
    left = [person_row(p, f"L{i}", rng, corrupt=False) for i, p in enumerate(people)]
    truth: dict[str, str] = {}
    right: list[dict[str, str]] = []
    shared = int(n * overlap)
    for i in range(shared):
        right.append(person_row(people[i], f"R{i}", rng, corrupt=True))
        truth[f"L{i}"] = f"R{i}"
    for j in range(shared, n):
        other = make_person(fake, rng, companies)
        if rng.random() < 0.08:  # trap: same name as someone in left, another company
            twin = people[rng.randrange(n)]
            other.first, other.last = twin.first, twin.last
            other.company = rng.choice([c for c in companies if c is not twin.company])
            other.email = f"{twin.first.lower()}.{twin.last.lower()}@{other.company.domain}"
            other.city = other.company.city
        right.append(person_row(other, f"R{j}", rng, corrupt=False))
    rng.shuffle(right)
    return left, right, truth


def company_files(n: int, seed: int = 11, overlap: float = 0.6):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    taken: set[str] = set()
    companies = [make_company(fake, rng, taken) for _ in range(n)]
    left = [company_row(c, f"L{i}", rng, corrupt=False) for i, c in enumerate(companies)]
    truth: dict[str, str] = {}
    right: list[dict[str, str]] = []
    shared = int(n * overlap)
    for i in range(shared):
        right.append(company_row(companies[i], f"R{i}", rng, corrupt=True))
        truth[f"L{i}"] = f"R{i}"
    for j in range(shared, n):
        other = make_company(fake, rng, taken)
        if rng.random() < 0.1:  # trap: "Acme" vs "Acme Holdings", nothing else shared
            base = companies[rng.randrange(n)]
            other.name = f"{base.name} {rng.choice(['Holdings', 'Group', 'Partners', 'Labs'])}"
        right.append(company_row(other, f"R{j}", rng, corrupt=False))
    rng.shuffle(right)
    return left, right, truth


# -- FEBRL-like person records (given name, surname, address, postcode, DOB, SSN) -----------
# Shaped like the FEBRL generator's data (Christen 2008): each duplicate gets a few
# modifications spread over its fields: keyboard typos, phonetic and OCR errors, missing
# values, swapped given/surname, nicknames, day/month swaps in dates of birth, a digit wrong in
# an identifier. Families sharing a surname, an address and a phone are the precision trap.
PHONETIC = [
    ("ph", "f"), ("f", "ph"), ("ck", "k"), ("c", "k"), ("ie", "y"), ("y", "ie"), ("ou", "u"),
    ("ee", "ea"), ("ei", "ie"), ("sch", "sh"), ("th", "t"), ("z", "s"),
]  # fmt: skip
OCR = [("o", "0"), ("l", "1"), ("i", "1"), ("s", "5"), ("b", "6"), ("rn", "m"), ("m", "rn")]
UNITS = ["", "", "", "", "unit 4", "apt 12", "flat 2", "rear", "suite 300", "the grange"]


def phonetic(text: str, rng: random.Random) -> str:
    options = [(a, b) for a, b in PHONETIC if a in text.lower()]
    if not options:
        return typo(text, rng)
    a, b = rng.choice(options)
    i = text.lower().index(a)
    return text[:i] + b + text[i + len(a) :]


def ocr(text: str, rng: random.Random) -> str:
    options = [(a, b) for a, b in OCR if a in text.lower()]
    if not options:
        return typo(text, rng)
    a, b = rng.choice(options)
    i = text.lower().index(a)
    return text[:i] + b + text[i + len(a) :]


def digit_error(digits: str, rng: random.Random) -> str:
    if len(digits) < 2:
        return digits
    i = rng.randrange(len(digits))
    if rng.random() < 0.5 and i + 1 < len(digits):  # transposition
        return digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    return digits[:i] + str((int(digits[i]) + rng.randint(1, 9)) % 10) + digits[i + 1 :]


def febrl_person(fake: Faker, rng: random.Random) -> dict[str, str]:
    born = fake.date_of_birth(minimum_age=18, maximum_age=90)
    return {
        "given_name": fake.first_name(), "surname": fake.last_name(),
        "street_number": str(rng.randint(1, 999)), "address_1": fake.street_name(),
        "address_2": rng.choice(UNITS), "suburb": fake.city(), "postcode": fake.postcode(),
        "state": fake.state_abbr(), "date_of_birth": born.strftime("%Y%m%d"),
        "soc_sec_id": f"{rng.randint(1_000_000, 9_999_999)}",
        "phone_number": f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}",
    }  # fmt: skip


def febrl_original(person: dict[str, str], rng: random.Random) -> dict[str, str]:
    """Originals are incomplete too: each field is missing now and then."""
    row = dict(person)
    for key, p in (("address_2", 0.0), ("street_number", 0.05), ("phone_number", 0.3),
                   ("soc_sec_id", 0.15), ("date_of_birth", 0.1), ("suburb", 0.03),
                   ("state", 0.05)):  # fmt: skip
        if rng.random() < p:
            row[key] = ""
    return row


def febrl_duplicate(orig: dict[str, str], rng: random.Random) -> dict[str, str]:
    row = dict(orig)
    text_fields = ["given_name", "surname", "address_1", "suburb"]
    for _ in range(rng.choice([1, 2, 2, 3, 3, 4, 5])):
        other = ["street_number", "postcode", "state", "date_of_birth", "soc_sec_id",
                 "phone_number", "address_2", "swap"]  # fmt: skip
        key = rng.choice([*text_fields, *text_fields, *other])
        value = row.get(key, "")
        if key == "swap":
            row["given_name"], row["surname"] = row["surname"], row["given_name"]
        elif rng.random() < 0.2 and key not in ("given_name", "surname"):
            row[key] = ""
        elif key in text_fields and value:
            nick = NICKNAMES.get(value.lower()) if key == "given_name" else None
            change = rng.choice([typo, typo, phonetic, ocr, accent])
            row[key] = nick if nick and rng.random() < 0.5 else change(value, rng)
        elif key == "date_of_birth" and value:
            y, m, d = value[:4], value[4:6], value[6:]
            if int(d) <= 12 and d != m and rng.random() < 0.5:
                row[key] = y + d + m  # day and month swapped
            else:
                row[key] = digit_error(value, rng)
        elif key in ("street_number", "postcode", "soc_sec_id", "phone_number") and value:
            row[key] = digit_error(value, rng)
        elif key == "state":
            row[key] = ""
        elif key == "address_2":
            row[key] = rng.choice(UNITS)
    return row


def febrl_files(n: int, seed: int = 13, overlap: float = 0.6):  # type: ignore[no-untyped-def]
    """FEBRL-schema people: (left rows, right rows, truth {left id: right id})."""
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    people = [febrl_person(fake, rng) for _ in range(n)]
    left = [{"rec_id": f"L{i}", **febrl_original(p, rng)} for i, p in enumerate(people)]
    truth: dict[str, str] = {}
    right: list[dict[str, str]] = []
    shared = int(n * overlap)
    for i in range(shared):
        copy = febrl_duplicate(febrl_original(people[i], rng), rng)
        right.append({"rec_id": f"R{i}", **copy})
        truth[f"L{i}"] = f"R{i}"
    for j in range(shared, n):
        other = febrl_person(fake, rng)
        if rng.random() < 0.1:  # trap: a family member (surname, address, phone shared)
            kin = people[rng.randrange(n)]
            for key in ("surname", "street_number", "address_1", "address_2", "suburb",
                        "postcode", "state", "phone_number"):  # fmt: skip
                other[key] = kin[key]
        elif rng.random() < 0.05:  # trap: a namesake elsewhere
            twin = people[rng.randrange(n)]
            other["given_name"], other["surname"] = twin["given_name"], twin["surname"]
        right.append({"rec_id": f"R{j}", **febrl_original(other, rng)})
    rng.shuffle(right)
    return left, right, truth


def write_csv(path: Path, rows: Sequence[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def evaluate(predicted: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Best-match links against the truth: precision, recall, F1."""
    tp = sum(1 for left, right in predicted.items() if truth.get(left) == right)
    fp = len(predicted) - tp
    fn = len(truth) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4)}  # fmt: skip
