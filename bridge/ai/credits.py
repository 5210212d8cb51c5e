"""The documented credit bands, by the size of the answer.

Simple 1-3 (short), standard 3-6 (medium length), complex 6-12 (long-form); JSON output
+1 for formatting and validation, +2 when a retry was needed to get valid JSON. Size is the
answer's length in characters, so the same answer always costs the same.
"""

from __future__ import annotations

import math

SIMPLE_MAX_CHARS = 600  # up to 3 credits, 1 per 200 characters
STANDARD_MAX_CHARS = 2_400  # 4-6 credits, 1 per further 600 characters
COMPLEX_CHARS_PER_CREDIT = 1_200  # 7-12 credits beyond that
MAX_TEXT_CREDITS = 12
MAX_CREDITS = MAX_TEXT_CREDITS + 2


def credits_for(
    response_chars: int, *, json_output: bool = False, json_retried: bool = False
) -> int:
    chars = max(0, response_chars)
    if chars <= SIMPLE_MAX_CHARS:
        base = max(1, math.ceil(chars / 200))
    elif chars <= STANDARD_MAX_CHARS:
        base = 3 + math.ceil((chars - SIMPLE_MAX_CHARS) / 600)
    else:
        base = 6 + math.ceil((chars - STANDARD_MAX_CHARS) / COMPLEX_CHARS_PER_CREDIT)
    base = min(base, MAX_TEXT_CREDITS)
    if json_output:
        base += 2 if json_retried else 1
    return base
