"""The polling status's lag: time since the poll last caught up, not the newest record's age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.triggers.models import PollingObjectStatus
from bridge.triggers.tables import PollState


def state(*, watermark_age: timedelta | None, polled_ago: timedelta | None,
          error: str | None = None) -> PollState:  # fmt: skip
    now = datetime.now(UTC)
    return PollState(
        tenant_id=1,
        object="Lead",
        watermark_ts=now - watermark_age if watermark_age is not None else None,
        watermark_id="00Q000000000001AAA" if watermark_age is not None else None,
        last_poll_time=now - polled_ago if polled_ago is not None else None,
        last_error=error,
    )


def test_a_quiet_object_polled_recently_has_little_lag() -> None:
    # Nothing changed for three days, but the poll 30 s ago read everything there was.
    status = PollingObjectStatus.from_state(
        state(watermark_age=timedelta(days=3), polled_ago=timedelta(seconds=30))
    )
    assert status.lag_seconds == pytest.approx(30, abs=5)


def test_a_poll_that_stopped_early_counts_from_the_watermark() -> None:
    status = PollingObjectStatus.from_state(
        state(
            watermark_age=timedelta(hours=2),
            polled_ago=timedelta(seconds=30),
            error="RequestLimitExceeded: budget share reached",
        )
    )
    assert status.lag_seconds == pytest.approx(7200, abs=5)


def test_never_polled_has_no_lag_and_a_drained_empty_object_has_the_poll_age() -> None:
    assert (
        PollingObjectStatus.from_state(state(watermark_age=None, polled_ago=None)).lag_seconds
        is None
    )
    status = PollingObjectStatus.from_state(
        state(watermark_age=None, polled_ago=timedelta(minutes=2))
    )
    assert status.lag_seconds == pytest.approx(120, abs=5)
