"""A record's match profile: its fields normalised once, when it enters an index.

Salesforce records, API candidates and CSV rows all become a `Profile`. Field names are
matched case-insensitively against the aliases below (`FirstName`, `first_name`, `Account.Name`
...); a field no alias claims is kept as a generic text field (CSV columns, custom fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.matching import normalize as nz

PERSON_OBJECTS = frozenset({"contact", "lead", "person"})

# canonical field -> accepted spellings (lower case)
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full_name", "fullname"),
    "first_name": ("first_name", "firstname", "first", "given_name"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name"),
    "company": ("company", "company_name", "companyname", "account.name", "account_name",
                "organization", "organisation"),
    "email": ("email", "email_address", "emailaddress"),
    "phone": ("phone", "phone_number", "telephone", "mobilephone", "mobile_phone", "mobile"),
    "website": ("website", "url", "web", "homepage", "account.website"),
    "domain": ("domain", "domain__c", "company_domain__c", "email_domain"),
    "street": ("street", "billingstreet", "mailingstreet", "address", "street_address",
               "address_1", "address1", "address_line_1", "address_line1", "street_name"),
    "address_2": ("address_2", "address2", "address_line_2", "address_line2", "street2",
                  "street_2"),
    "street_number": ("street_number", "house_number", "street_no", "streetnumber"),
    "city": ("city", "billingcity", "mailingcity", "town", "suburb", "locality"),
    "postal_code": ("postal_code", "postalcode", "billingpostalcode", "mailingpostalcode", "zip",
                    "zipcode", "zip_code", "postcode"),
    "state": ("state", "billingstate", "mailingstate", "region", "province"),
    "country": ("country", "billingcountry", "mailingcountry"),
    "birthdate": ("birthdate", "birth_date", "date_of_birth", "dob", "birthday",
                  "dateofbirth"),
    "national_id": ("national_id", "ssn", "soc_sec_id", "social_security_number",
                    "national_insurance_number", "nino", "tax_id", "sin"),
}  # fmt: skip
_ALIAS_TO_FIELD = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}

# Fields a rule may name besides the canonical ones above.
DERIVED_FIELDS = frozenset({"name_company"})
KNOWN_FIELDS = frozenset(FIELD_ALIASES) | DERIVED_FIELDS


def canonical_field(name: str) -> str:
    """'BillingCity' -> 'city'; unknown names come back lower-cased (a generic text field)."""
    key = name.strip().lower()
    return _ALIAS_TO_FIELD.get(key, key)


@dataclass(slots=True)
class Profile:
    id: str
    object: str  # "account", "contact", "lead" (or "person"/"company" for files)
    person: bool
    first: str = ""
    last: str = ""
    given: str = ""  # the first name's first token (nicknames, term frequencies)
    first_forms: frozenset[str] = frozenset()
    full_name: str = ""
    company: str = ""
    company_acronym: str = ""
    email: str = ""
    domain: str = ""
    phones: tuple[str, ...] = ()
    street: str = ""
    address_2: str = ""  # a building, estate or unit ('the willows', 'unit 4')
    city: str = ""
    postal_code: str = ""
    state: str = ""
    country: str = ""
    birthdate: str = ""  # YYYYMMDD
    national_id: str = ""
    account_id: str = ""
    created: str = ""
    # what `field:exact` compares, per canonical field present
    exact: dict[str, str] = field(default_factory=dict)
    # generic text fields (unknown names), text_key-normalised
    extra: dict[str, str] = field(default_factory=dict)
    # the values as given, for explanations and the AI mode
    display: dict[str, str] = field(default_factory=dict)

    @property
    def phone(self) -> str:
        return self.phones[0] if self.phones else ""

    def value(self, name: str) -> str:
        """The normalised value of a canonical field, as `eq`/`contains` compare it."""
        if name == "name":
            return self.full_name if self.person else self.company
        if name == "name_company":
            return f"{self.full_name} @ {self.company}" if self.person else self.company
        if name == "first_name":
            return self.first
        if name == "last_name":
            return self.last
        if name == "phone":
            return self.phone
        if name == "website":
            return self.domain
        if name == "street_number":
            head = self.street.split()[0] if self.street else ""
            return head if head[:1].isdigit() else ""
        if name in FIELD_ALIASES:
            return str(getattr(self, name))
        return self.extra.get(name, "")


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Parent fields come nested ({"Account": {"Name": ...}}): flattened to 'account.name'."""
    flat: dict[str, str] = {}
    for key, value in record.items():
        if key == "attributes" or value is None:
            continue
        name = f"{prefix}{key}".lower()
        if type(value) is str:  # the common case (CSV rows): no ABC instance checks
            if text := value.strip():
                flat[name] = text
        elif isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            continue
        else:
            text = str(value).strip()
            if text:
                flat[name] = text
    return flat


