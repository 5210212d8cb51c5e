"""Run `bridge web` under cProfile timed by the thread's CPU clock, not the wall clock.

On a shared machine a process spends much of its wall time preempted (py-spy and wall-clock
cProfile then blame whatever syscall it was in); CPU time shows where the work really goes.

    python benchmarks/cpu_profile_web.py OUT.prof bridge-web-args...   (stops on SIGTERM)
"""

from __future__ import annotations

import cProfile
import signal
import sys
import time
from typing import NoReturn

from bridge.cli import main

profile = cProfile.Profile(time.thread_time)


def _stop(*_: object) -> NoReturn:
    profile.disable()
    profile.dump_stats(OUT)
    sys.exit(0)


if __name__ == "__main__":
    OUT = sys.argv[1]
    sys.argv = ["bridge", "web", *sys.argv[2:]]
    signal.signal(signal.SIGTERM, _stop)
    profile.enable()
    try:
        main()
    finally:
        _stop()
