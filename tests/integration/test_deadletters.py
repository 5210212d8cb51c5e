"""Dead letters against real SQL (SQLite, and PostgreSQL when one answers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.db import Database
from bridge.deadletters import service


@pytest.fixture
def store(any_database_url: str) -> Iterator[Database]:
    db = Database(any_database_url)
    yield db
    db.dispose()


def _record(db: Database, **overrides: Any) -> int:
    fields: dict[str, Any] = {
        "task_name": "pipeline.process_batch",
        "task_id": "t-1",
        "args": [7, ["00Q1", "00Q2"]],
        "kwargs": {"tenant_id": 3, "org": "00D1"},
        "error": "ConnectionError: refused while posting for jane@example.com",
        "attempts": 9,
        "tenant_id": 3,
        "request_id": "req-1",
    } | overrides
    with db.session() as session:
        row = service.record(session, **fields)
    return row.id


class Publisher:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, list[Any], dict[str, Any], dict[str, Any]]] = []
        self.fail = fail

    def __call__(
        self, name: str, args: list[Any], kwargs: dict[str, Any], headers: dict[str, Any]
    ) -> str:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((name, args, kwargs, headers))
        return f"new-{len(self.sent)}"


def test_record_keeps_args_and_redacts_the_error(store: Database) -> None:
    row = service.get(store, _record(store))
    assert row.args == [7, ["00Q1", "00Q2"]]
    assert row.kwargs == {"tenant_id": 3, "org": "00D1"}
    assert "jane@example.com" not in row.error
    assert row.status == service.OPEN
    assert row.attempts == 9


def test_list_filters_by_status_newest_first(store: Database) -> None:
    first, second = _record(store), _record(store, task_name="other.task")
    service.replay(store, first, Publisher())
    assert [r.id for r in service.list_dead_letters(store)] == [second]
    assert [r.id for r in service.list_dead_letters(store, status=None)] == [second, first]
    assert service.count(store) == 1
    assert service.count(store, status=service.REPLAYED) == 1


def test_replay_publishes_once_unless_forced(store: Database) -> None:
    dead_letter_id = _record(store)
    publish = Publisher()
    assert service.replay(store, dead_letter_id, publish) == "new-1"
    assert publish.sent == [
        (
            "pipeline.process_batch",
            [7, ["00Q1", "00Q2"]],
            {"tenant_id": 3, "org": "00D1"},
            {"replay_of": dead_letter_id, "replay_of_task": "t-1", "request_id": "req-1"},
        )
    ]
    row = service.get(store, dead_letter_id)
    assert row.status == service.REPLAYED and row.replayed_at is not None

    with pytest.raises(service.AlreadyReplayed):
        service.replay(store, dead_letter_id, publish)
    assert len(publish.sent) == 1
    service.replay(store, dead_letter_id, publish, force=True)
    assert len(publish.sent) == 2


def test_failed_publish_leaves_the_row_open(store: Database) -> None:
    dead_letter_id = _record(store)
    with pytest.raises(ConnectionError):
        service.replay(store, dead_letter_id, Publisher(fail=True))
    assert service.get(store, dead_letter_id).status == service.OPEN


def test_unknown_id(store: Database) -> None:
    with pytest.raises(service.DeadLetterNotFound):
        service.replay(store, 999, Publisher())


def test_cli_list_shows_no_personal_data(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(database_url)
    _record(db, args=["jane@example.com"], error="ValueError: bad phone +1 415 555 0100")
    db.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    from config.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["dead-letters", "list"])
        shown = CliRunner().invoke(main, ["dead-letters", "show", "1"])
        missing = CliRunner().invoke(main, ["dead-letters", "replay", "42"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "pipeline.process_batch" in result.output and "open" in result.output
    assert "jane@example.com" not in result.output and "555" not in result.output
    assert shown.exit_code == 0 and "jane@example.com" not in shown.output
    assert missing.exit_code != 0 and "no dead letter 42" in missing.output
