"""A small process supervisor for `bridge up`: start children, watch them, stop them all.

Each child runs in its own session (process group), so:
- Ctrl-C in the terminal reaches only `bridge up`, which then stops the children in order
  (apps first, Redis last) instead of every process racing to exit at once;
- stopping a child can sweep its whole group, including grandchildren (Celery pool processes).
On Linux each child also gets PR_SET_PDEATHSIG, so even a SIGKILLed `bridge up` takes its
children with it. Children's output is prefixed with their name, one line at a time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    # Resolved here, in the parent: the child between fork and exec (where other threads'
    # locks may be held) only calls a function pointer.
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    # Lower tiers are stopped later: infrastructure (Redis) outlives the apps that use it.
    tier: int
    stop_timeout: float
    reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


class Supervisor:
    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.children: list[Child] = []
        self._write_lock = threading.Lock()
        self._width = 7

    def say(self, name: str, text: str) -> None:
        with self._write_lock:
            for line in text.splitlines() or [""]:
                self.out.write(f"{name:<{self._width}}| {line}\n")
            self.out.flush()

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        tier: int = 2,
        stop_timeout: float = 15.0,
    ) -> Child:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child = Child(name, process, tier, stop_timeout)
        child.reader = threading.Thread(
            target=self._relay, args=(child,), name=f"relay-{name}", daemon=True
        )
        child.reader.start()
        self.children.append(child)
        return child

    def _relay(self, child: Child) -> None:
        assert child.process.stdout is not None
        for raw in iter(child.process.stdout.readline, b""):
            self.say(child.name, raw.decode(errors="replace").rstrip("\n"))

    def watch(self, stop: threading.Event, poll: float = 0.3) -> Child | None:
        """Block until `stop` is set (None) or a child exits on its own (that child)."""
        while not stop.wait(poll):
            for child in self.children:
                if not child.alive():
                    return child
        return None

    def first_dead(self) -> Child | None:
        return next((child for child in self.children if not child.alive()), None)

    def stop_all(self) -> None:
        """SIGTERM each tier's leaders, wait, SIGKILL whatever is left of their groups."""
        for tier in sorted({child.tier for child in self.children}, reverse=True):
            group = [child for child in self.children if child.tier == tier]
            for child in group:
                if child.alive():
                    # The leader only: a Celery worker then finishes its running tasks and
                    # stops its own pool; signalling the pool directly would kill them mid-task.
                    with contextlib.suppress(ProcessLookupError):
                        child.process.terminate()
            deadline = time.monotonic() + max(child.stop_timeout for child in group)
            for child in group:
                remaining = max(0.0, deadline - time.monotonic())
                try:
                    child.process.wait(remaining)
                except subprocess.TimeoutExpired:
                    self.say("up", f"{child.name} did not stop in time; killing it")
                # Always sweep the group: grandchildren must not outlive their parent.
                _kill_group(child.pid)
                if child.alive():
                    child.process.wait(5)
        for child in self.children:
            if child.reader is not None:
                child.reader.join(2)

    def kill_all(self) -> None:
        """The impatient way out (a second Ctrl-C): SIGKILL every child's group now."""
        for child in self.children:
            _kill_group(child.pid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def install_stop_handlers(stop: threading.Event, on_second: Callable[[], None]) -> None:
    """SIGINT/SIGTERM set `stop`; a second one calls `on_second` (hurry up)."""

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            on_second()
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
