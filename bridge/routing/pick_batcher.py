"""Group commit for threads: concurrent sync picks share one Redis round trip.

The thread-pool twin of `bridge/coalesce.py`. A caller queues its item; if no flush is running
it becomes the leader, takes everything queued (up to `max_batch`), flushes it in one call and
hands each waiter its result. Whoever queued during that flush waits; when the flush ends the
oldest of them is woken to lead the next one. So each thread leads at most one flush (no caller
is kept serving others), batches grow with load, and an idle caller flushes at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("error", "event", "item", "lead", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.lead = False
        self.event = threading.Event()

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class ThreadCoalescer(Generic[T, R]):
    def __init__(
        self,
        flush: Callable[[list[T]], Sequence[R | BaseException]],
        max_batch: int = 500,
    ) -> None:
        self._flush = flush
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._busy = False

    def submit(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            lead = not self._busy
            self._busy = True
        if not lead:
            slot.event.wait()
            if not slot.lead:
                return slot.outcome()
        self._lead()
        return slot.outcome()

    def _lead(self) -> None:
        with self._lock:  # our own slot is the oldest queued, so it is in this batch
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            results: Sequence[R | BaseException] = self._flush([s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError("flush returned a result count unlike its batch")
        except BaseException as exc:
            results = [exc] * len(batch)
        with self._lock:
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].event.set()
            else:
                self._busy = False
        for slot, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                slot.error = result
            else:
                slot.result = result
            slot.event.set()
