"""`bridge match` on small CSV files (hand-built, in tests/fixtures/matching)."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from bridge.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "matching"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_link_two_files(tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    result = CliRunner().invoke(main, [
        "match", "--left", str(FIXTURES / "people_left.csv"),
        "--right", str(FIXTURES / "people_right.csv"), "--out", str(out), "--no-progress",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    pairs = {row["left_id"]: row for row in read(out)}
    # Nickname + phone, same gmail address, diacritics; John Smith at two companies is not linked.
    assert {k: v["right_id"] for k, v in pairs.items()} == {"L1": "R1", "L2": "R2", "L3": "R3"}
    assert all(float(v["confidence"]) >= 0.9 and v["explanation"] for v in pairs.values())
    assert "matched: 3, unmatched: 2" in result.output
    assert "pairs compared after blocking" in result.output


def test_link_with_explicit_rules_and_bad_rules(tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    left, right = str(FIXTURES / "people_left.csv"), str(FIXTURES / "people_right.csv")
    args = ["match", "--left", left, "--right", right, "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(main, [*args, "--rules", "name:eq"])
    assert result.exit_code == 0, result.output
    linked = {row["left_id"]: row["right_id"] for row in read(out)}
    assert linked["L4"] == "R4"  # the name alone says yes: why the default rules want more
    result = CliRunner().invoke(main, [*args, "--rules", "shoe_size:eq"])
    assert result.exit_code == 2 and "no column for field 'shoe_size'" in result.output
    result = CliRunner().invoke(main, [*args, "--rules", "email:sorta"])
    assert result.exit_code == 2 and "invalid rule" in result.output


def test_dedupe_one_file(tmp_path: Path) -> None:
    out = tmp_path / "clusters.csv"
    result = CliRunner().invoke(main, [
        "match", "--dedupe", str(FIXTURES / "accounts_dupes.csv"), "--out", str(out),
        "--rules", "(name:fuzzy0.8 & domain:eq) | (name:fuzzy0.8 & phone:eq)", "--no-progress",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    clusters: dict[str, set[str]] = {}
    for row in read(out):
        clusters.setdefault(row["cluster_id"], set()).add(row["record_id"])
    # "Acme" (acme.io) is not "Acme Holdings": no shared domain or phone.
    assert sorted(map(sorted, clusters.values())) == [["A1", "A2"], ["A4", "A5"]]
    assert "duplicate clusters: 2 (4 rows)" in result.output


def test_usage_errors() -> None:
    result = CliRunner().invoke(main, ["match", "--out", "x.csv"])
    assert result.exit_code == 2 and "--left and --right, or --dedupe" in result.output
