"""The records a run works on, in one shape: Salesforce records fetched through the gateway
(one query per object per chunk) or inline records from the request.

People come from Leads (`00Q`) and Contacts (`003`, company from the parent Account); companies
from Accounts (`001`). Missing values are None; LinkedIn has no standard Salesforce field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from bridge.salesforce import ids as sf_ids
from bridge.salesforce.errors import InvalidId

PERSON_KEYS = (
    "id",
    "first_name",
    "last_name",
    "company_name",
    "company_url",
    "linkedin",
    "email",
    "phone",
    "country",
)
COMPANY_KEYS = ("id", "company_name", "company_url", "phone", "industry", "country")

# object -> (SOQL fields, field -> canonical key)
SOURCES: dict[str, tuple[list[str], dict[str, str]]] = {
    "Lead": (
        ["Id", "FirstName", "LastName", "Company", "Website", "Email", "Phone", "Country"],
        {
            "Id": "id",
            "FirstName": "first_name",
            "LastName": "last_name",
            "Company": "company_name",
            "Website": "company_url",
            "Email": "email",
            "Phone": "phone",
            "Country": "country",
        },
    ),
    "Contact": (
        ["Id", "FirstName", "LastName", "Email", "Phone", "Account.Name", "Account.Website"],
        {
            "Id": "id",
            "FirstName": "first_name",
            "LastName": "last_name",
            "Email": "email",
            "Phone": "phone",
            "Account.Name": "company_name",
            "Account.Website": "company_url",
        },
    ),
    "Account": (
        ["Id", "Name", "Website", "Phone", "Industry", "BillingCountry"],
        {
            "Id": "id",
            "Name": "company_name",
            "Website": "company_url",
            "Phone": "phone",
            "Industry": "industry",
            "BillingCountry": "country",
        },
    ),
}
OBJECTS_FOR = {"person": ("Lead", "Contact"), "company": ("Account",)}
# Inline records may use a few obvious aliases of the CSV columns.
ALIASES = {
    "company": "company_name",
    "name": "company_name",
    "domain": "company_url",
    "website": "company_url",
    "company_domain": "company_url",
    "linkedin_id": "linkedin",
    "phone_number": "phone",
}


class RecordFetcher(Protocol):
    def fetch(
        self, sobject: str, record_ids: Iterable[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]: ...


def object_of(record_id: str, entity_type: str) -> str | None:
    """The object an id belongs to among those allowed for the entity type; None: not valid."""
    try:
        full = sf_ids.to_18(record_id)
    except InvalidId:
        return None
    for sobject in OBJECTS_FOR[entity_type]:
        if full.startswith(sf_ids.key_prefix(sobject) or "\0"):
            return sobject
    return None


def fetch(
    fetcher: RecordFetcher, entity_type: str, refs: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Canonical records by the ref they were asked for (absent: unknown or deleted)."""
    by_object: dict[str, dict[str, str]] = {}
    for ref in refs:
        sobject = object_of(ref, entity_type)
        if sobject is not None:
            by_object.setdefault(sobject, {})[sf_ids.to_18(ref)] = ref
    found: dict[str, dict[str, Any]] = {}
    for sobject, wanted in by_object.items():
        fields, mapping = SOURCES[sobject]
        for raw in fetcher.fetch(sobject, list(wanted), fields):
            record = canonical_from_salesforce(raw, mapping, entity_type)
            ref = wanted.get(str(raw.get("Id")))
            if ref is not None:
                found[ref] = record
    return found


def canonical_from_salesforce(
    raw: Mapping[str, Any], mapping: Mapping[str, str], entity_type: str
) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(_keys(entity_type))
    for path, key in mapping.items():
        value: Any = raw
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        out[key] = _clean(value)
    return out


def canonical_from_inline(record: Mapping[str, Any], entity_type: str) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(_keys(entity_type))
    for name, value in record.items():
        key = ALIASES.get(name, name)
        if key in out and out[key] is None:
            out[key] = _clean(value)
    return out


def _keys(entity_type: str) -> tuple[str, ...]:
    return PERSON_KEYS if entity_type == "person" else COMPANY_KEYS


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None
