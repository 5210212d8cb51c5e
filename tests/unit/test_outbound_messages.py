"""Outbound Message parsing: the SOAP shape Salesforce sends, and hostile XML refused."""

from __future__ import annotations

import pytest

from bridge.triggers.outbound import ACK, InvalidOutboundMessage, parse

LEAD_1 = "00Q5g00000AbCdEEAV"


def message(*ids: str, sobject: str = "Lead", org: str = "00D5g000004bQ2KEAU") -> bytes:
    notes = "".join(
        f"""<Notification><Id>04l5g00000{n:08d}</Id>
        <sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
        <sf:Id>{i}</sf:Id><sf:Email>x@y.com</sf:Email></sObject></Notification>"""
        for n, i in enumerate(ids)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">
  <OrganizationId>{org}</OrganizationId><ActionId>04k5g000000Abc1AAC</ActionId>
  <SessionId xsi:nil="true"/><EnterpriseUrl>https://x/services/Soap/c/60.0</EnterpriseUrl>
  <PartnerUrl>https://x/services/Soap/u/60.0</PartnerUrl>{notes}
 </notifications></soapenv:Body></soapenv:Envelope>""".encode()


def test_parses_ids_per_object_and_dedupe_key_is_stable() -> None:
    msg = parse(message(LEAD_1, LEAD_1[:15]))
    assert msg.org_id == "00D5g000004bQ2KEAU"
    assert msg.records == {"Lead": [LEAD_1]}
    assert msg.dedupe_key == parse(message(LEAD_1, LEAD_1[:15])).dedupe_key
    assert "notificationsResponse" in ACK and "<Ack>true</Ack>" in ACK


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<a/>",
        message("001000000000001", sobject="Lead"),  # account id in a Lead notification
        message(LEAD_1, sobject="User"),
        message(LEAD_1, org="bogus"),
        message(*[LEAD_1] * 101),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
    ],
)
def test_invalid_messages_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidOutboundMessage):
        parse(body)
