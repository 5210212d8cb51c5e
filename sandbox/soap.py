"""SOAP partner API: `convertLead` at `/services/Soap/u/{version}`.

Parsed with defusedxml (no DTDs, no entity expansion). The session is the OAuth access token in
`SessionHeader/sessionId`. `LeadConvert` children must follow the WSDL's xsd:sequence order.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from aiohttp import web
from defusedxml import DefusedXmlException

from sandbox.conversion import LeadConvert, convert_lead
from sandbox.errors import SalesforceError
from sandbox.faults import lock_error
from sandbox.state import SandboxState

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER = "urn:partner.soap.sforce.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
LEAD_CONVERT_ORDER = (
    "accountId", "contactId", "convertedStatus", "doNotCreateOpportunity", "leadId",
    "opportunityName", "overwriteLeadSource", "ownerId", "sendNotificationEmail",
)  # fmt: skip
BOOLEAN_ELEMENTS = {"doNotCreateOpportunity", "overwriteLeadSource", "sendNotificationEmail"}
MAX_CONVERTS = 200


class SoapClientError(SalesforceError):
    """A malformed request: answered with faultcode soapenv:Client."""

    def __init__(self, message: str) -> None:
        super().__init__("INVALID_XML", message, status=500)


def fault_response(error: SalesforceError) -> web.Response:
    if isinstance(error, SoapClientError):
        faultcode, detail = "soapenv:Client", ""
    else:
        faultcode = f"sf:{error.error_code}"
        detail = (
            '<detail><sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault">'
            f"<sf:exceptionCode>{escape(error.error_code)}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(error.message)}</sf:exceptionMessage>"
            "</sf:UnexpectedErrorFault></detail>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
        f'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="{XSI}">'
        f"<soapenv:Body><soapenv:Fault><faultcode>{faultcode}</faultcode>"
        f"<faultstring>{escape(error.error_code)}: {escape(error.message)}</faultstring>"
        f"{detail}</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return web.Response(text=body, status=500, content_type="text/xml", charset="utf-8")


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _parse(text: str) -> Element:
    try:
        return SafeET.fromstring(text, forbid_dtd=True)
    except DefusedXmlException as error:
        raise SoapClientError(f"Forbidden XML construct: {type(error).__name__}") from None
    except SafeET.ParseError as error:
        raise SoapClientError(f"Could not parse request: {error}") from None


def session_id(envelope: Element) -> str | None:
    node = envelope.find(f"{{{SOAP_ENV}}}Header/{{{PARTNER}}}SessionHeader/{{{PARTNER}}}sessionId")
    return node.text.strip() if node is not None and node.text else None


async def session_id_from_request(request: web.Request) -> str | None:
    try:
        return session_id(_parse(await request.text()))
    except SalesforceError:
        return None


def _is_nil(node: Element) -> bool:
    return node.get(f"{{{XSI}}}nil") in ("true", "1")


def parse_lead_convert(node: Element) -> LeadConvert:
    spec = LeadConvert()
    last = -1
    for child in node:
        ns, name = _local(child.tag)
        if ns != PARTNER or name not in LEAD_CONVERT_ORDER:
            raise SoapClientError(
                f"Unexpected element {child.tag} during simple type deserialization"
            )
        position = LEAD_CONVERT_ORDER.index(name)
        if position <= last:
            raise SoapClientError(
                f"Unexpected element {{{PARTNER}}}{name} during simple type deserialization"
            )
        last = position
        text = None if _is_nil(child) else (child.text or "").strip()
        if name in BOOLEAN_ELEMENTS:
            if text not in (None, "true", "false", "1", "0"):
                raise SoapClientError(f"'{text}' is not a valid value for the type xsd:boolean")
            setattr(spec, name, text in ("true", "1"))
        else:
            setattr(spec, name, text or None)
    return spec


def _result_xml(result: dict[str, Any]) -> str:
    def element(name: str, value: Any) -> str:
        if value is None:
            return f'<{name} xsi:nil="true"/>'
        return f"<{name}>{escape(str(value))}</{name}>"

    errors = "".join(
        "<errors>"
        + "".join(f"<fields>{escape(f)}</fields>" for f in error["fields"])
        + f"<message>{escape(error['message'])}</message>"
        + f"<statusCode>{escape(error['statusCode'])}</statusCode></errors>"
        for error in result["errors"]
    )
    return (
        "<result>"
        + element("accountId", result["accountId"])
        + element("contactId", result["contactId"])
        + errors
        + element("leadId", result["leadId"])
        + element("opportunityId", result["opportunityId"])
        + f"<success>{'true' if result['success'] else 'false'}</success></result>"
    )


def _envelope(state: SandboxState, inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns="{PARTNER}" xmlns:xsi="{XSI}">'
        "<soapenv:Header><LimitInfoHeader><limitInfo>"
        f"<current>{state.usage.used}</current><limit>{state.usage.limit}</limit>"
        "<type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header>"
        f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
    )


def _failed(spec: LeadConvert, error: SalesforceError) -> dict[str, Any]:
    return {"accountId": None, "contactId": None, "leadId": spec.leadId, "opportunityId": None,
            "success": False, "errors": [error.record_error()]}  # fmt: skip


async def soap_endpoint(request: web.Request) -> web.Response:
    state: SandboxState = request.app["sandbox"]
    envelope = _parse(await request.text())
    if _local(envelope.tag) != (SOAP_ENV, "Envelope"):
        raise SoapClientError("Expected a SOAP 1.1 Envelope")
    token = session_id(envelope)
    try:
        session = state.sessions.lookup(token)
    except SalesforceError:
        raise SalesforceError(
            "INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal Session"
        ) from None
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    operation = body[0] if body is not None and len(body) else None
    if operation is None:
        raise SoapClientError("No operation in the SOAP Body")
    if _local(operation.tag) != (PARTNER, "convertLead"):
        raise SoapClientError(f"No operation available for request {operation.tag}")
    state.usage.consume()
    nodes = operation.findall(f"{{{PARTNER}}}leadConverts")
    if len(nodes) > MAX_CONVERTS:
        raise SalesforceError(
            "LIMIT_EXCEEDED", f"Limit Exceeded : Exceeded max size limit of {MAX_CONVERTS}"
        )
    specs = [parse_lead_convert(node) for node in nodes]
    record_fault = request.get("record_fault")
    results: list[dict[str, Any]] = []
    with state.write(session.user_id) as tx:
        for index, spec in enumerate(specs):
            try:
                with tx.savepoint():
                    if record_fault is not None and state.faults.record_fails(record_fault, index):
                        raise lock_error(spec.leadId)
                    results.append(convert_lead(tx, spec))
            except SalesforceError as error:
                results.append(_failed(spec, error))
    inner = "<convertLeadResponse>" + "".join(map(_result_xml, results)) + "</convertLeadResponse>"
    return web.Response(text=_envelope(state, inner), content_type="text/xml", charset="utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_post(r"/services/Soap/u/{version:\d+\.\d}{slash:/?}", soap_endpoint)
