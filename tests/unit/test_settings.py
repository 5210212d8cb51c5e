"""Settings: Heroku-style names, typed defaults, and .env.example kept in step."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings, render_env_example


def test_env_example_lists_every_setting() -> None:
    path = Path(__file__).resolve().parents[2] / ".env.example"
    assert path.read_text() == render_env_example(), (
        "regenerate: python -m config.settings > .env.example"
    )


def test_heroku_names_and_postgres_urls(monkeypatch) -> None:
    monkeypatch.setenv("PORT", "5050")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/bridge")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/1")
    settings = Settings(_env_file=None)
    assert settings.port == 5050
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/bridge"
    assert settings.broker_url == settings.result_backend == "redis://cache:6379/1"


def test_sqlite_default_in_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
