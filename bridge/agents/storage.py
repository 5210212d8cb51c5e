"""Where run results go: an object store with a local directory as the default (`file://`
paths) and S3-compatible storage through boto3 when a bucket is configured.

Keys follow the documented naming: results `{prefix}/{entity_type}/{slug}-batch_{date}_{run}.csv`,
credits `{prefix}/{entity_type}/{slug}/{date}/{run}_credits.csv`.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from bridge.agents.columns import SLUGS
from config.settings import Settings


class StorageError(Exception):
    """The object store refused or failed a read or write."""


class ObjectStore(Protocol):
    def url(self, key: str) -> str: ...
    def put(self, key: str, data: bytes, content_type: str = "text/csv") -> str: ...
    def get(self, key: str) -> bytes: ...


def result_key(prefix: str, agent: str, entity_type: str, day: date, run_id: str) -> str:
    return _join(prefix, entity_type, f"{SLUGS[agent]}-batch_{day.isoformat()}_{run_id}.csv")


def credits_key(prefix: str, agent: str, entity_type: str, day: date, run_id: str) -> str:
    return _join(prefix, entity_type, SLUGS[agent], day.isoformat(), f"{run_id}_credits.csv")


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class LocalStore:
    """A directory; writes are atomic (temp file + rename), so a reader never sees half a CSV."""

    prefix = ""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def url(self, key: str) -> str:
        return (self.root / key).as_uri()

    def put(self, key: str, data: bytes, content_type: str = "text/csv") -> str:
        path = self.root / key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"cannot write {self.url(key)}: {exc.strerror}") from None
        return self.url(key)

    def get(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {self.url(key)}: {exc.strerror}") from None


class S3Store:
    def __init__(
        self, bucket: str, prefix: str = "", client: Any = None, **client_args: Any
    ) -> None:
        import boto3  # only needed when S3 is configured

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client("s3", **client_args)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        args: dict[str, Any] = {"region_name": settings.agents_s3_region}
        if settings.agents_s3_endpoint_url:
            args["endpoint_url"] = settings.agents_s3_endpoint_url
        key_id = settings.agents_s3_access_key_id.get_secret_value()
        if key_id:
            args["aws_access_key_id"] = key_id
            args["aws_secret_access_key"] = settings.agents_s3_secret_access_key.get_secret_value()
        return cls(settings.agents_s3_bucket, settings.agents_s3_prefix, **args)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, data: bytes, content_type: str = "text/csv") -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot write {self.url(key)}: {_reason(exc)}") from None
        return self.url(key)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot read {self.url(key)}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    return str(error.get("Code") or type(exc).__name__)


def store_from_settings(settings: Settings) -> LocalStore | S3Store:
    if settings.agents_s3_bucket:
        return S3Store.from_settings(settings)
    root = Path(settings.agents_storage_dir) if settings.agents_storage_dir else None
    return LocalStore(root or settings.data_dir / "agents")


def key_of(store: LocalStore | S3Store, path: str) -> str:
    """The key inside `store` of a result path it handed out (file:// or s3://)."""
    parsed = urlparse(path)
    if isinstance(store, S3Store):
        if parsed.scheme != "s3" or parsed.netloc != store.bucket:
            raise StorageError(f"{path} is not in bucket {store.bucket}")
        return parsed.path.lstrip("/")
    local = Path(unquote(parsed.path)).resolve()
    try:
        return local.relative_to(store.root).as_posix()
    except ValueError:
        raise StorageError(f"{path} is not under {store.root}") from None
