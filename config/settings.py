"""Every setting of the bridge, read from the environment (and an optional `.env`).

This is the only module that reads the environment. Names follow Heroku conventions where one
exists (`PORT`, `REDIS_URL`, `DATABASE_URL`); the rest carry a `BRIDGE_` prefix.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BRIDGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- runtime -------------------------------------------------------------------------
    environment: Literal["development", "production", "test"] = Field(
        "development", description="Selects log format (console in development, JSON otherwise)."
    )
    host: str = Field("127.0.0.1", description="Interface the web process binds to.")
    port: int = Field(
        8000, validation_alias=AliasChoices("PORT", "BRIDGE_PORT"), description="Web port."
    )
    data_dir: Path = Field(
        Path("var"),
        description="Local state for embedded defaults: SQLite file, embedded Redis, sandbox.",
    )
    log_level: str = Field("INFO", description="Root log level.")
    log_json: bool | None = Field(
        None, description="Force JSON (true) or console (false) logs; default by environment."
    )
    log_personal_data: bool = Field(
        False,
        description="Debug only: let emails and phones through log redaction. Secrets never pass.",
    )

    # --- storage -------------------------------------------------------------------------
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "BRIDGE_REDIS_URL"),
        description="Redis for rate limits, queues, locks, the Celery broker and results.",
    )
    database_url: str = Field(
        "",
        validation_alias=AliasChoices("DATABASE_URL", "BRIDGE_DATABASE_URL"),
        description="SQLAlchemy URL; empty means a SQLite file in data_dir. "
        "postgres:// and postgresql:// URLs use psycopg 3.",
    )

    # --- HTTP ----------------------------------------------------------------------------
    max_body_bytes: int = Field(1_048_576, description="Largest request body accepted (413 above).")
    web_threads: int = Field(
        32, ge=1, le=512, description="Worker threads of a web process for blocking work (SQL, "
        "enrichment, sync Redis): most of it waits on I/O, so more than the CPU count."
    )
    # Per key and API area; 0 turns the area's limit off, a negative value is refused.
    rate_limit_sync_per_min: int = Field(
        50, ge=0, description="Sync API requests per key per minute (0: no limit)."
    )
    rate_limit_batch_per_min: int = Field(
        1, ge=0, description="Batch agent requests per key per minute (0: no limit)."
    )
    rate_limit_credits_per_min: int = Field(
        10, ge=0, description="Credits API requests per key per minute (0: no limit)."
    )
    rate_limit_triggers_per_min: int = Field(
        60_000, ge=0, description="Trigger/webhook requests per key per minute (high-burst "
        "area; 0: no limit)."
    )
    rate_limit_logs_per_min: int = Field(
        10, ge=0, description="Route log exports per key per minute (0: no limit)."
    )
    rate_limit_logs_large_per_min: int = Field(
        2, ge=0, description="Route log exports above 5,000 rows per key per minute (0: no limit)."
    )
    rate_limit_stats_per_min: int = Field(
        20, ge=0, description="Log statistics per key per minute (0: no limit)."
    )
    rate_limit_forms_per_min: int = Field(
        6_000, ge=0, description="Form submits per key per minute (0: no limit)."
    )
    rate_limit_workflows_per_min: int = Field(
        60_000, ge=0, description="Workflow triggers per key per minute (high-burst area; "
        "0: no limit)."
    )

    # --- Celery --------------------------------------------------------------------------
    celery_broker_url: str = Field("", description="Broker URL; empty means REDIS_URL.")
    celery_result_backend: str = Field("", description="Result backend; empty means REDIS_URL.")
    celery_always_eager: bool = Field(False, description="Run tasks inline (debugging only).")
    task_max_retries: int = Field(8, description="Retries before a task goes to dead letters.")
    task_retry_backoff_max: int = Field(600, description="Largest retry delay in seconds.")
    task_time_limit: int = Field(
        900, description="Hard limit on one task run in seconds (soft limit at 90%)."
    )
    broker_visibility_timeout: int = Field(
        3600,
        description="Seconds before an unacked task is redelivered; > longest countdown + run.",
    )
    beat_max_loop_interval: int = Field(10, description="Beat loop interval in seconds.")
    redbeat_lock_timeout: int = Field(75, description="Seconds the redbeat leader lock lives.")
    poll_interval_seconds: int = Field(120, description="SOQL watermark polling interval.")

    # --- triggers ------------------------------------------------------------------------
    poll_objects: list[str] = Field(
        ["Lead", "Contact", "Account", "Opportunity"],
        description="Objects the polling fallback watches (JSON list in the environment).",
    )
    poll_lookback_seconds: int = Field(
        60, description="Each poll re-reads this far behind its watermark (late-visible rows)."
    )
    poll_initial_lookback_seconds: int = Field(
        3600, description="How far back the very first poll of an object starts."
    )
    trigger_batch_size: int = Field(200, description="Record ids per worker batch (max 200).")
    trigger_batch_linger_seconds: float = Field(
        0.25, description="How long the dispatcher waits to fill a batch before sending it."
    )
    trigger_claim_idle_seconds: float = Field(
        30.0, description="Unacked intake entries older than this are re-dispatched."
    )
    trigger_credit_lease_max: int = Field(
        10_000, ge=1, description="Most credits a trigger-ingest lease moves from the SQL "
        "balance into Redis at once (also never more than 1/20 of the balance)."
    )
    trigger_credit_lease_idle_seconds: float = Field(
        60.0, gt=0, description="A tenant's unspent ingest lease goes back to its SQL balance "
        "after this long without callouts."
    )

    # --- Salesforce ----------------------------------------------------------------------
    sf_auth: Literal["none", "sandbox", "jwt", "client_credentials", "password"] = Field(
        "none", description="How the bridge signs in to Salesforce; 'none' starts the sandbox."
    )
    sf_instance_url: str = Field("", description="Org or sandbox base URL (https://...).")
    sf_login_url: str = Field(
        "https://login.salesforce.com", description="OAuth host for JWT/password flows."
    )
    sf_domain: str = Field("", description="My Domain for client credentials (e.g. acme.my).")
    sf_api_version: str = Field("60.0", description="Salesforce REST/SOAP API version.")
    sf_client_id: str = Field("", description="Connected App consumer key.")
    sf_client_secret: SecretStr = Field(SecretStr(""), description="Connected App consumer secret.")
    sf_username: str = Field("", description="Integration user's username (JWT and password).")
    sf_password: SecretStr = Field(SecretStr(""), description="Integration user's password.")
    sf_security_token: SecretStr = Field(SecretStr(""), description="Password flow security token.")
    sf_private_key_file: Path | None = Field(None, description="PEM key for the JWT bearer flow.")
    sf_ca_bundle: Path | None = Field(
        None, description="CA bundle to trust (the sandbox writes one); default system CAs."
    )
    sf_api_budget_share: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Stop calling Salesforce above this share of the daily limit.",
    )
    sf_max_retries: int = Field(4, description="Retries on UNABLE_TO_LOCK_ROW and 5xx.")
    sf_timeout_seconds: float = Field(30.0, description="HTTP timeout for Salesforce calls.")

    # --- enrichment and pipeline ----------------------------------------------------------
    pipeline_config: Path | None = Field(
        None,
        description="Pipeline YAML (steps per object, conditions, write-back mapping, cascade "
        "order); default: config/pipeline.yaml shipped with the bridge.",
    )
    enrich_upstream_url: str = Field(
        "", description="Base URL of an upstream enrichment API (the documented protocol); "
        "empty: offline provider only."
    )
    enrich_upstream_api_key: SecretStr = Field(
        SecretStr(""), description="Bearer key for the upstream enrichment API."
    )
    enrich_upstream_gdpr_safe: bool = Field(
        False, description="May the upstream provider enrich people in the EU/EEA?"
    )
    enrich_upstream_max_credits: int = Field(
        5, ge=0, description="Upstream credits the pipeline may spend per record."
    )
    enrich_upstream_timeout_seconds: float = Field(10.0, description="Upstream HTTP timeout.")
    enrich_upstream_max_retry_wait_seconds: float = Field(
        5.0, description="Wait out a 429 up to this long; longer retry_after: skip the provider."
    )
    enrich_cache_ttl_seconds: int = Field(
        7 * 24 * 3600, description="How long an enrichment answer is reused (cached: true)."
    )

    # --- matching ------------------------------------------------------------------------
    matching_ai_base_url: str = Field(
        "",
        description="OpenAI-compatible API base (e.g. https://host/v1) for AI matching; "
        "empty: AI mode answers 400.",
    )
    matching_ai_api_key: SecretStr = Field(SecretStr(""), description="Bearer key for it.")
    matching_ai_model: str = Field("", description="Chat model name for AI matching.")
    matching_ai_timeout_seconds: float = Field(30.0, description="Timeout of one AI call.")
    matching_default_region: str = Field(
        "US", description="Region for phone numbers written without a country code."
    )
    matching_index_rebuild_hours: float = Field(
        24.0, description="Full rebuild of each match index this often (refresh in between)."
    )

    # --- sandbox -------------------------------------------------------------------------
    sandbox_port: int = Field(8443, description="Port `bridge up` gives the local sandbox.")

    # --- routing and idempotency keys ----------------------------------------------------
    routing_pools_file: Path | None = Field(
        Path("config/pools.yaml"),
        description="YAML file of round-robin pools created at start-up when missing.",
    )
    routing_active_users_ttl_seconds: float = Field(
        60.0, gt=0, description="How long Salesforce's list of active users is trusted."
    )
    routing_pool_cache_seconds: float = Field(
        2.0, ge=0, description="How long a process trusts a pool definition it read."
    )
    routing_replay_days: int = Field(
        30, ge=1, description="A record assigned in a pool gets the same owner for this long."
    )
    routing_pipeline_pools: dict[str, str] = Field(
        {},
        description="Pipeline assign step: object -> pool, e.g. {\"Lead\": \"inbound\"} "
        "(JSON in the environment); empty: the pipeline assigns nothing.",
    )
    idempotency_ttl_seconds: int = Field(
        86400, ge=86400, description="How long an Idempotency-Key's response is replayed."
    )
    idempotency_lock_seconds: int = Field(
        120, ge=5, description="How long a running request holds its Idempotency-Key."
    )

    # --- lead conversion -------------------------------------------------------------------
    conversion_create_opportunity: bool = Field(
        False, description="Lead conversion also creates an Opportunity (convertLead's default)."
    )
    conversion_refresh_index: bool = Field(
        True,
        description="Refresh the tenant's match index from Salesforce before the duplicate "
        "pre-check, so records created since the last poll are found.",
    )

    # --- AI enrichment, deep research, batch agents -----------------------------------------
    ai_base_url: str = Field(
        "",
        description="OpenAI-compatible API base (e.g. https://host/v1) for /v1/enrich/ai, "
        "/v1/enrich/research and the deep-research agent; empty: those answer 503.",
    )
    ai_api_key: SecretStr = Field(SecretStr(""), description="Bearer key for the AI endpoint.")
    ai_model: str = Field("", description="Chat model for every effort level without its own.")
    ai_model_low: str = Field("", description="Chat model for effort=low (default: ai_model).")
    ai_model_medium: str = Field("", description="Chat model for effort=medium (ai_model).")
    ai_model_high: str = Field("", description="Chat model for effort=high (ai_model).")
    ai_timeout_seconds: float = Field(60.0, description="Timeout of one chat-completions call.")
    ai_prompts_dir: Path = Field(
        Path("config/agents"), description="Agent-type system prompts (<agent_type>.md)."
    )
    ai_search_url: str = Field(
        "",
        description="Search tool for research (Tavily-style POST <url>/search); empty: "
        "research answers from the model alone and says so.",
    )
    ai_search_api_key: SecretStr = Field(SecretStr(""), description="Bearer key for search.")
    agents_chunk_size: int = Field(
        50, ge=1, le=200, description="Records per worker task of a batch agent run."
    )
    agents_stale_after_seconds: float = Field(
        300.0, description="A queued/running run silent this long is republished (resume)."
    )
    agents_max_resumes: int = Field(
        20, description="A run republished more often than this is marked failed."
    )
    agents_storage_dir: str = Field(
        "", description="Local result directory (file:// paths); empty: data_dir/agents."
    )
    agents_s3_bucket: str = Field("", description="S3 bucket for agent results; empty: local.")
    agents_s3_prefix: str = Field("", description="Key prefix inside the bucket.")
    agents_s3_endpoint_url: str = Field(
        "", description="S3-compatible endpoint (MinIO and similar); empty: AWS."
    )
    agents_s3_region: str = Field("us-east-1", description="S3 region.")
    agents_s3_access_key_id: SecretStr = Field(
        SecretStr(""), description="S3 access key id; empty: boto3's default chain."
    )
    agents_s3_secret_access_key: SecretStr = Field(SecretStr(""), description="S3 secret key.")

    # --- forms and workflows ----------------------------------------------------------------
    forms_check_deliverability: bool = Field(
        False, description="Form emails: also check the domain accepts mail (DNS lookup)."
    )
    forms_default_region: str = Field(
        "US", description="Region for phones typed without a country code (ISO 3166 alpha-2)."
    )
    forms_sources: dict[str, dict[str, object]] = Field(
        {},
        description="Per form_source: {\"required\": [fields], \"region\": \"DE\"} (JSON); "
        "email is always required.",
    )
    forms_time_budget_seconds: float = Field(
        2.5, gt=0, description="Enrichment time budget per submission; slower providers cut off."
    )
    forms_burst_per_ip: int = Field(
        30, ge=1, description="Form submissions per client IP per 10 seconds (spam burst limit)."
    )
    forms_webhook_attempts: int = Field(
        3, ge=1, le=10, description="Attempts to push a submission to a marketing webhook."
    )
    forms_webhook_secret: SecretStr = Field(
        SecretStr(""),
        description="Standard Webhooks secret (whsec_...) signing marketing-webhook pushes.",
    )
    workflows_config: Path | None = Field(
        None, description="Workflow YAML (named step lists); default: config/workflows.yaml."
    )

    # --- route logs, dashboard, metrics ------------------------------------------------------
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Signs log-export cursors and encrypts dashboard sessions. Empty: a random "
        "key is generated once in data_dir/secret_key (set it when web processes do not share "
        "data_dir).",
    )
    log_cleanup_hour: int = Field(
        2, ge=0, le=23, description="Local hour (tenant time zone) of the daily route-log cleanup."
    )
    log_cleanup_check_minutes: int = Field(
        15, ge=1, le=60, description="How often beat looks for tenants due for cleanup."
    )
    log_cleanup_chunk_rows: int = Field(
        5_000, ge=100, le=100_000, description="Rows deleted per transaction by the cleanup."
    )
    dashboard_refresh_seconds: int = Field(
        15, ge=2, le=3600, description="How often the dashboard page refreshes its data."
    )
    dashboard_session_hours: float = Field(
        8.0, gt=0, le=24 * 30, description="Lifetime of a dashboard sign-in."
    )
    dashboard_cookie_secure: bool = Field(
        True,
        description="Mark the dashboard session cookie Secure (browsers then send it over HTTPS "
        "and to http://localhost only). Turn off only for plain-HTTP access on a trusted LAN.",
    )
    metrics_token: SecretStr = Field(
        SecretStr(""), description="If set, GET /metrics requires `Authorization: Bearer <it>`."
    )
    metrics_flush_seconds: float = Field(
        1.0, gt=0, le=60, description="How often a web process pushes its metric counts to Redis."
    )

    @field_validator("database_url")
    @classmethod
    def _psycopg3(cls, value: str) -> str:
        # Heroku hands out postgres:// URLs; SQLAlchemy wants an explicit driver.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bridge.sqlite3').resolve()}"

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url

    @property
    def result_backend(self) -> str:
        return self.celery_result_backend or self.redis_url

    @property
    def json_logs(self) -> bool:
        if self.log_json is not None:
            return self.log_json
        return self.environment != "development"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings(...)` instead."""
    return Settings()


def render_env_example() -> str:
    """`.env.example`, generated from the fields above (a test keeps the file in step)."""
    lines = [
        "# Every setting of the bridge, with its default. Generated by",
        "#   python -m config.settings > .env.example",
        "",
    ]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = alias.choices[0] if isinstance(alias, AliasChoices) else f"BRIDGE_{name.upper()}"
        default = field.default
        if isinstance(default, SecretStr):
            default = ""
        elif isinstance(default, list):
            import json

            default = json.dumps(default)
        elif default is None:
            default = ""
        lines.append(f"# {field.description}")
        lines.append(f"# {env}={default}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_env_example(), end="")
