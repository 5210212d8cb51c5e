"""The bridge's own secret: signs export cursors, encrypts dashboard sessions.

From `BRIDGE_SECRET_KEY` when set; otherwise generated once and kept in `data_dir/secret_key`
(mode 0600), so web processes sharing a data directory agree and restarts keep sessions.
Deployments whose web processes do not share a disk must set the variable.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from config.settings import Settings

FILE_NAME = "secret_key"


def secret_key(settings: Settings) -> bytes:
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.data_dir / FILE_NAME
    with contextlib.suppress(FileNotFoundError):
        return _read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a private temp file, then linked into place: link() refuses to replace,
    # so when two processes start at once one key wins and both read it, never a partial file.
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    value = path.read_text().strip()
    if len(value) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to make a new one")
    return value.encode()
