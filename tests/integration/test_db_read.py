"""Read transactions do not wait for SQLite's write lock (WAL readers run beside a writer)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from bridge.db import Database
from bridge.tenants.tables import Tenant


def test_reads_proceed_while_a_write_transaction_is_open(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        s.add(Tenant(name="before"))
    holding = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with db.session() as s:
            s.add(Tenant(name="during"))
            s.flush()
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    with db.read() as s:
        names = list(s.scalars(select(Tenant.name)))
    waited = time.monotonic() - started
    release.set()
    thread.join(10)
    assert names == ["before"]  # the open write is not visible yet
    assert waited < 1.0  # and did not block the reader
    with db.read() as s:
        assert sorted(s.scalars(select(Tenant.name))) == ["before", "during"]
    db.dispose()
