"""Standard Webhooks verification, with the vectors printed in docs/salesforce-setup.md."""

from __future__ import annotations

import time

import pytest

from bridge.triggers.signatures import InvalidSignature, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "A" * 32
BODY = b'{"test": 2432232314}'


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
