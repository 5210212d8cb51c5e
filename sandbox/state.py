"""Everything one running sandbox holds, shared by its handlers (`app["sandbox"]`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sandbox.auth import Sessions, TokenIssuer
from sandbox.callouts import CalloutConfig, CalloutDispatcher
from sandbox.faults import FaultInjector
from sandbox.records import RecordTransaction, record_transaction
from sandbox.schema import Schema
from sandbox.soql.executor import QueryEngine
from sandbox.store import Database
from sandbox.usage import ApiUsage

DEFAULT_VERSION = "60.0"
SUPPORTED_VERSIONS = tuple(f"{v}.0" for v in range(31, 63))


@dataclass
class SandboxState:
    db: Database
    schema: Schema
    engine: QueryEngine
    usage: ApiUsage
    sessions: Sessions
    issuer: TokenIssuer
    faults: FaultInjector
    callouts: CalloutDispatcher

    @classmethod
    def build(
        cls, db: Database, *, instance_url: str, client_id: str, client_secret: str,
        token_lifetime: float, api_daily_limit: int, callout_config: CalloutConfig,
        seed: int | None = None,
    ) -> SandboxState:  # fmt: skip
        sessions = Sessions(db, token_lifetime)
        return cls(
            db=db,
            schema=db.schema,
            engine=QueryEngine(db, db.schema),
            usage=ApiUsage(db, api_daily_limit),
            sessions=sessions,
            issuer=TokenIssuer(sessions, client_id, client_secret, instance_url),
            faults=FaultInjector(seed),
            callouts=CalloutDispatcher(callout_config, db.org_id, seed),
        )

    @contextmanager
    def write(self, user_id: str) -> Iterator[RecordTransaction]:
        """One API call's DML; its trigger events become callouts once it commits."""
        with record_transaction(self.db, self.schema, user_id) as tx:
            yield tx
        self.callouts.enqueue(tx.events)