IGNORED = frozenset({
    "id", "isdeleted", "createddate", "systemmodstamp", "lastmodifieddate", "lastmodifiedbyid",
    "createdbyid", "ownerid", "accountid", "isconverted", "account.id",
})  # fmt: skip


def build_profile(
    record: Mapping[str, Any], sobject: str, *, record_id: str | None = None, region: str = "US"
) -> Profile:
    flat = _flatten(record)
    obj = sobject.lower()
    person = obj in PERSON_OBJECTS
    values: dict[str, str] = {}
    phones: list[str] = []
    extra: dict[str, str] = {}
    display: dict[str, str] = {}
    for key, raw in flat.items():
        if key in IGNORED:
            continue
        name = _ALIAS_TO_FIELD.get(key)
        if name == "phone":
            phones.append(raw)
            display.setdefault("phone", raw)
        elif name is not None:
            values.setdefault(name, raw)
            display.setdefault(name, raw)
        else:
            extra[key] = nz.text_key(raw)
            display[key] = raw
    profile = Profile(
        id=str(record_id or flat.get("id", "")),
        object=obj,
        person=person,
        account_id=flat.get("accountid", ""),
        created=flat.get("createddate", ""),
        extra={k: v for k, v in extra.items() if v},
        display=display,
    )
    first, last = nz.person_part(values.get("first_name")), nz.person_part(values.get("last_name"))
    company_raw = values.get("company", "")
    if person:
        if not (first or last) and values.get("name"):
            first, last = nz.split_full_name(values["name"])
    elif not company_raw:
        company_raw = values.get("name", "")
    profile.first, profile.last = first, last
    profile.given = first.split()[0] if first else ""
    profile.first_forms = nz.first_name_forms(first)
    profile.full_name = f"{first} {last}".strip()
    profile.company = nz.company_key(company_raw) if company_raw else ""
    profile.company_acronym = nz.acronym(profile.company)
    email = nz.email_key(values.get("email", ""))
    profile.email = email
    explicit_domain = nz.registrable_domain(values.get("domain", "")) if "domain" in values else ""
    if explicit_domain and nz.is_free_mail(explicit_domain):
        explicit_domain = ""
    profile.domain = explicit_domain or nz.company_domain(email, values.get("website", ""))
    profile.phones = tuple(dict.fromkeys(p for p in (nz.phone_key(x, region) for x in phones) if p))
    # The house number belongs to the street ('12 Main St'), wherever a file keeps it.
    street = " ".join(v for v in (values.get("street_number"), values.get("street")) if v)
    profile.street = nz.text_key(street)
    profile.address_2 = nz.text_key(values.get("address_2"))
    profile.city = nz.text_key(values.get("city"))
    profile.postal_code = nz.postal_key(values.get("postal_code"))
    profile.state = nz.text_key(values.get("state"))
    profile.country = nz.text_key(values.get("country"))
    profile.birthdate = nz.date_key(values.get("birthdate"))
    profile.national_id = nz.id_key(values.get("national_id"))
    exact = {name: nz.exact_key(raw) for name, raw in values.items()}
    if phones:
        exact["phone"] = nz.exact_key(phones[0])
    if person and "name" not in exact and (first or last):
        exact["name"] = nz.exact_key(
            f"{values.get('first_name', '')} {values.get('last_name', '')}"
        )
    if not person and "name" not in exact and company_raw:
        exact["name"] = nz.exact_key(company_raw)
    exact.update({k: nz.exact_key(flat[k]) for k in extra if k in flat})
    profile.exact = exact
    return profile
