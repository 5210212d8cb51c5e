"""Plain-language explanations of a match, from the comparison of its fields."""

from __future__ import annotations

import math

from bridge.matching.profiles import Profile
from bridge.matching.scoring import Comparison

_LABELS = {
    "email": "email", "domain": "company domain", "phone": "phone", "postal_code": "postcode",
    "city": "city", "street": "street",
}  # fmt: skip


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


def explain(comp: Comparison, i: int, confidence: float, fired: list[str]) -> str:
    cand: Profile = comp.candidates[i]
    rec: Profile = comp.records[i]
    agree: list[str] = []
    differ: list[str] = []
    s = {name: float(values[i]) for name, values in comp.sims.items()}

    if cand.person and rec.person:
        name = s.get("name", math.nan)
        if not math.isnan(name):
            text = f"name '{rec.display.get('name') or rec.full_name}' "
            if comp.swapped is not None and comp.swapped[i]:
                text += "matches with first and last name swapped"
            elif name >= 0.999:
                text += "is the same"
                first, other = cand.first.split()[:1], rec.first.split()[:1]
                if first and other and first != other:
                    text += f" ('{first[0]}' is a nickname of '{other[0]}' or the reverse)"
            else:
                text += f"is {_pct(name)} similar"
            (agree if name >= 0.85 else differ).append(text)
    company = s.get("company", math.nan)
    if not math.isnan(company):
        label = rec.display.get("company") or rec.display.get("name") or rec.company
        if comp.subset_name is not None and comp.subset_name[i]:
            differ.append(
                f"company '{label}' only shares words with the candidate's and no domain, "
                "phone or address supports it"
            )
        elif company >= 0.999:
            agree.append(f"company '{label}' is the same once legal suffixes are ignored")
        else:
            (agree if company >= 0.85 else differ).append(
                f"company '{label}' is {_pct(company)} similar"
            )
    for key, label in _LABELS.items():
        value = s.get(key, math.nan)
        if math.isnan(value):
            continue
        shown = rec.value(key)
        if value >= 0.999:
            agree.append(f"{label} {shown} is the same")
        elif key in ("email", "street", "city") and value >= 0.85:
            agree.append(f"{label} {shown} is {_pct(value)} similar")
        else:
            differ.append(f"{label} differs ({shown})")
    parts = [f"{rec.object.capitalize()} {rec.id} matched with {_pct(confidence)} confidence"]
    if fired:
        parts.append("rules fired: " + ", ".join(fired))
    if agree:
        parts.append("agreeing: " + "; ".join(agree))
    if differ:
        parts.append("differing: " + "; ".join(differ))
    return ". ".join(parts) + "."
