"""The Coalescer: batches what one loop turn queues, overlaps flushes up to max_inflight, and
never strands a caller (the next submit after a flush, a cancelled collector)."""

from __future__ import annotations

import asyncio

from bridge.coalesce import Coalescer


async def test_one_loop_turn_is_one_flush_and_each_caller_gets_its_result() -> None:
    calls: list[list[int]] = []

    async def flush(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        return [ValueError(i) if i == 3 else i * 10 for i in items]

    coalescer: Coalescer[int, int] = Coalescer(flush)
    results = await asyncio.gather(*(coalescer.submit(i) for i in range(5)), return_exceptions=True)
    assert calls == [[0, 1, 2, 3, 4]]
    assert results[:3] == [0, 10, 20] and isinstance(results[3], ValueError) and results[4] == 40


async def test_a_submit_right_after_a_flush_is_served() -> None:
    async def flush(items: list[int]) -> list[int]:
        return items

    coalescer: Coalescer[int, int] = Coalescer(flush)
    for i in range(50):  # each submit arrives just as the previous flusher finishes
        assert await asyncio.wait_for(coalescer.submit(i), 1) == i


async def test_flushes_overlap_up_to_max_inflight() -> None:
    running, peak = 0, 0
    gate = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1
        return items

    coalescer: Coalescer[int, int] = Coalescer(flush, max_inflight=3)
    waiting = []
    for i in range(6):  # one submit per loop turn: each may start its own flush
        waiting.append(asyncio.ensure_future(coalescer.submit(i)))
        await asyncio.sleep(0.01)
    assert peak == 3  # the rest queue for whichever flush finishes first
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(*waiting), 1) == list(range(6))


async def test_a_failed_flush_fails_its_batch_only() -> None:
    attempts = 0

    async def flush(items: list[int]) -> list[int]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("redis went away")
        return items

    coalescer: Coalescer[int, int] = Coalescer(flush)
    first = await asyncio.gather(coalescer.submit(1), return_exceptions=True)
    assert isinstance(first[0], ConnectionError)
    assert await coalescer.submit(2) == 2
