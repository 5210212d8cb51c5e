"""Field snapshots and diffs around a conversion: what changed on the lead, and on the account
and contact it went into. Merges cannot be undone in Salesforce, so the route log keeps them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Standard fields convertLead reads or writes (Salesforce's lead field mapping plus owner and
# source); every org has them, so no describe call is needed.
ACCOUNT_FIELDS = (
    "Id", "Name", "Website", "Phone", "Industry", "NumberOfEmployees", "AnnualRevenue",
    "BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry",
    "Description", "AccountSource", "OwnerId",
)  # fmt: skip
CONTACT_FIELDS = (
    "Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title", "MailingStreet",
    "MailingCity", "MailingState", "MailingPostalCode", "MailingCountry", "Description",
    "LeadSource", "AccountId", "OwnerId",
)  # fmt: skip
LEAD_STATE_FIELDS = (
    "Status", "IsConverted", "ConvertedAccountId", "ConvertedContactId",
    "ConvertedOpportunityId", "ConvertedDate", "OwnerId",
)  # fmt: skip
# What the pre-check needs from the lead (its own fields are the match candidate).
LEAD_FIELDS = (
    "Id", "FirstName", "LastName", "Company", "Email", "Phone", "MobilePhone", "Website",
    "Street", "City", "State", "PostalCode", "Country", "LeadSource", *LEAD_STATE_FIELDS,
)  # fmt: skip
FIELDS = {"Account": ACCOUNT_FIELDS, "Contact": CONTACT_FIELDS, "Lead": LEAD_FIELDS}


def snapshot(record: Mapping[str, Any] | None, fields: Iterable[str]) -> dict[str, Any]:
    if record is None:
        return {}
    return {f: record.get(f) for f in fields if f != "Id"}


def field_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{field: {"old", "new"}}` for every field whose value changed (a created record: all
    non-empty fields, old None)."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new and not (old in (None, "") and new in (None, "")):
            out[name] = {"old": old, "new": new}
    return out


def by_id(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r["Id"]): dict(r) for r in rows}
