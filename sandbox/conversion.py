"""Lead conversion, as the SOAP `convertLead` call does it.

Per lead: check it (exists, not converted), `convertedStatus` (a LeadStatus with
IsConverted = true) and the owner (active); use the given account/contact, filling only their
empty fields (LeadSource too when `overwriteLeadSource`), or create them from the lead; create an
opportunity unless `doNotCreateOpportunity`; mark the lead converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.errors import SalesforceError
from sandbox.records import RecordTransaction

LEAD_TO_ACCOUNT = {
    "Company": "Name", "Website": "Website", "Phone": "Phone", "Industry": "Industry",
    "NumberOfEmployees": "NumberOfEmployees", "AnnualRevenue": "AnnualRevenue",
    "Street": "BillingStreet", "City": "BillingCity", "State": "BillingState",
    "PostalCode": "BillingPostalCode", "Country": "BillingCountry",
    "Description": "Description",
}  # fmt: skip
LEAD_TO_CONTACT = {
    "FirstName": "FirstName", "LastName": "LastName", "Email": "Email", "Phone": "Phone",
    "MobilePhone": "MobilePhone", "Title": "Title", "Street": "MailingStreet",
    "City": "MailingCity", "State": "MailingState", "PostalCode": "MailingPostalCode",
    "Country": "MailingCountry", "Description": "Description",
}  # fmt: skip
SOURCE_FIELD = {"Account": "AccountSource", "Contact": "LeadSource"}


@dataclass
class LeadConvert:
    """One `LeadConvert` element (field names as in the partner WSDL)."""

    leadId: str | None = None
    convertedStatus: str | None = None
    accountId: str | None = None
    contactId: str | None = None
    ownerId: str | None = None
    opportunityName: str | None = None
    doNotCreateOpportunity: bool = False
    overwriteLeadSource: bool = False
    sendNotificationEmail: bool = False


def _missing(name: str) -> SalesforceError:
    return SalesforceError("REQUIRED_FIELD_MISSING", f"Required field is missing: {name}", [name])


def _bad_reference(name: str) -> SalesforceError:
    return SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])


def _end_of_quarter(today: date) -> date:
    month = ((today.month - 1) // 3 + 1) * 3
    next_first = date(today.year + (month == 12), 1 if month == 12 else month + 1, 1)
    return next_first - timedelta(days=1)


def _custom_mapping(tx: RecordTransaction, target: str) -> dict[str, str]:
    lead = tx.object("Lead")
    other = tx.object(target)
    return {
        name: name
        for name, f in lead.fields.items()
        if f.custom and name in other.fields and other.fields[name].type == f.type
    }


def _values(lead: dict[str, Any], mapping: dict[str, str], tx: RecordTransaction,
            target: str) -> dict[str, Any]:  # fmt: skip
    obj = tx.object(target)
    lead_obj = tx.object("Lead")
    out: dict[str, Any] = {}
    for source, dest in {**mapping, **_custom_mapping(tx, target)}.items():
        value = lead.get(source)
        if value is None:
            continue
        if lead_obj.fields[source].type == "boolean":
            value = bool(value)
        if obj.fields[dest].type == "reference" or lead_obj.fields[source].type == "reference":
            continue
        out[dest] = value
    return out


def _fill(tx: RecordTransaction, target: str, row: dict[str, Any], values: dict[str, Any],
          lead: dict[str, Any], overwrite_source: bool) -> None:  # fmt: skip
    changes = {k: v for k, v in values.items() if row.get(k) in (None, "") and k != "Name"}
    source_field = SOURCE_FIELD[target]
    if lead.get("LeadSource") and (overwrite_source or not row.get(source_field)):
        changes[source_field] = lead["LeadSource"]
    changes = {k: v for k, v in changes.items() if row.get(k) != v}
    if changes:
        tx.update(target, row["Id"], changes)


def convert_lead(tx: RecordTransaction, spec: LeadConvert) -> dict[str, Any]:
    """Convert one lead inside `tx`; raise SalesforceError for a per-lead failure."""
    if not spec.leadId:
        raise _missing("leadId")
    try:
        lead = tx.existing(tx.object("Lead"), spec.leadId)
    except SalesforceError:
        raise _bad_reference("leadId") from None
    if lead["IsConverted"]:
        raise SalesforceError(
            "CANNOT_UPDATE_CONVERTED_LEAD",
            f"This lead was already converted to the contact {lead['ConvertedContactId']}.",
            ["leadId"],
        )
    if not spec.convertedStatus:
        raise _missing("convertedStatus")
    statuses = {s.lower(): s for s in tx.db.converted_statuses()}
    status = statuses.get(spec.convertedStatus.lower())
    if status is None:
        raise SalesforceError(
            "INVALID_STATUS",
            f"invalid convertedStatus: {spec.convertedStatus}",
            ["convertedStatus"],
        )
    owner_id = spec.ownerId or lead["OwnerId"]
    try:
        owner = tx.existing(tx.object("User"), owner_id)
    except SalesforceError:
        raise _bad_reference("ownerId") from None
    if not owner["IsActive"]:
        raise SalesforceError(
            "INACTIVE_OWNER_OR_USER",
            f"operation performed with inactive user [{owner['Id']}] as owner of lead",
            ["ownerId"],
        )
    owner_id = owner["Id"]

    account_values = _values(lead, LEAD_TO_ACCOUNT, tx, "Account")
    if spec.accountId:
        try:
            account = tx.existing(tx.object("Account"), spec.accountId)
        except SalesforceError:
            raise _bad_reference("accountId") from None
        _fill(tx, "Account", account, account_values, lead, spec.overwriteLeadSource)
        account_id = str(account["Id"])
    else:
        if spec.contactId:
            raise _missing("accountId")
        if lead.get("LeadSource"):
            account_values["AccountSource"] = lead["LeadSource"]
        account_id = tx.create("Account", {**account_values, "OwnerId": owner_id})

    contact_values = _values(lead, LEAD_TO_CONTACT, tx, "Contact")
    if spec.contactId:
        try:
            contact = tx.existing(tx.object("Contact"), spec.contactId)
        except SalesforceError:
            raise _bad_reference("contactId") from None
        if contact.get("AccountId") not in (None, account_id):
            raise SalesforceError(
                "INVALID_CROSS_REFERENCE_KEY",
                "contactId: the contact is not associated with the specified account",
                ["contactId"],
            )
        if contact.get("AccountId") is None:
            contact_values["AccountId"] = account_id
        _fill(tx, "Contact", contact, contact_values, lead, spec.overwriteLeadSource)
        contact_id = str(contact["Id"])
    else:
        if lead.get("LeadSource"):
            contact_values["LeadSource"] = lead["LeadSource"]
        contact_id = tx.create(
            "Contact", {**contact_values, "AccountId": account_id, "OwnerId": owner_id}
        )

    opportunity_id = None
    if not spec.doNotCreateOpportunity:
        today = datetime.now(UTC).date()
        opportunity = {
            "Name": spec.opportunityName or f"{lead['Company']}-",
            "AccountId": account_id,
            "StageName": "Prospecting",
            "CloseDate": _end_of_quarter(today).isoformat(),
            "OwnerId": owner_id,
        }
        if lead.get("LeadSource"):
            opportunity["LeadSource"] = lead["LeadSource"]
        opportunity_id = tx.create("Opportunity", opportunity)

    tx.update(
        "Lead", lead["Id"],
        {"IsConverted": True, "Status": status, "ConvertedAccountId": account_id,
         "ConvertedContactId": contact_id, "ConvertedOpportunityId": opportunity_id,
         "ConvertedDate": datetime.now(UTC).date().isoformat(), "OwnerId": owner_id},
        system=True,
    )  # fmt: skip
    return {
        "accountId": account_id,
        "contactId": contact_id,
        "leadId": lead["Id"],
        "opportunityId": opportunity_id,
        "success": True,
        "errors": [],
    }
