"""`bridge match`: link two CSV files, or find duplicates within one, with the API's rules."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path

import click

from bridge.matching import files
from bridge.matching.rules import RuleError


@click.command("match")
@click.option(
    "--left",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV whose rows are matched against --right.",
)
@click.option(
    "--right",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV to match into.",
)
@click.option(
    "--dedupe",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV to find duplicates in (instead of --left/--right).",
)
@click.option(
    "--rules",
    default=None,
    help='Rules, e.g. "(domain:eq & name:fuzzy0.8) | email:eq threshold=0.9"; '
    "default: the object's default rules.",
)
@click.option(
    "--object",
    "sobject",
    type=click.Choice(["contact", "lead", "account"]),
    default=None,
    help="What the rows are (default: people if there are name columns).",
)
@click.option("--id-column", default=None, help="Column holding each row's id (default: id).")
@click.option(
    "--max-matches",
    type=click.IntRange(1, 50),
    default=1,
    show_default=True,
    help="Matches written per left row.",
)
@click.option(
    "--region",
    default="US",
    show_default=True,
    help="Country for phone numbers written without a country code.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="pairs.csv (linking) or clusters.csv (dedupe) to write.",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
def match(
    left: Path | None, right: Path | None, dedupe: Path | None, rules: str | None,
    sobject: str | None, id_column: str | None, max_matches: int, region: str, out: Path,
    progress: bool,
) -> None:  # fmt: skip
    """Match CSV files: --left A.csv --right B.csv, or --dedupe A.csv."""
    if dedupe is None and (left is None or right is None):
        raise click.UsageError("give --left and --right, or --dedupe")
    if dedupe is not None and (left is not None or right is not None):
        raise click.UsageError("--dedupe cannot be combined with --left/--right")
    started = time.perf_counter()

    def bar(items: Iterable[int]) -> Iterable[int]:
        from tqdm import tqdm

        return tqdm(items, disable=not progress, file=sys.stderr, unit="row", mininterval=0.5)

    try:
        if dedupe is not None:
            table = files.read_table(dedupe, id_column)
            kind = sobject or files.infer_object(table.columns)
            ruleset = _with_max(files.file_rules(rules, kind, table.columns), max_matches)
            clusters, summary = files.dedupe(table, ruleset, kind, region=region, progress=bar)
            written = files.write_clusters(out, clusters)
            click.echo(f"rules: {ruleset}")
            for line in summary.lines():
                click.echo(line)
            click.echo(f"duplicate clusters: {len(clusters)} ({written} rows) -> {out}")
        else:
            assert left is not None and right is not None
            lt, rt = files.read_table(left, id_column), files.read_table(right, id_column)
            kind = sobject or files.infer_object(rt.columns)
            ruleset = _with_max(
                files.file_rules(rules, kind, [*lt.columns, *rt.columns]), max_matches
            )
            pairs, summary = files.link(lt, rt, ruleset, kind, region=region, progress=bar)
            written = files.write_pairs(out, pairs)
            click.echo(f"rules: {ruleset}")
            for line in summary.lines():
                click.echo(line)
            click.echo(f"pairs written: {written} -> {out}")
    except RuleError as exc:
        raise click.BadParameter(str(exc), param_hint="--rules") from None
    click.echo(f"elapsed: {time.perf_counter() - started:.2f} s")


def _with_max(ruleset: files.RuleSet, max_matches: int) -> files.RuleSet:
    from dataclasses import replace

    return replace(ruleset, max_matches=max_matches)
