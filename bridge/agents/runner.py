"""One step of a run: the next chunk of pending records, or the final CSVs.

A worker task calls `step` until it answers False. Each record's outcome and its charge commit
in one transaction, guarded by "still pending": a step that dies half-way loses at most the
work on one record (redone, never charged twice). `max_credits` works like the sync endpoints'
cap: a record's charge is capped at what is left of it, and once nothing is left the run stops
and the records left are reported as not processed. (Stopping whenever the most a record could
cost exceeds what is left would make a run with max_credits below that maximum do nothing.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from bridge.agents import records as sources
from bridge.agents import store
from bridge.agents.columns import CREDITS_COLUMNS, RESULT_COLUMNS
from bridge.agents.storage import LocalStore, S3Store, StorageError, key_of
from bridge.agents.tables import AgentRun, AgentRunRecord
from bridge.agents.work import Agent, RunFailed
from bridge.credits.service import InsufficientCredits, debit_in
from bridge.credits.store import Tags
from bridge.db import Database
from bridge.db.base import utcnow

log = structlog.get_logger(__name__)


@dataclass
class RunContext:
    db: Database
    fetcher: sources.RecordFetcher | None  # the Salesforce gateway (None: inline records only)
    storage: LocalStore | S3Store
    agent_for: Callable[[AgentRun], Agent]
    chunk_size: int = 50


def step(ctx: RunContext, run_id: str) -> bool:
    """Advance the run by one chunk; True while there is more to do."""
    with ctx.db.session() as session:
        run = store.run_for(session, run_id)
        if run is None or run.status in ("completed", "failed"):
            return False
        if run.status == "queued":
            run.status, run.started_at, run.updated_at = "running", utcnow(), utcnow()
        batch = store.pending(session, run_id, ctx.chunk_size)
        snapshot = _Snapshot(run)
        work = [(r.seq, r.ref, r.input) for r in batch]
    try:
        if not work:
            finish(ctx, run_id)
            return False
        agent = ctx.agent_for(snapshot.run)
        return _chunk(ctx, snapshot, agent, work)
    except (RunFailed, StorageError) as exc:
        fail(ctx.db, run_id, str(exc))
        return False


class _Snapshot:
    """What a chunk needs of the run row, read once (the row itself stays in its session)."""

    def __init__(self, run: AgentRun) -> None:
        self.run = run
        self.id = run.id
        self.tenant_id = run.tenant_id
        self.agent = run.agent
        self.entity_type = run.entity_type
        self.max_credits = run.max_credits
        self.spent = run.credits_consumed


def _chunk(
    ctx: RunContext,
    run: _Snapshot,
    agent: Agent,
    work: list[tuple[int, str, dict[str, Any] | None]],
) -> bool:
    fetched: dict[str, dict[str, Any]] = {}
    ids = [ref for _, ref, inline in work if inline is None]
    if ids and ctx.fetcher is not None:
        fetched = sources.fetch(ctx.fetcher, run.entity_type, ids)
    for seq, ref, inline in work:
        if inline is not None:
            record: dict[str, Any] | None = sources.canonical_from_inline(inline, run.entity_type)
            if record is not None and not record.get("id"):
                _settle(ctx, run, seq, ref, "skipped", outcome="skipped: missing id")
                continue
        elif sources.object_of(ref, run.entity_type) is None:
            _settle(ctx, run, seq, ref, "skipped", outcome="skipped: invalid id")
            continue
        else:
            record = fetched.get(ref)
            if record is None:
                _settle(ctx, run, seq, ref, "skipped", outcome="skipped: not found in Salesforce")
                continue
            record["id"] = ref
        assert record is not None
        gaps = agent.missing(record)
        if gaps:
            _settle(
                ctx, run, seq, ref, "skipped", outcome=("skipped: missing " + ", ".join(gaps))[:80]
            )
            continue
        left = run.max_credits - run.spent
        if left <= 0:
            _stop(ctx, run.id, "max_credits")
            finish(ctx, run.id)
            return False
        result = agent.work(run.tenant_id, record)
        cost, outcome = result.credits, result.outcome
        if cost > left:
            cost, outcome = left, f"{outcome} (capped at max_credits)"
        try:
            charged = _settle(
                ctx,
                run,
                seq,
                ref,
                result.status,
                credits=cost,
                provider=result.provider,
                outcome=outcome[:80],
                row=result.row,
                found=result.found,
            )
        except InsufficientCredits:
            _stop(ctx, run.id, "insufficient_credits")
            finish(ctx, run.id)
            return False
        run.spent += charged
    return True


def _settle(
    ctx: RunContext,
    run: _Snapshot,
    seq: int,
    ref: str,
    status: str,
    *,
    credits: int = 0,
    provider: str | None = None,
    outcome: str,
    row: Mapping[str, Any] | None = None,
    found: bool = False,
) -> int:
    """Record one outcome and its charge in one transaction; returns what was charged."""
    with ctx.db.session() as session:
        settled = store.claim(
            session,
            run.id,
            seq,
            status=status,
            credits=credits,
            provider=provider,
            outcome=outcome,
            result=dict(row) if row is not None else None,
        )
        if not settled:
            return 0  # already settled by an earlier attempt: never charged twice
        if credits:
            debit_in(
                session,
                run.tenant_id,
                credits,
                f"POST /v1/agents/{run.agent}",
                Tags(workflow_run_id=run.id, custom_key="record", custom_value=ref[:255]),
            )
        counts = {
            "processed": int(status == "done"),
            "found": int(found),
            "skipped": int(status == "skipped"),
            "errors": int(status == "error"),
            "credits_consumed": credits,
        }
        store.bump(session, run.id, **{k: v for k, v in counts.items() if v})
    return credits


def _stop(ctx: RunContext, run_id: str, reason: str) -> None:
    with ctx.db.session() as session:
        left = store.stop_pending(session, run_id, f"not processed: {reason}")
        store.bump(session, run_id, not_processed=left)
        run = store.run_for(session, run_id)
        if run is not None:
            run.stopped_reason = reason
    log.info("agents.run_stopped", run_id=run_id, reason=reason, not_processed=left)


def finish(ctx: RunContext, run_id: str) -> None:
    """Write both CSVs, then mark the run completed (a failed write fails the run)."""
    with ctx.db.session() as session:
        run = store.run_for(session, run_id)
        if run is None or run.status in ("completed", "failed"):
            return
        rows = store.all_records(session, run_id)
        results = render_results(run.agent, rows)
        credits = render_credits(rows)
        result_key = key_of(ctx.storage, run.result_path)
        credits_key = key_of(ctx.storage, run.credits_csv_path)
    ctx.storage.put(result_key, results)
    ctx.storage.put(credits_key, credits)
    with ctx.db.session() as session:
        run = store.run_for(session, run_id)
        if run is not None and run.status not in ("completed", "failed"):
            run.status, run.finished_at, run.updated_at = "completed", utcnow(), utcnow()
    log.info("agents.run_completed", run_id=run_id)


def fail(db: Database, run_id: str, error: str) -> None:
    with db.session() as session:
        run = store.run_for(session, run_id)
        if run is not None and run.status not in ("completed", "failed"):
            run.status, run.error = "failed", error[:2000]
            run.finished_at = run.updated_at = utcnow()
    log.warning("agents.run_failed", run_id=run_id, error=error[:200])


def render_results(agent: str, rows: list[AgentRunRecord]) -> bytes:
    columns = RESULT_COLUMNS[agent]
    return _csv(columns, (r.result for r in rows if r.status == "done" and r.result))


def render_credits(rows: list[AgentRunRecord]) -> bytes:
    lines = (
        {"id": r.ref, "credits_spent": r.credits, "provider": r.provider, "outcome": r.outcome}
        for r in rows
    )
    return _csv(CREDITS_COLUMNS, lines)


def _csv(columns: tuple[str, ...], rows: Any) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return out.getvalue().encode("utf-8")
