"""`bridge keys` and `bridge credits` against a real, migrated SQLite file."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.db import Database
from bridge.tenants.service import KeyStatus, hash_key, verify_key
from bridge.tenants.tables import ApiKey
from config.settings import get_settings


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_create_list_revoke(cli: CliRunner, database_url: str) -> None:
    made = cli.invoke(main, ["keys", "create", "--tenant", "acme", "--name", "website",
                             "--scope", "forms", "--origin", "https://acme.example"])  # fmt: skip
    assert made.exit_code == 0, made.output
    key = re.search(r"^(brk_[0-9a-f]{16}_\S+)$", made.output, re.M)
    assert key is not None
    key_id = key.group(1).split("_")[1]
    assert f"key id:  {key_id}" in made.output

    db = Database(database_url)
    try:
        with db.session() as session:
            row = session.get(ApiKey, key_id)
            assert row is not None
            assert row.key_hash == hash_key(key.group(1))  # only the hash is stored
            assert key.group(1) not in str(vars(row))
            assert row.scopes == ["forms"] and row.allowed_origins == ["https://acme.example"]
        assert verify_key(db, key.group(1)).status is KeyStatus.VALID

        listed = cli.invoke(main, ["keys", "list"])
        assert listed.exit_code == 0
        assert key_id in listed.output and "active" in listed.output and "[forms]" in listed.output
        assert key.group(1).split("_", 2)[2] not in listed.output  # never the secret

        revoked = cli.invoke(main, ["keys", "revoke", key_id])
        assert revoked.exit_code == 0 and f"revoked {key_id}" in revoked.output
        assert verify_key(db, key.group(1)).status is KeyStatus.REVOKED
        assert "revoked" in cli.invoke(main, ["keys", "list", "--tenant", "acme"]).output
        assert cli.invoke(main, ["keys", "list", "--tenant", "nobody"]).output == "no keys\n"
        again = cli.invoke(main, ["keys", "revoke", key_id])
        assert "already revoked" in again.output
        missing = cli.invoke(main, ["keys", "revoke", "0000000000000000"])
        assert missing.exit_code != 0 and "no key" in missing.output
    finally:
        db.dispose()


def test_credits_grant_and_show(cli: CliRunner) -> None:
    granted = cli.invoke(main, ["credits", "grant", "--tenant", "acme", "250"])
    assert granted.exit_code == 0, granted.output
    assert "remaining 250" in granted.output
    cli.invoke(main, ["credits", "grant", "--tenant", "acme", "50"])
    shown = cli.invoke(main, ["credits", "show", "--tenant", "acme"])
    assert "300 remaining of 300" in shown.output
    assert cli.invoke(main, ["credits", "grant", "--tenant", "acme", "0"]).exit_code != 0
    assert cli.invoke(main, ["credits", "show", "--tenant", "nobody"]).exit_code != 0
