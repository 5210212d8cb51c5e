"""The results CSV of each agent: exactly the documented columns, in the documented order.

phone-email follows its documented example header (company_name, company_url, first_name, id,
last_name, linkedin, email, email_found, phone_number, phone_found). deep-research documents
no columns; its CSV is id, entity_type, agent_type, name, company_url, query, response,
confidence, sources. Booleans are written `true`/`false`, missing values as empty cells.
"""

from __future__ import annotations

PERSON = ("id", "first_name", "last_name", "company_name", "company_url", "linkedin")

RESULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": (*PERSON, "phone_number", "phone_found"),
    "email": (*PERSON, "email", "email_found"),
    "phone-email": (
        "company_name",
        "company_url",
        "first_name",
        "id",
        "last_name",
        "linkedin",
        "email",
        "email_found",
        "phone_number",
        "phone_found",
    ),
    "deep-research": (
        "id",
        "entity_type",
        "agent_type",
        "name",
        "company_url",
        "query",
        "response",
        "confidence",
        "sources",
    ),
}

# The credits report: one line per submitted record.
CREDITS_COLUMNS = ("id", "credits_spent", "provider", "outcome")

# Path names of the documented result and credit paths.
SLUGS = {
    "phone": "phone-enrichment",
    "email": "email-enrichment",
    "phone-email": "phone-email-enrichment",
    "deep-research": "deep-research",
}
AGENTS = tuple(RESULT_COLUMNS)
