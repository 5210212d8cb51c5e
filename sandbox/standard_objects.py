"""Standard objects of the sandbox org: User, Account, Contact, Lead, Opportunity, LeadStatus."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.schema import FieldDef, ObjectDef

INDUSTRIES = (
    "Agriculture", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction",
    "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment",
    "Finance", "Healthcare", "Hospitality", "Insurance", "Manufacturing", "Media",
    "Retail", "Technology", "Telecommunications", "Transportation", "Other",
)  # fmt: skip
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES = (
    # ApiName, IsConverted, IsDefault
    ("Open - Not Contacted", False, True),
    ("Working - Contacted", False, False),
    ("Closed - Converted", True, False),
    ("Closed - Not Converted", False, False),
)
STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
    "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won",
    "Closed Lost",
)  # fmt: skip


def _f(name: str, ftype: str = "string", label: str | None = None, **kw: Any) -> FieldDef:
    from sandbox.schema import TEXT_TYPES, FieldDef

    if "length" not in kw:
        kw["length"] = {"id": 18, "reference": 18, "textarea": 32000}.get(
            ftype, 255 if ftype in TEXT_TYPES else 0
        )
    return FieldDef(name=name, type=ftype, label=label or name, **kw)


def _ref(name: str, target: str, relationship: str, **kw: Any) -> FieldDef:
    return _f(name, "reference", reference_to=target, relationship_name=relationship, **kw)


def _system(owner: bool) -> list[FieldDef]:
    ro = {"createable": False, "updateable": False, "nillable": False}
    fields = [
        _f("Id", "id", "Record ID", **ro),
        _f("IsDeleted", "boolean", "Deleted", **ro),
        _f("CreatedDate", "datetime", "Created Date", **ro),
        _ref("CreatedById", "User", "CreatedBy", label="Created By ID", **ro),
        _f("LastModifiedDate", "datetime", "Last Modified Date", **ro),
        _ref("LastModifiedById", "User", "LastModifiedBy", label="Last Modified By ID", **ro),
        _f("SystemModstamp", "datetime", "System Modstamp", **ro),
    ]
    if owner:
        fields.append(_ref("OwnerId", "User", "Owner", label="Owner ID", nillable=False))
    return fields


def _person_name() -> list[FieldDef]:
    return [
        _f("FirstName", label="First Name", length=40),
        _f("LastName", label="Last Name", length=80, nillable=False),
        _f("Name", label="Full Name", createable=False, updateable=False, computed=True),
    ]


def _address(prefix: str) -> list[FieldDef]:
    return [
        _f(f"{prefix}Street", "textarea", f"{prefix} Street".strip(), length=255),
        _f(f"{prefix}City", label=f"{prefix} City".strip(), length=40),
        _f(f"{prefix}State", label=f"{prefix} State".strip(), length=80),
        _f(f"{prefix}PostalCode", label=f"{prefix} Zip".strip(), length=20),
        _f(f"{prefix}Country", label=f"{prefix} Country".strip(), length=80),
    ]


def _object(name: str, prefix: str, plural: str, fields: list[FieldDef], **kw: Any) -> ObjectDef:
    from sandbox.schema import ObjectDef

    return ObjectDef(name, prefix, name, plural, {f.name: f for f in fields}, **kw)


def user() -> ObjectDef:
    fields = _system(owner=False)
    fields += [
        _f("Username", label="Username", length=80, nillable=False),
        *_person_name(),
        _f("Email", "email", nillable=False, length=128),
        _f("Alias", length=8),
        _f("Title", length=80),
        _f("Department", length=80),
        _f("CompanyName", label="Company Name", length=80),
        _f("IsActive", "boolean", "Active", nillable=False, default=True),
        _f("TimeZoneSidKey", label="Time Zone", length=40, default="America/Los_Angeles"),
    ]
    return _object("User", "005", "Users", fields, has_owner=False)


def account() -> ObjectDef:
    fields = _system(owner=True)
    fields += [
        _f("Name", label="Account Name", nillable=False),
        _f("Website", "url"),
        _f("Phone", "phone", length=40),
        _f("Industry", "picklist", picklist_values=INDUSTRIES),
        _f("Type", "picklist", picklist_values=("Prospect", "Customer", "Partner", "Other")),
        _f("NumberOfEmployees", "int", "Employees"),
        _f("AnnualRevenue", "currency", "Annual Revenue"),
        _f("AccountSource", "picklist", "Account Source", picklist_values=LEAD_SOURCES),
        _f("Description", "textarea"),
        _ref("ParentId", "Account", "Parent", label="Parent Account ID"),
        *_address("Billing"),
    ]
    return _object("Account", "001", "Accounts", fields)


def contact() -> ObjectDef:
    fields = _system(owner=True)
    fields += [
        *_person_name(),
        _ref("AccountId", "Account", "Account", label="Account ID"),
        _f("Email", "email", length=80),
        _f("Phone", "phone", length=40),
        _f("MobilePhone", "phone", "Mobile Phone", length=40),
        _f("Title", length=128),
        _f("Department", length=80),
        _f("LeadSource", "picklist", "Lead Source", picklist_values=LEAD_SOURCES),
        _f("Description", "textarea"),
        *_address("Mailing"),
    ]
    return _object("Contact", "003", "Contacts", fields)


def lead() -> ObjectDef:
    ro = {"createable": False, "updateable": False}
    statuses = tuple(s[0] for s in LEAD_STATUSES)
    fields = _system(owner=True)
    fields += [
        *_person_name(),
        _f("Company", nillable=False),
        _f("Email", "email", length=80),
        _f("Phone", "phone", length=40),
        _f("MobilePhone", "phone", "Mobile Phone", length=40),
        _f("Title", length=128),
        _f("Website", "url"),
        _f("Industry", "picklist", picklist_values=INDUSTRIES),
        _f("NumberOfEmployees", "int", "Employees"),
        _f("AnnualRevenue", "currency", "Annual Revenue"),
        _f("LeadSource", "picklist", "Lead Source", picklist_values=LEAD_SOURCES),
        _f("Status", "picklist", "Lead Status", nillable=False, default=statuses[0],
           picklist_values=statuses),
        _f("Rating", "picklist", picklist_values=("Hot", "Warm", "Cold")),
        _f("Description", "textarea"),
        *_address(""),
        _f("IsConverted", "boolean", "Converted", nillable=False, default=False, **ro),
        _f("ConvertedDate", "date", "Converted Date", **ro),
        _ref("ConvertedAccountId", "Account", "ConvertedAccount", **ro),
        _ref("ConvertedContactId", "Contact", "ConvertedContact", **ro),
        _ref("ConvertedOpportunityId", "Opportunity", "ConvertedOpportunity", **ro),
    ]  # fmt: skip
    return _object("Lead", "00Q", "Leads", fields)


def opportunity() -> ObjectDef:
    fields = _system(owner=True)
    fields += [
        _f("Name", label="Opportunity Name", length=120, nillable=False),
        _ref("AccountId", "Account", "Account", label="Account ID"),
        _f("StageName", "picklist", "Stage", nillable=False, picklist_values=STAGES),
        _f("CloseDate", "date", "Close Date", nillable=False),
        _f("Amount", "currency"),
        _f("Probability", "percent", "Probability (%)"),
        _f("LeadSource", "picklist", "Lead Source", picklist_values=LEAD_SOURCES),
        _f("Type", "picklist", picklist_values=("New Customer", "Existing Customer")),
        _f("Description", "textarea"),
    ]
    return _object("Opportunity", "006", "Opportunities", fields)


def lead_status() -> ObjectDef:
    ro = {"createable": False, "updateable": False}
    fields = _system(owner=False)
    fields += [
        _f("ApiName", label="API Name", **ro),
        _f("MasterLabel", label="Master Label", **ro),
        _f("IsConverted", "boolean", "Is Converted", nillable=False, default=False, **ro),
        _f("IsDefault", "boolean", "Is Default", nillable=False, default=False, **ro),
        _f("SortOrder", "int", "Sort Order", **ro),
    ]
    return _object("LeadStatus", "01J", "Lead Status Values", fields, createable=False,
                   has_owner=False)  # fmt: skip


STANDARD_OBJECTS: dict[str, Callable[[], ObjectDef]] = {
    "User": user,
    "Account": account,
    "Contact": contact,
    "Lead": lead,
    "Opportunity": opportunity,
    "LeadStatus": lead_status,
}
