"""Salesforce Outbound Messages: the SOAP `notifications` body in, the `Ack` out.

Parsed with defusedxml, so entity expansion and external entities are refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from bridge.salesforce.errors import InvalidId
from bridge.salesforce.ids import KEY_PREFIXES, normalize

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_NOTIFICATIONS = 100

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


class InvalidOutboundMessage(ValueError):
    pass


@dataclass(frozen=True)
class OutboundMessage:
    org_id: str
    action_id: str
    # object name -> record ids, in arrival order
    records: dict[str, list[str]]
    notification_ids: tuple[str, ...]

    @property
    def dedupe_key(self) -> str:
        """Salesforce resends the same notification ids until it gets an Ack."""
        digest = hashlib.sha256("|".join(sorted(self.notification_ids)).encode()).hexdigest()
        return f"outbound:{self.action_id}:{digest[:32]}"


def _text(parent: Element, name: str) -> str:
    child = parent.find(f"{{{OUTBOUND_NS}}}{name}")
    return (child.text or "").strip() if child is not None else ""


def parse(raw: bytes) -> OutboundMessage:
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise InvalidOutboundMessage(f"not a SOAP message: {exc}") from None
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise InvalidOutboundMessage("no notifications element")
    org_id = _text(notifications, "OrganizationId")
    try:
        org_id = normalize(org_id)
    except InvalidId:
        raise InvalidOutboundMessage("OrganizationId is not an org id") from None
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if not 1 <= len(items) <= MAX_NOTIFICATIONS:
        raise InvalidOutboundMessage(f"expected 1-{MAX_NOTIFICATIONS} notifications")
    records: dict[str, list[str]] = {}
    notification_ids = []
    for item in items:
        notification_ids.append(_text(item, "Id"))
        sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise InvalidOutboundMessage("notification without sObject")
        type_name = sobject.get(f"{{{XSI_NS}}}type", "").rsplit(":", 1)[-1]
        if type_name not in KEY_PREFIXES or type_name == "User":
            raise InvalidOutboundMessage(f"unsupported sObject type {type_name!r}")
        id_element = next((c for c in sobject if c.tag.rsplit("}", 1)[-1] == "Id"), None)
        raw_id = (id_element.text or "") if id_element is not None else ""
        try:
            record_id = normalize(raw_id, type_name)
        except InvalidId as exc:
            raise InvalidOutboundMessage(str(exc)) from None
        ids = records.setdefault(type_name, [])
        if record_id not in ids:
            ids.append(record_id)
    return OutboundMessage(
        org_id=org_id,
        action_id=_text(notifications, "ActionId"),
        records=records,
        notification_ids=tuple(notification_ids),
    )
