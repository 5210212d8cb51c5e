"""The documented AI credit bands at their edges (bridge/ai/credits.py)."""

from __future__ import annotations

import pytest

from bridge.ai.credits import MAX_CREDITS, MAX_TEXT_CREDITS, credits_for


@pytest.mark.parametrize(
    ("chars", "credits"),
    [
        (0, 1),  # an empty answer still costs the simple band's first credit
        (1, 1),
        (200, 1),
        (201, 2),
        (600, 3),  # the top of the simple band
        (601, 4),  # the first character of the standard band
        (1_200, 4),
        (1_201, 5),
        (2_400, 6),  # the top of the standard band
        (2_401, 7),  # the first character of the complex band
        (3_600, 7),
        (3_601, 8),
        (9_600, 12),
        (9_601, 12),  # capped
        (1_000_000, 12),
    ],
)
def test_text_bands(chars: int, credits: int) -> None:
    assert credits_for(chars) == credits


def test_json_output_adds_one_or_two_on_top_of_the_cap() -> None:
    assert credits_for(600, json_output=True) == 4
    assert credits_for(601, json_output=True, json_retried=True) == 6
    assert credits_for(50_000, json_output=True) == MAX_TEXT_CREDITS + 1
    assert credits_for(50_000, json_output=True, json_retried=True) == MAX_CREDITS == 14
    assert credits_for(50_000, json_retried=True) == MAX_TEXT_CREDITS  # no JSON, no surcharge
