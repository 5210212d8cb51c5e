"""Standard Webhooks verification, with the vectors printed in docs/salesforce-setup.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from standardwebhooks import webhooks

from bridge.salesforce.ids import to_18
from bridge.triggers.models import TriggerRequest
from bridge.triggers.signatures import InvalidSignature, sign, verify

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "salesforce-setup.md"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "A" * 32
BODY = b'{"test": 2432232314}'


def guide_vectors() -> list[dict[str, str]]:
    """The `text` blocks under the guide's "Test vectors" heading, as {input: value}."""
    section = GUIDE.read_text().split("\n## Test vectors\n", 1)[1]
    blocks = re.findall(r"```text\n(.*?)```", section, re.S)
    return [dict(line.split(None, 1) for line in block.splitlines()) for block in blocks]


def trigger_vector() -> dict[str, str]:
    """The guide's Salesforce trigger payload vector (the one whose body names an object)."""
    return next(v for v in guide_vectors() if v["body"].startswith('{"object"'))


def frozen_clock(monkeypatch: pytest.MonkeyPatch, timestamp: int) -> None:
    """Pin the clock standardwebhooks checks the 300 s window against (it reads
    `datetime.now` and takes no `now` argument), so a vector verifies as printed."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return datetime.fromtimestamp(timestamp, tz=tz or UTC)

    monkeypatch.setattr(webhooks, "datetime", Frozen)


def headers(body: bytes = BODY, secret: str = SECRET, ts: int | None = None, wid: str = "msg_1"):
    ts = int(time.time()) if ts is None else ts
    return {
        "webhook-id": wid,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(body, secret, wid, ts),
    }


def test_documented_vector() -> None:
    assert (
        sign(BODY, SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    generic = next(v for v in guide_vectors() if v["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek")
    assert generic == {
        "secret": SECRET, "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330", "body": BODY.decode(),
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }  # fmt: skip


def test_trigger_payload_vector_is_what_the_apex_sends() -> None:
    """The guide's trigger vector, read from the guide: the body is the compact JSON the
    Apex's JSONGenerator writes (object, ids, event, org_id in that order, 18-character ids),
    the id is msg_ + an EventUuid, and the signature is recomputed the way the Apex does it
    (HMAC-SHA256 over id.timestamp.body with the base64-decoded secret) and by the library."""
    v = trigger_vector()
    payload = json.loads(v["body"])
    assert list(payload) == ["object", "ids", "event", "org_id"]
    assert v["body"] == json.dumps(payload, separators=(",", ":"))  # compact, as JSONGenerator
    assert all(len(i) == 18 and to_18(i[:15]) == i for i in [*payload["ids"], payload["org_id"]])
    TriggerRequest.model_validate_json(v["body"])  # the bridge accepts this body as sent
    assert v["webhook-id"].startswith("msg_")
    assert str(uuid.UUID(v["webhook-id"].removeprefix("msg_"))) == v["webhook-id"][4:]
    key = base64.b64decode(v["secret"].removeprefix("whsec_"))
    signed = f"{v['webhook-id']}.{v['webhook-timestamp']}.{v['body']}".encode()
    apex_style = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert apex_style == v["webhook-signature"]
    ts = int(v["webhook-timestamp"])
    assert sign(v["body"].encode(), v["secret"], v["webhook-id"], ts) == v["webhook-signature"]


def test_trigger_payload_vector_verifies_as_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receiver's own `verify` accepts the printed headers unchanged, with the 300 s
    window anchored at the vector's timestamp; the same bytes are stale at any real time."""
    v = trigger_vector()
    headers = {k: v[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    raw = v["body"].encode()
    with pytest.raises(InvalidSignature, match="old"):
        verify(raw, headers, [v["secret"]])
    frozen_clock(monkeypatch, int(v["webhook-timestamp"]) + 299)
    assert verify(raw, headers, [OTHER, v["secret"]]) == v["webhook-id"]
    with pytest.raises(InvalidSignature):
        verify(raw.replace(b"after_update", b"after_insert"), headers, [v["secret"]])


def test_guide_apex_uses_the_event_uuid_not_the_body_as_webhook_id() -> None:
    """An id derived from the body makes a second identical edit look like a retry."""
    guide = GUIDE.read_text()
    assert "String webhookId = 'msg_' + c.eventUuid;" in guide
    assert "e.EventUuid" in guide and "generateDigest" not in guide
    assert "<batchSize>100</batchSize>" in guide  # 100 callouts per transaction at most
    assert "UserInfo.getUserId()" in guide  # the bridge's own write-backs are not sent back


def test_valid_signature_returns_webhook_id() -> None:
    assert verify(BODY, headers(), [SECRET]) == "msg_1"


def test_rotation_any_active_secret_and_several_signatures() -> None:
    assert verify(BODY, headers(secret=OTHER), [SECRET, OTHER]) == "msg_1"
    h = headers()
    h["webhook-signature"] = "v1,bm90IGl0 " + h["webhook-signature"]
    assert verify(BODY, h, [SECRET]) == "msg_1"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: h.pop("webhook-signature"),
        lambda h: h.update({"webhook-signature": "v1,AAAA"}),
        lambda h: h.update({"webhook-signature": "garbage-without-comma"}),
        lambda h: h.update({"webhook-signature": "v1,%%%not-base64"}),
        lambda h: h.update({"webhook-timestamp": "yesterday"}),
    ],
)
def test_forged_or_malformed(mutate) -> None:
    h = headers()
    mutate(h)
    with pytest.raises(InvalidSignature):
        verify(BODY, h, [SECRET])


def test_tampered_body_and_wrong_secret() -> None:
    with pytest.raises(InvalidSignature):
        verify(BODY + b" ", headers(), [SECRET])
    with pytest.raises(InvalidSignature):
        verify(BODY, headers(), [OTHER])


def test_stale_and_future_timestamps() -> None:
    with pytest.raises(InvalidSignature, match="old"):
        verify(BODY, headers(ts=int(time.time()) - 301), [SECRET])
    with pytest.raises(InvalidSignature, match="new"):
        verify(BODY, headers(ts=int(time.time()) + 301), [SECRET])


def test_non_utf8_body_is_refused_not_crashing() -> None:
    body = b"\xff\xfe{}"
    h = headers(body=b"{}")
    with pytest.raises(InvalidSignature):
        verify(body, h, [SECRET])


def test_case_insensitive_headers_as_aiohttp_gives_them() -> None:
    h = CIMultiDict({k.title(): v for k, v in headers().items()})
    h["Authorization"] = "Bearer not-signed"
    assert verify(BODY, CIMultiDictProxy(h), [SECRET]) == "msg_1"
    assert verify(BODY, {k.upper(): v for k, v in headers().items()}, [SECRET]) == "msg_1"
