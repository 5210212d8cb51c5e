"""The pick on an asyncio Redis client: every pick queued in one loop turn is one script call.

Handlers on the event loop `await AsyncRotation.pick(args)`; `bridge/coalesce.py` gathers the
picks queued while the previous flush was in flight, `Plan` turns them into one EVALSHA per
pool (the script takes them in queue order, atomically), and all calls of a flush go out in
one write on one connection. Same script, keys and results as the sync `Rotation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio
import redis.exceptions

from bridge.coalesce import Coalescer
from bridge.routing.rotation import PICK_LUA, PickArgs, PickResult, Plan, missing_script


class AsyncRotation:
    def __init__(self, client: redis.asyncio.Redis, max_batch: int = 500) -> None:
        self.client = client
        self._coalescer: Coalescer[PickArgs, PickResult] = Coalescer(self._flush, max_batch)

    async def pick(self, args: PickArgs) -> PickResult:
        return await self._coalescer.submit(args)

    async def _flush(self, batch: list[PickArgs]) -> list[PickResult | Exception]:
        plan = Plan(batch)
        replies = await self._send(plan.commands)
        missing = missing_script(replies)
        if missing:  # Redis restarted or SCRIPT FLUSH: load once, redo only those
            await self.client.script_load(PICK_LUA)
            again = await self._send([plan.commands[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return plan.results(replies)

    async def _send(self, commands: Sequence[bytes]) -> list[Any]:
        pool = self.client.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(list(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except redis.exceptions.ResponseError as exc:
                    replies.append(exc)
            return replies
        finally:
            await pool.release(conn)
