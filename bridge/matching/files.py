"""Matching CSV files with the rules language: link two files, or find duplicates in one.

Column names are the fields (`email`, `FirstName`, `Company`, `BillingCity`, or any other
column for a generic text comparison). The right file (or the one file) becomes an in-memory
index; each left row is blocked and scored against it exactly as an API candidate would be.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bridge.matching.engine import Match, match_many
from bridge.matching.index import ObjectIndex
from bridge.matching.profiles import FIELD_ALIASES, KNOWN_FIELDS, build_profile, canonical_field
from bridge.matching.rules import DEFAULT_RULES, RuleError, RuleSet, parse_rules, parse_text

CHUNK = 250  # candidates compared in one vectorised pass (and one progress-bar step)
ID_COLUMNS = ("id", "Id", "ID", "record_id", "rec_id")
_PERSON_HINTS = {"first_name", "last_name"}


@dataclass
class Table:
    ids: list[str]
    rows: list[dict[str, str]]
    columns: list[str]


@dataclass
class LinkSummary:
    left_rows: int = 0
    right_rows: int = 0
    pairs_compared: int = 0
    matched: int = 0
    unmatched: int = 0
    ambiguous: int = 0  # left rows with more than one match
    right_reused: int = 0  # right rows that are the best match of more than one left row
    confidence_bands: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        bands = ", ".join(f"{k}: {v}" for k, v in sorted(self.confidence_bands.items()))
        return [
            f"left rows: {self.left_rows}, right rows: {self.right_rows}",
            f"pairs compared after blocking: {self.pairs_compared}",
            f"matched: {self.matched}, unmatched: {self.unmatched}",
            f"ambiguous (several matches): {self.ambiguous}, "
            f"right rows matched more than once: {self.right_reused}",
            f"best-match confidence: {bands or 'none'}",
        ]


def read_table(path: Path, id_column: str | None = None) -> Table:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    id_col = id_column or next((c for c in ID_COLUMNS if c in columns), None)
    if id_column and id_column not in columns:
        raise RuleError(f"{path.name} has no column {id_column!r}")
    ids = [row[id_col] if id_col else str(n) for n, row in enumerate(rows, start=1)]
    return Table(ids, rows, columns)


def infer_object(columns: Iterable[str]) -> str:
    fields = {canonical_field(c) for c in columns}
    return "contact" if fields & _PERSON_HINTS else "account"


def _default_rules(sobject: str, fields: set[str]) -> RuleSet:
    """The default rules without the alternatives the files have no column for (a default
    names every identifying field a record may have; a file has some of them)."""
    text = DEFAULT_RULES.get(sobject.lower(), DEFAULT_RULES["contact"])
    body, _, threshold = text.partition(" threshold=")
    kept = [
        alt
        for alt in body.split(" | ")
        if canonical_field(alt.split(":")[0]) in fields | {"name", "domain", "website"}
    ]
    return parse_text(" | ".join(kept or body.split(" | ")) + f" threshold={threshold}")


def file_rules(text: str | None, sobject: str, columns: Sequence[str]) -> RuleSet:
    """The rules, with every field checked against the file's columns."""
    fields = {canonical_field(c) for c in columns}
    rules = parse_rules(text, allowed=None, default=_default_rules(sobject, fields))
    usable = fields | set(KNOWN_FIELDS)
    for rule in rules.rules:
        if rule.field not in usable:
            raise RuleError(f"no column for field {rule.field!r}; columns: {', '.join(columns)}")
        if rule.field in FIELD_ALIASES and rule.field not in fields and rule.field not in (
            "name", "domain", "website",
        ):  # fmt: skip
            # canonical but absent: it would simply never fire; say so instead.
            raise RuleError(f"no column for field {rule.field!r}; columns: {', '.join(columns)}")
    return rules


def build_index(table: Table, sobject: str, region: str = "US") -> ObjectIndex:
    index = ObjectIndex()
    for record_id, row in zip(table.ids, table.rows, strict=True):
        index.put(build_profile(row, sobject, record_id=record_id, region=region))
    return index


