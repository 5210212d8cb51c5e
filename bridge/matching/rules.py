"""The rules language, shared by POST /v1/match and `bridge match`.

A rule is `field:kind`: `email:eq`, `name:exact`, `company:contains`, `name:fuzzy0.85`
(`fuzzy` alone means 0.85). Text form:

    email:eq, name_company:fuzzy0.8                      simple: any rule may match
    (domain:eq & name:fuzzy0.8) | email:eq threshold=0.9  grouped: all within (), any across |

`&`/`AND`/`+` join rules into a group, `|`/`OR`/`,` separate groups, `threshold=0.x` is the
cut-off on overall confidence. The JSON form (`rules` in the API) is the same thing as an
object: {"by": [...]} or {"groups": [{"all": [...]}], "any": true, "threshold": 0.8}, with
"mode": "ai" for LLM scoring.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bridge.matching.profiles import KNOWN_FIELDS, canonical_field
from bridge.matching.tiebreak import DEFAULT_TIEBREAKERS, parse_tiebreakers

Kind = Literal["exact", "eq", "contains", "fuzzy"]
Mode = Literal["simple", "grouped", "ai"]
DEFAULT_FUZZY = 0.85
DEFAULT_MAX_MATCHES = 5

_RULE = re.compile(
    r"^\s*([A-Za-z_][\w.]*)\s*:\s*(exact|eq|contains|fuzzy)\s*([0-9]*\.?[0-9]+)?\s*$",
    re.IGNORECASE,
)
_THRESHOLD = re.compile(r"\bthreshold\s*[=:]\s*([0-9]*\.?[0-9]+)", re.IGNORECASE)
_OR = re.compile(r"\s*(?:\||,|\bOR\b)\s*", re.IGNORECASE)
_AND = re.compile(r"\s*(?:&|\+|\bAND\b)\s*", re.IGNORECASE)


class RuleError(ValueError):
    """A rule the language does not accept; the message says what and where."""


@dataclass(frozen=True)
class Rule:
    field: str
    kind: Kind
    threshold: float = 1.0

    def __str__(self) -> str:
        if self.kind == "fuzzy":
            return f"{self.field}:fuzzy{self.threshold:g}"
        return f"{self.field}:{self.kind}"


@dataclass(frozen=True)
class RuleSet:
    mode: Mode
    groups: tuple[tuple[Rule, ...], ...]
    any: bool = True
    threshold: float | None = None
    tiebreakers: tuple[str, ...] = DEFAULT_TIEBREAKERS
    max_matches: int = DEFAULT_MAX_MATCHES
    instructions: str = ""
    rules: tuple[Rule, ...] = field(default=(), compare=False)

    @property
    def fields(self) -> set[str]:
        return {r.field for g in self.groups for r in g}

    def __str__(self) -> str:
        joined = (" | " if self.any else " & ").join(
            "(" + " & ".join(map(str, g)) + ")" if len(g) > 1 else str(g[0]) for g in self.groups
        )
        return joined + (f" threshold={self.threshold:g}" if self.threshold is not None else "")


def parse_rule(text: str, *, allowed: Iterable[str] | None = KNOWN_FIELDS) -> Rule:
    match = _RULE.match(text)
    if not match:
        raise RuleError(
            f"invalid rule {text.strip()!r}: expected field:exact, field:eq, field:contains "
            "or field:fuzzy0.x"
        )
    name, kind, number = match.group(1), match.group(2).lower(), match.group(3)
    field_name = canonical_field(name)
    if allowed is not None and field_name not in set(allowed):
        known = ", ".join(sorted(allowed))
        raise RuleError(f"unknown field {name!r} in rule {text.strip()!r}; known fields: {known}")
    if kind != "fuzzy":
        if number is not None:
            raise RuleError(f"invalid rule {text.strip()!r}: only fuzzy takes a number")
        return Rule(field_name, kind)  # type: ignore[arg-type]
    threshold = DEFAULT_FUZZY if number is None else float(number)
    if not 0.0 < threshold <= 1.0:
        raise RuleError(f"invalid rule {text.strip()!r}: the fuzzy threshold must be in (0, 1]")
    return Rule(field_name, "fuzzy", threshold)


def _check_threshold(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RuleError("threshold must be a number between 0 and 1")
    return float(value)


def parse_text(text: str, *, allowed: Iterable[str] | None = KNOWN_FIELDS) -> RuleSet:
    """The text form ('(domain:eq & name:fuzzy0.8) | email:eq threshold=0.9')."""
    threshold = None
    found = _THRESHOLD.findall(text)
    if len(found) > 1:
        raise RuleError("threshold given more than once")
    if found:
        threshold = _check_threshold(float(found[0]))
        text = _THRESHOLD.sub(" ", text)
    if not text.strip():
        raise RuleError("no rules given")
    groups: list[tuple[Rule, ...]] = []
    for part in _OR.split(text.strip()):
        inner = part.strip()
        if inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1]
        if not inner.strip() or "(" in inner or ")" in inner:
            raise RuleError(f"invalid group {part.strip()!r}: groups are not nested")
        groups.append(tuple(parse_rule(r, allowed=allowed) for r in _AND.split(inner.strip())))
    grouped = any(len(g) > 1 for g in groups) or threshold is not None
    return _build("grouped" if grouped else "simple", groups, True, threshold)


def _build(
    mode: Mode,
    groups: list[tuple[Rule, ...]],
    any_group: bool,
    threshold: float | None,
    **extra: Any,
) -> RuleSet:
    if not groups and mode != "ai":
        raise RuleError("no rules given")
    rules = tuple(dict.fromkeys(r for g in groups for r in g))
    return RuleSet(mode, tuple(groups), any_group, threshold, rules=rules, **extra)


def _rule_list(value: Any, where: str, allowed: Iterable[str] | None) -> tuple[Rule, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RuleError(f"{where} must be a non-empty list of rule strings")
    return tuple(parse_rule(v, allowed=allowed) for v in value)


def parse_rules(
    value: Any,
    *,
    allowed: Iterable[str] | None = KNOWN_FIELDS,
    default: RuleSet | None = None,
) -> RuleSet:
    """Any accepted form: text, a list of rule strings (simple), or the JSON object."""
    if value is None:
        if default is None:
            raise RuleError("no rules given")
        return default
    if isinstance(value, str):
        return parse_text(value, allowed=allowed)
    if isinstance(value, list):
        return _build("simple", [(r,) for r in _rule_list(value, "rules", allowed)], True, None)
    if not isinstance(value, Mapping):
        raise RuleError("rules must be a string, a list of rules or an object")
    unknown = set(value) - {
        "mode", "by", "rules", "groups", "any", "threshold", "tiebreakers", "max_matches",
        "instructions",
    }  # fmt: skip
    if unknown:
        raise RuleError(f"unknown rules option(s): {', '.join(sorted(unknown))}")
    mode = value.get("mode")
    if mode not in (None, "simple", "grouped", "ai"):
        raise RuleError("mode must be simple, grouped or ai")
    any_group = value.get("any", True)
    if not isinstance(any_group, bool):
        raise RuleError("any must be true or false")
    extra: dict[str, Any] = {
        "tiebreakers": parse_tiebreakers(value.get("tiebreakers")),
        "instructions": _instructions(value.get("instructions")),
    }
    max_matches = value.get("max_matches", DEFAULT_MAX_MATCHES)
    if (
        isinstance(max_matches, bool)
        or not isinstance(max_matches, int)
        or not 1 <= max_matches <= 50
    ):
        raise RuleError("max_matches must be an integer from 1 to 50")
    extra["max_matches"] = max_matches
    threshold = _check_threshold(value.get("threshold"))
    groups: list[tuple[Rule, ...]] = []
    if value.get("groups") is not None:
        raw_groups = value["groups"]
        if not isinstance(raw_groups, list) or not raw_groups:
            raise RuleError("groups must be a non-empty list")
        for i, group in enumerate(raw_groups):
            rules = group.get("all") if isinstance(group, Mapping) else group
            groups.append(_rule_list(rules, f"groups[{i}].all", allowed))
    simple = value.get("by", value.get("rules"))
    if simple is not None:
        if groups:
            raise RuleError("give either groups or by, not both")
        groups = [(r,) for r in _rule_list(simple, "by", allowed)]
        any_group = True
    if mode is None:
        mode = "grouped" if value.get("groups") is not None else "simple"
    if mode != "ai" and not groups:
        if default is None:
            raise RuleError("no rules given: set by or groups")
        return RuleSet(
            mode="grouped" if threshold is not None else default.mode,
            groups=default.groups, any=default.any,
            threshold=threshold if threshold is not None else default.threshold,
            rules=default.rules, **extra,
        )  # fmt: skip
    return _build(mode, groups, any_group, threshold, **extra)


def _instructions(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 2000:
        raise RuleError("instructions must be a string of at most 2,000 characters")
    return value


# The rules used when a request sends none: any field that can identify a record lets a pair
# be considered, and the evidence model decides (threshold on overall confidence).
DEFAULT_RULES = {
    "account": "name:fuzzy0.7 | domain:eq | phone:eq threshold=0.9",
    # People: any identifying field lets a pair be considered (a copy with both names
    # mangled or swapped still shares its id or birth date); the confidence decides.
    "contact": "name:fuzzy0.7 | email:eq | phone:eq | national_id:eq | birthdate:eq threshold=0.9",
    "lead": "name:fuzzy0.7 | email:eq | phone:eq | national_id:eq | birthdate:eq threshold=0.9",
}


def default_rules(sobject: str) -> RuleSet:
    return parse_text(DEFAULT_RULES.get(sobject.lower(), DEFAULT_RULES["contact"]))
