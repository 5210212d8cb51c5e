"""Matching quality on labelled synthetic data (benchmarks/match_data.py): precision, recall
and F1 of the best match per left row, per mode, for person and business records.

    .venv/bin/python -m benchmarks.match_quality [--rows 5000] [--seed 7]

Prints one JSON object per (records, mode). The AI mode needs a real model behind
BRIDGE_MATCHING_AI_BASE_URL and is not measured here.
"""

from __future__ import annotations

import argparse
import json

from benchmarks.match_data import company_files, evaluate, people_files
from bridge.matching import files
from bridge.matching.rules import default_rules, parse_text

MODES = {
    "contact": {
        "simple": "email:eq, name_company:fuzzy0.9",
        "grouped (default rules, threshold 0.9)": None,
        "grouped (hand rules)": "(name:fuzzy0.9 & company:fuzzy0.85) | (name:fuzzy0.85 & email:eq)"
        " | (name:fuzzy0.85 & phone:eq)",
    },
    "account": {
        "simple": "name:eq, domain:eq, phone:eq",
        "grouped (default rules, threshold 0.9)": None,
        "grouped (hand rules)": "(name:fuzzy0.85 & domain:eq) | (name:fuzzy0.85 & phone:eq) | "
        "(name:fuzzy0.85 & postal_code:eq) | name:eq",
    },
}


def run(kind: str, rows: int, seed: int) -> None:
    make = people_files if kind == "contact" else company_files
    left, right, truth = make(rows, seed)
    lt = files.Table([r["id"] for r in left], left, list(left[0]))
    rt = files.Table([r["id"] for r in right], right, list(right[0]))
    for mode, text in MODES[kind].items():
        rules = default_rules(kind) if text is None else parse_text(text)
        pairs, _ = files.link(lt, rt, rules, kind)
        best: dict[str, str] = {}
        for left_id, match in pairs:
            best.setdefault(left_id, match.id)
        print(json.dumps({"records": "person" if kind == "contact" else "business",
                          "mode": mode, "rules": str(rules), "rows_each": rows, "seed": seed,
                          **evaluate(best, truth)}), flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run("contact", args.rows, args.seed)
    run("account", args.rows, args.seed + 4)
    reason = "needs a real model behind BRIDGE_MATCHING_AI_BASE_URL"
    print(json.dumps({"mode": "ai", "measured": False, "reason": reason}))


if __name__ == "__main__":
    main()
