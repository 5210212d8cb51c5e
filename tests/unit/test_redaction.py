"""The log redactor: secrets always, personal data unless allowed, nothing else."""

from __future__ import annotations

from config.logging import REDACTED, Redactor


def test_secrets_by_key_and_in_text() -> None:
    r = Redactor(allow_personal_data=True)
    out = r.scrub(
        {"authorization": "Bearer abc", "sf_client_secret": "x", "password": "p",
         "nested": {"api_key": "brk_1_2"}, "note": "Authorization: Bearer abc.def-ghi"}
    )  # fmt: skip
    assert out["authorization"] == out["sf_client_secret"] == out["password"] == REDACTED
    assert out["nested"]["api_key"] == REDACTED
    assert "abc.def" not in out["note"]
    assert r.scrub_text("secret whsec_AbC123== and key brk_abc_def") == (
        f"secret {REDACTED} and key {REDACTED}"
    )


def test_personal_data_redacted_unless_allowed() -> None:
    event = {"email": "ann@acme.com", "first_name": "Ann", "phone": "+14155550100",
             "msg": "lead ann@acme.com called from +1 (415) 555-0100"}  # fmt: skip
    hidden = Redactor().scrub(event)
    assert hidden["email"] == hidden["first_name"] == hidden["phone"] == REDACTED
    assert "ann@" not in hidden["msg"] and "555" not in hidden["msg"]
    assert Redactor(allow_personal_data=True).scrub(event) == event


def test_operational_fields_survive() -> None:
    event = {"task_name": "triggers.process_batch", "name": "poll-salesforce",
             "msg": "Connected to redis://127.0.0.1:59125/0", "object": "Lead",
             "record": "00Q5g00000AbCdEEAV", "token_type": "Bearer",
             "task_id": "550e8400-e29b-41d4-a716-446655440000"}  # fmt: skip
    assert Redactor().scrub(event) == event
