"""Lead conversion through the SOAP partner API `convertLead` (REST has no such resource).

`LeadConvert` is an `xsd:sequence`: Salesforce rejects elements out of order, so they are
written in exactly the WSDL's order. XML is built with ElementTree (values are escaped by the
serializer, never formatted into strings) and parsed with defusedxml (no entity expansion, no
external entities from whatever answers on the wire).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from defusedxml.ElementTree import fromstring as safe_fromstring

from bridge.salesforce import ids as sf_ids
from bridge.salesforce.collections import RecordError
from bridge.salesforce.errors import SalesforceError, error_for, is_lock_error
from bridge.salesforce.usage import Quota

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER_NS = "urn:partner.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_BATCH = 200  # Salesforce's limit per call
_CODE_PREFIX = re.compile(r"([A-Z][A-Z_]+[A-Z]):")
DEFAULT_BATCH = 100  # Salesforce's recommendation: fewer lock conflicts, shorter calls

# Readable prefixes in the envelope (ElementTree would write ns0/ns1 otherwise).
ET.register_namespace("soapenv", SOAP_NS)
ET.register_namespace("urn", PARTNER_NS)

# The xsd:sequence of LeadConvert, in order.
ELEMENT_ORDER = (
    "accountId",
    "contactId",
    "convertedStatus",
    "doNotCreateOpportunity",
    "leadId",
    "opportunityName",
    "overwriteLeadSource",
    "ownerId",
    "sendNotificationEmail",
)


@dataclass(frozen=True)
class LeadConvert:
    """One lead to convert. Ids are checked against their object's key prefix.

    `converted_status` None means "the org's converted status" (the gateway looks it up).
    Pass `account_id`/`contact_id` to convert into existing records.
    """

    lead_id: str
    converted_status: str | None = None
    account_id: str | None = None
    contact_id: str | None = None
    do_not_create_opportunity: bool = False
    opportunity_name: str | None = None
    overwrite_lead_source: bool = False
    owner_id: str | None = None
    send_notification_email: bool = False

    def elements(self) -> list[tuple[str, str]]:
        """(name, text) pairs in sequence order; optional ids left out when unset."""
        if not self.converted_status:
            raise ValueError("convertedStatus is required")
        values: dict[str, str | None] = {
            "accountId": _id_or_none(self.account_id, "Account"),
            "contactId": _id_or_none(self.contact_id, "Contact"),
            "convertedStatus": self.converted_status,
            "doNotCreateOpportunity": _bool(self.do_not_create_opportunity),
            "leadId": sf_ids.normalize(self.lead_id, "Lead"),
            "opportunityName": self.opportunity_name,
            "overwriteLeadSource": _bool(self.overwrite_lead_source),
            "ownerId": _id_or_none(self.owner_id, "User"),
            "sendNotificationEmail": _bool(self.send_notification_email),
        }
        return [(name, values[name]) for name in ELEMENT_ORDER if values[name] is not None]  # type: ignore[misc]


@dataclass(frozen=True)
class LeadConvertResult:
    lead_id: str | None
    success: bool
    account_id: str | None = None
    contact_id: str | None = None
    opportunity_id: str | None = None
    errors: tuple[RecordError, ...] = ()

    @property
    def is_lock_failure(self) -> bool:
        return not self.success and any(
            is_lock_error(e.status_code, e.message) for e in self.errors
        )


def _id_or_none(value: str | None, sobject: str) -> str | None:
    return sf_ids.normalize(value, sobject) if value else None


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def build_envelope(session_id: str, converts: Sequence[LeadConvert]) -> bytes:
    """The SOAP request body. Contains the session id: never log it."""
    if not converts:
        raise ValueError("nothing to convert")
    if len(converts) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} leads per convertLead call")
    envelope = ET.Element(_q(SOAP_NS, "Envelope"))
    header = ET.SubElement(envelope, _q(SOAP_NS, "Header"))
    session_header = ET.SubElement(header, _q(PARTNER_NS, "SessionHeader"))
    ET.SubElement(session_header, _q(PARTNER_NS, "sessionId")).text = session_id
    body = ET.SubElement(envelope, _q(SOAP_NS, "Body"))
    call = ET.SubElement(body, _q(PARTNER_NS, "convertLead"))
    for convert in converts:
        item = ET.SubElement(call, _q(PARTNER_NS, "leadConverts"))
        for name, text in convert.elements():
            ET.SubElement(item, _q(PARTNER_NS, name)).text = text
    return bytes(ET.tostring(envelope, encoding="utf-8", xml_declaration=True))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: ET.Element, name: str) -> str | None:
    child = _child(element, name)
    if child is None or child.get(_q(XSI_NS, "nil")) == "true":
        return None
    text = (child.text or "").strip()
    return text or None


def _parse(body: bytes | str) -> ET.Element:
    try:
        root: ET.Element = safe_fromstring(body)
    except Exception as exc:  # defusedxml raises ParseError and its own security errors
        raise SalesforceError(
            f"unreadable SOAP response: {type(exc).__name__}", operation="convert_leads"
        ) from exc
    return root


def _body(root: ET.Element) -> ET.Element:
    body = _child(root, "Body")
    if _local(root.tag) != "Envelope" or body is None:
        raise SalesforceError("SOAP response without Envelope/Body", operation="convert_leads")
    return body


def parse_fault(body: bytes | str, status: int | None = None) -> SalesforceError | None:
    """A SOAP fault as our exception (class picked by fault code), or None when no fault."""
    try:
        root = safe_fromstring(body)
    except Exception:
        return None
    envelope_body = _child(root, "Body")
    fault = _child(envelope_body, "Fault") if envelope_body is not None else None
    if fault is None:
        return None
    code = _text(fault, "faultcode") or ""
    message = _text(fault, "faultstring") or code
    detail = _child(fault, "detail")
    exception_code = None
    if detail is not None:
        for element in detail.iter():
            if _local(element.tag) == "exceptionCode" and element.text:
                exception_code = element.text.strip()
                break
    # faultcode is prefixed ("sf:INVALID_SESSION_ID"); generic ones ("soapenv:Client") are not
    # Salesforce codes: then the detail's exceptionCode, or the faultstring's "CODE: ..." prefix.
    prefix, _, local = code.rpartition(":")
    if prefix.lower() in ("soapenv", "soap", "env") and not exception_code:
        match = _CODE_PREFIX.match(message)
        exception_code = match.group(1) if match else None
    error_code = exception_code or local or None
    return error_for(
        status,
        error_code,
        message,
        operation="convert_leads",
        http_status_is_meaningful=False,
    )


def parse_limit_info(body: bytes | str) -> Quota | None:
    """The SOAP `LimitInfoHeader` (API REQUESTS current/limit), if the response has one."""
    try:
        root = safe_fromstring(body)
    except Exception:
        return None
    header = _child(root, "Header")
    if header is None:
        return None
    for element in header.iter():
        if _local(element.tag) != "limitInfo":
            continue
        if (_text(element, "type") or "").upper() != "API REQUESTS":
            continue
        current, limit = _text(element, "current"), _text(element, "limit")
        if current and limit and current.isdigit() and limit.isdigit():
            return Quota(int(current), int(limit))
    return None


def parse_response(body: bytes | str, expected: int) -> list[LeadConvertResult]:
    """One `LeadConvertResult` per input, in input order."""
    root = _parse(body)
    envelope_body = _body(root)
    response = _child(envelope_body, "convertLeadResponse")
    if response is None:
        fault = parse_fault(body)
        raise fault or SalesforceError(
            "SOAP response without convertLeadResponse", operation="convert_leads"
        )
    results = []
    for item in _children(response, "result"):
        errors = tuple(
            RecordError(
                status_code=_text(error, "statusCode") or "UNKNOWN",
                message=_text(error, "message") or "",
                fields=tuple((f.text or "").strip() for f in _children(error, "fields") if f.text),
            )
            for error in _children(item, "errors")
        )
        results.append(
            LeadConvertResult(
                lead_id=_text(item, "leadId"),
                success=(_text(item, "success") or "").lower() == "true",
                account_id=_text(item, "accountId"),
                contact_id=_text(item, "contactId"),
                opportunity_id=_text(item, "opportunityId"),
                errors=errors,
            )
        )
    if len(results) != expected:
        raise SalesforceError(
            f"expected {expected} LeadConvertResult elements, got {len(results)}",
            operation="convert_leads",
        )
    return results