def link(
    left: Table,
    right: Table,
    rules: RuleSet,
    sobject: str,
    *,
    region: str = "US",
    progress: Callable[[range], Iterable[int]] = lambda it: it,
) -> tuple[list[tuple[str, Match]], LinkSummary]:
    index = build_index(right, sobject, region)
    summary = LinkSummary(left_rows=len(left.rows), right_rows=len(right.rows))
    pairs: list[tuple[str, Match]] = []
    best_of: Counter[str] = Counter()
    for start in progress(range(0, len(left.rows), CHUNK)):
        stop = min(start + CHUNK, len(left.rows))
        cands = [
            build_profile(left.rows[i], sobject, record_id=left.ids[i], region=region)
            for i in range(start, stop)
        ]
        blocks = [index.block(c) for c in cands]
        summary.pairs_compared += sum(map(len, blocks))
        for i, matches in zip(
            range(start, stop), match_many(cands, blocks, rules, freq=index.freq), strict=True
        ):
            _count(summary, matches, best_of)
            pairs.extend((left.ids[i], m) for m in matches)
    summary.right_reused = sum(1 for n in best_of.values() if n > 1)
    return pairs, summary


def _count(summary: LinkSummary, matches: list[Match], best_of: Counter[str]) -> None:
    if not matches:
        summary.unmatched += 1
        return
    summary.matched += 1
    summary.ambiguous += len(matches) > 1
    best_of[matches[0].id] += 1
    c = matches[0].confidence
    summary.confidence_bands[">=0.99" if c >= 0.99 else "0.90-0.99" if c >= 0.9 else "<0.90"] += 1


def dedupe(
    table: Table,
    rules: RuleSet,
    sobject: str,
    *,
    region: str = "US",
    progress: Callable[[range], Iterable[int]] = lambda it: it,
) -> tuple[list[list[tuple[str, Match | None]]], LinkSummary]:
    """Clusters of two or more rows (connected by matches), each row with its best match."""
    index = build_index(table, sobject, region)
    summary = LinkSummary(left_rows=len(table.rows), right_rows=len(table.rows))
    parent = {rid: rid for rid in table.ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    best: dict[str, Match] = {}
    best_of: Counter[str] = Counter()
    for start in progress(range(0, len(table.rows), CHUNK)):
        cands = [index.get(rid) for rid in table.ids[start : start + CHUNK]]
        profiles = [c for c in cands if c is not None]
        blocks = [index.block(c) for c in profiles]
        summary.pairs_compared += sum(len(b) - 1 for b in blocks)
        for cand, matches in zip(
            profiles, match_many(profiles, blocks, rules, freq=index.freq), strict=True
        ):
            _count(summary, matches, best_of)
            if matches:
                best[cand.id] = matches[0]
            for m in matches:
                a, b = find(cand.id), find(m.id)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[str]] = {}
    for rid in table.ids:
        groups.setdefault(find(rid), []).append(rid)
    clusters = [[(rid, best.get(rid)) for rid in members] for members in groups.values()]
    return [c for c in clusters if len(c) > 1], summary


def write_pairs(path: Path, pairs: Iterable[tuple[str, Match]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["left_id", "right_id", "rank", "score", "confidence", "rules_fired",
                         "explanation"])  # fmt: skip
        rank: Counter[str] = Counter()
        for left_id, m in pairs:
            rank[left_id] += 1
            writer.writerow([left_id, m.id, rank[left_id], m.score, m.confidence,
                             " ".join(m.rules_fired), m.explanation])  # fmt: skip
            count += 1
    return count


def write_clusters(path: Path, clusters: Iterable[list[tuple[str, Match | None]]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cluster_id", "record_id", "cluster_size", "best_match_id", "confidence",
                         "explanation"])  # fmt: skip
        for n, cluster in enumerate(clusters, start=1):
            for rid, m in cluster:
                tail = [m.id, m.confidence, m.explanation] if m else ["", "", ""]
                writer.writerow([n, rid, len(cluster), *tail])
                count += 1
    return count
