"""The gateway's message-log writer (gateway/message_log.py): batched, never awaited,
bounded when Redis is slow. Against the real Redis, and a server that never answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ocpp_worker.gateway.message_log import MessageLogWriter
from ocpp_worker.state import message_log
from ocpp_worker.state.message_log import Frame, Retention

RETAIN = Retention(1000, 7)


class CountingRedis:
    """The real asyncio client, counting the pipelines it hands out."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.pipelines = 0

    def pipeline(self, transaction: bool = True) -> object:
        self.pipelines += 1
        return self.redis.pipeline(transaction=transaction)


@pytest.fixture
async def aredis(fresh) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(fresh.settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def settle(writer: MessageLogWriter) -> None:
    for _ in range(100):
        await asyncio.sleep(0.01)
        if writer._writer is None:
            return
    raise AssertionError("the writer did not finish")


async def test_frames_gathered_in_a_few_ms_are_one_pipeline(fresh, aredis):
    counting = CountingRedis(aredis)
    writer = MessageLogWriter(counting, fresh.keys, RETAIN)
    for n in range(50):
        writer.record(Frame(f"CP{n % 5}", "in", f'[2,"m{n}","Heartbeat",{{}}]'))
    assert counting.pipelines == 0  # nothing is written while the turn runs
    await settle(writer)
    assert counting.pipelines == 1
    assert [message_log.count(fresh, fresh.keys, f"CP{n}") for n in range(5)] == [10] * 5
    newest = message_log.page(fresh, fresh.keys, "CP0", limit=3)
    assert [m.message_id for m in newest] == ["m45", "m40", "m35"]
    ttl = fresh.redis.ttl(fresh.keys.message_log("CP0"))
    assert 0 < ttl <= 7 * 86400  # trimmed by age with the first write of the window
    assert writer.dropped == 0


async def test_off_writes_nothing(fresh, aredis):
    writer = MessageLogWriter(aredis, fresh.keys, Retention(0, 7))
    writer.record(Frame("CP1", "in", "[2]"))
    await asyncio.sleep(0.05)
    assert writer._writer is None and not fresh.redis.exists(fresh.keys.message_log("CP1"))


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts and never answers: Redis at its slowest."""
    peers: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        peers.append(w)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for w in peers:
            w.close()
        server.close()


async def test_a_stalled_redis_costs_drops_not_memory_or_time(fresh):
    async with silent_server() as port:
        no_retry = Retry(NoBackoff(), 0)
        stalled = aioredis.Redis(port=port, socket_timeout=0.3, retry=no_retry, decode_responses=True)
        writer = MessageLogWriter(stalled, fresh.keys, RETAIN, max_queued=100, flush_every_s=0.01)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(30):
            writer.record(Frame("CP1", "in", f'[2,"a{n}","Heartbeat",{{}}]'))
        await asyncio.sleep(0.05)  # the first batch is out, waiting on the silent server
        for n in range(500):
            writer.record(Frame("CP1", "in", f'[2,"b{n}","Heartbeat",{{}}]'))
        assert loop.time() - started < 0.3  # recording never waited for Redis
        assert len(writer._queue) == 100 and writer.dropped == 400
        for _ in range(300):  # both batches time out (socket_timeout) and are dropped too
            await asyncio.sleep(0.02)
            if writer._writer is None:
                break
        assert writer._writer is None and writer.dropped == 530
        with contextlib.suppress(Exception):
            await stalled.aclose()
    # the next write that works adds the drops to the shared counter
    real = aioredis.Redis.from_url(fresh.settings.redis_url, decode_responses=True)
    writer.redis = real
    writer.record(Frame("CP1", "in", '[2,"c","Heartbeat",{}]'))
    await settle(writer)
    await real.aclose()
    assert fresh.redis.get(fresh.keys.message_log_dropped) == "530"
    assert [m.message_id for m in message_log.page(fresh, fresh.keys, "CP1")] == ["c"]


async def test_a_new_authorization_key_is_never_kept(fresh, aredis):
    secret = "0123456789ABCDEF0123"
    writer = MessageLogWriter(aredis, fresh.keys, RETAIN)
    change = f'[2,"k1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{secret}"}}]'
    report = (
        f'[3,"k2",{{"configurationKey":[{{"key":"AuthorizationKey","readonly":false,"value":"{secret}"}}]}}]'
    )
    writer.record(Frame("CP1", "out", change))
    writer.record(Frame("CP1", "in", report, answers="GetConfiguration"))
    await settle(writer)
    kept = [m.frame for m in message_log.page(fresh, fresh.keys, "CP1", limit=10)]
    assert len(kept) == 2 and all("[REDACTED]" in frame for frame in kept)
    assert not any(secret in frame for frame in kept)
    assert secret not in str(fresh.redis.xrange(fresh.keys.message_log("CP1")))
