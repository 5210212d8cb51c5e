"""Coalescing concurrent calls into one batch: the hot path's answer to per-request I/O.

Every caller queues its item and awaits its own result; one flusher hands everything queued so
far to `flush(items)` (one Redis script call, one SQL transaction) and resolves each caller.
While a flush is in flight, new arrivals queue for the next one, so the batch size grows with
load by itself and an idle service still answers at once (no timer, no linger).

`max_inflight` > 1 lets that many flushes overlap: on a busy machine a Redis round trip takes
long enough that the event loop would otherwise sit idle waiting for it with work queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]],
        max_batch: int = 1000,
        max_inflight: int = 1,
    ) -> None:
        self._flush_fn = flush
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self._collecting = False  # a flusher is waiting for this loop turn's arrivals

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._collecting and len(self._flushers) < self.max_inflight:
            self._collecting = True
            self._flushers.add(asyncio.create_task(self._run()))
        return await future

    async def _run(self) -> None:
        collected = False
        try:
            await asyncio.sleep(0)  # let every handler runnable in this loop turn join the batch
            self._collecting, collected = False, True
            while self._queue:
                await self._flush_next()
        finally:
            if not collected:  # cancelled while collecting: let the next submit start one
                self._collecting = False
            # Synchronously, not in a done callback: a submit in the same loop turn must see
            # that this flusher takes nothing more.
            self._flushers.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _flush_next(self) -> None:
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        try:
            results = await self._flush_fn([item for item, _ in batch])
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
