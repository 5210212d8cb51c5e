"""Two beat processes with redbeat: one holds the lock and sends each run once; when it stops,
the other takes over."""

from __future__ import annotations

import signal
import sys
import time

import pytest
import redis

from tests.e2e.beat_app import TICK_QUEUE
from tests.e2e.conftest import Processes

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

BEAT = [sys.executable, "-m", "celery", "-A", "tests.e2e.beat_app", "beat"]
SENT = "Sending due task e2e-tick"


def ticks_during(client: redis.Redis, seconds: float) -> int:
    before = client.llen(TICK_QUEUE)
    time.sleep(seconds)
    return int(client.llen(TICK_QUEUE)) - int(before)


def test_two_beats_send_each_run_once_and_fail_over(
    processes: Processes, stack_env: dict[str, str], rdb: redis.Redis
) -> None:
    env = {**stack_env, "BRIDGE_BEAT_MAX_LOOP_INTERVAL": "1", "BRIDGE_REDBEAT_LOCK_TIMEOUT": "5"}
    leader = processes.start("beat-a", BEAT, env)
    leader.wait_for_log("beat: Acquired lock")
    follower = processes.start("beat-b", BEAT, env)
    follower.wait_for_log("beat: Starting...")
    time.sleep(1.0)

    # A one-second entry over 6 s: about 6 messages, all sent by the lock holder. (Without
    # the lock redbeat's shared last-run times keep the count near 6 too, but both beats send.)
    assert 4 <= ticks_during(rdb, 6.0) <= 7
    assert "Acquired lock" not in follower.log()
    assert SENT not in follower.log()
    assert leader.log().count(SENT) >= 6
    assert follower.process.poll() is None  # waiting for the lock, not crashed

    leader.process.send_signal(signal.SIGTERM)  # a clean stop releases the lock
    leader.process.wait(15)
    assert "beat: Releasing lock" in leader.log()
    follower.wait_for_log("beat: Acquired lock", timeout=10)
    assert 2 <= ticks_during(rdb, 4.0) <= 5
    assert SENT in follower.log()
