"""Company domains from websites and business emails (the bundled Public Suffix List snapshot)."""

from __future__ import annotations

import tldextract

from bridge.enrichment.derive import Derived
from bridge.enrichment.derive.emails import is_disposable, is_free_mail

# suffix_list_urls=(): never fetch the list over the network; use the snapshot in the wheel.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registered_domain(raw: str) -> str | None:
    """`https://www.shop.acme.co.uk/x` -> `acme.co.uk`; None when there is no real suffix."""
    text = raw.strip().lower()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    parts = _EXTRACT(text)
    if not parts.domain or not parts.suffix:
        return None
    return f"{parts.domain}.{parts.suffix}"


def from_website(raw: str) -> Derived:
    domain = registered_domain(raw)
    if domain is None:
        return {}
    return {"company_domain": (domain, 0.95), "website": (f"https://{domain}", 0.85)}


def from_email(raw: str) -> Derived:
    """A business email's domain is very likely the employer's; free-mail says nothing."""
    domain = registered_domain(raw)
    if domain is None or is_free_mail(domain) or is_disposable(domain):
        return {}
    return {"company_domain": (domain, 0.8), "website": (f"https://{domain}", 0.7)}
