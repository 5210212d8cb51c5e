"""Phone numbers: E.164, country, line type and time zone (Google's libphonenumber data)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType, timezone

from bridge.enrichment.derive import Derived

LINE_TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


def parse(raw: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """A valid number, reading national formats in `region` (ISO alpha-2) when given."""
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def derive(raw: str, region: str | None) -> Derived:
    number = parse(raw, region)
    if number is None:
        return {}
    out: Derived = {
        "phone": (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), 0.95)
    }
    country = phonenumbers.region_code_for_number(number)
    if country and country != "001":  # 001: non-geographic (satellite, global services)
        out["phone_country"] = (country, 0.9)
    line_type = LINE_TYPES.get(phonenumbers.number_type(number))
    if line_type:
        out["phone_line_type"] = (line_type, 0.8)
    zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    if len(zones) == 1:  # several zones (a US mobile, say): no single honest answer
        out["phone_time_zone"] = (zones[0], 0.8)
    return out
