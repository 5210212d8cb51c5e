"""Field checks of a form submission: email (email-validator), phone (phonenumbers, E.164),
required fields per form source. Every problem is collected, so one 422 names them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bridge.forms.models import FormSubmitRequest

ALWAYS_REQUIRED = ("email",)
KNOWN_FIELDS = ("name", "email", "company", "phone", "title")


@dataclass(frozen=True)
class FormSource:
    """What one form source (site) requires, and the region its phones default to."""

    required: tuple[str, ...] = ALWAYS_REQUIRED
    region: str = "US"

    @classmethod
    def from_settings(
        cls, sources: Mapping[str, Mapping[str, Any]], name: str, default_region: str
    ) -> FormSource:
        spec = sources.get(name) or sources.get("*") or {}
        required = tuple(dict.fromkeys([*ALWAYS_REQUIRED, *spec.get("required", ())]))
        return cls(required, str(spec.get("region") or default_region).upper())


@dataclass
class CleanForm:
    """The submission's contact facts, normalised (email, E.164 phone, split name)."""

    email: str
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    extra: dict[str, Any] = field(default_factory=dict)


class FormInvalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors))
        self.errors = errors


def _error(name: str, msg: str, kind: str) -> dict[str, Any]:
    loc = ["body", *name.split(".")]
    return {"loc": loc, "msg": msg, "type": kind}


def _value(body: FormSubmitRequest, name: str) -> Any:
    if name in KNOWN_FIELDS:
        return getattr(body, name)
    return body.additional_fields.get(name.removeprefix("additional_fields."))


def check(body: FormSubmitRequest, source: FormSource, *, deliverability: bool) -> CleanForm:
    errors: list[dict[str, Any]] = []
    for name in source.required:
        value = _value(body, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            loc = name if name in KNOWN_FIELDS else f"additional_fields.{name}"
            errors.append(_error(loc, "Field required", "missing"))
    email = None
    if body.email:
        try:
            email = validate_email(body.email, check_deliverability=deliverability).normalized
        except EmailNotValidError as exc:
            errors.append(_error("email", f"not a valid email address: {exc}", "value_error"))
    phone = None
    if body.phone:
        phone = _e164(body.phone, source.region)
        if phone is None:
            msg = f"not a valid phone number (default region {source.region})"
            errors.append(_error("phone", msg, "value_error"))
    if errors:
        raise FormInvalid(errors)
    first, last = _split(body.name)
    return CleanForm(
        email=email or "", phone=phone, first_name=first, last_name=last,
        company=body.company or None, title=body.title or None,
        extra=dict(body.additional_fields),
    )  # fmt: skip


def _e164(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _split(name: str | None) -> tuple[str | None, str | None]:
    if not name or not name.strip():
        return None, None
    parts = name.split()
    if len(parts) == 1:
        return None, parts[0]
    return " ".join(parts[:-1]), parts[-1]
