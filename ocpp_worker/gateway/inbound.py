"""The gateway's writer of the inbound stream: the frames that arrive on all sockets
in one turn of the event loop are appended with one pipelined round trip.

Each `append` still returns only once its frame is in Redis (or raises, and the
caller closes that socket), so a frame is stored before the next one is read from
the same socket; under load, thousands of sockets share a few round trips instead of
one each.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp_worker import transport


class InboundWriter:
    def __init__(self, redis: Any, stream: str) -> None:
        self.redis = redis
        self.stream = stream
        self._pending: list[tuple[dict[str, str], asyncio.Future[None]]] = []
        self._flushing = False
        self._flushes: set[asyncio.Task[None]] = set()  # held, or the loop may drop them

    async def append(self, entry: transport.Inbound) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((transport.encode_inbound(entry), done))
        if not self._flushing:
            self._flushing = True
            flush = asyncio.get_running_loop().create_task(self._flush())  # runs after this turn
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)
        await done

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self._flushing = False
        if not batch:
            return
        pipe = self.redis.pipeline(transaction=False)
        for fields, _ in batch:
            pipe.xadd(self.stream, fields, maxlen=transport.INBOUND_MAXLEN, approximate=True)
        try:
            await pipe.execute()
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)
