"""The session archive with every part real: `ocpp` chargers over WebSockets, the
gateway, bridge and Celery workers as processes (an archiver on ``ocpp.archive``), the
API on the same store, on SQLite and on PostgreSQL (when reachable: tests/support/archive.py)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from api import create_app
from ocpp_worker.archive.models import ChargingSession, MeterValue
from ocpp_worker.state import transactions
from tests.api.conftest import Api, eventually, ok
from tests.support.archive import postgres_database
from tests.support.chargers import ChargerFactory
from tests.support.stack import private_stack

pytestmark = pytest.mark.slow

RETENTION_S = 3


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[dict[str, str]]:
    """The stack's DATABASE_URL (SQLite: private_stack's own file in tmp_path)."""
    if request.param == "sqlite":
        yield {"DATABASE_URL": f"sqlite:///{tmp_path}/archive.sqlite3"}
    else:
        with postgres_database() as url:
            yield {"DATABASE_URL": url}


def _archived(engine: Engine, tx_id: int) -> tuple[int, int]:
    """(session rows, meter value rows) of `tx_id` in the stack's archive."""
    with engine.connect() as sql:
        sessions = (
            select(func.count()).select_from(ChargingSession).where(ChargingSession.transaction_id == tx_id)
        )
        samples = select(func.count()).select_from(MeterValue).where(MeterValue.transaction_id == tx_id)
        return sql.scalar(sessions) or 0, sql.scalar(samples) or 0


@contextlib.contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


async def test_sessions_are_archived_and_read_the_same_once_redis_lets_go(tmp_path, database):
    env = {"OCPP_REDIS_RETENTION_HOURS": str(RETENTION_S / 3600), **database}
    with private_stack(tmp_path, env) as (stack, store), _engine(database["DATABASE_URL"]) as engine:
        stack.start_worker("archiver", queues="ocpp.archive")
        api = Api(create_app(store=store, config={"API_TOKEN": None}))
        factory = ChargerFactory(stack.ws_url)
        try:
            cp = await factory.connect("CP-ARCHIVE")
            tx_id = await cp.session(connector=1, id_tag="TAG-A", samples=4)
            # the JSON while Redis holds the session (before the archiver retires it, or after)
            before = ok(await api.get(f"/api/v1/transactions/{tx_id}"))
            samples_before = ok(await api.get(f"/api/v1/transactions/{tx_id}/meter-values"))
            assert before["status"] == "completed" and samples_before["total"] >= 4

            async def archived() -> bool:
                return await asyncio.to_thread(_archived, engine, tx_id) == (1, samples_before["total"])

            assert await eventually(archived, timeout=15)
            assert await eventually(
                lambda: asyncio.to_thread(lambda: transactions.get(store, tx_id) is None),
                timeout=RETENTION_S + 10,
            ), "the session should have expired from Redis"
            assert ok(await api.get(f"/api/v1/transactions/{tx_id}")) == before
            assert ok(await api.get(f"/api/v1/transactions/{tx_id}/meter-values")) == samples_before
            listed = ok(await api.get("/api/v1/transactions?clientId=CP-ARCHIVE"))
            assert listed == {"items": [before], "total": 1}
            assert ok(await api.get("/api/v1/transactions?clientId=CP-ARCHIVE&status=active"))["total"] == 0
            # an active session stays in Redis, and lists beside the archived one
            active_id = await cp.start_session(2, "TAG-B")
            page = ok(await api.get("/api/v1/transactions?clientId=CP-ARCHIVE"))
            assert [tx["transactionId"] for tx in page["items"]] == [active_id, tx_id]
            assert store.redis.ttl(store.keys.transaction(active_id)) == -1  # no expiry set
        finally:
            await factory.close_all()


async def test_an_archiver_killed_mid_archive_loses_nothing(tmp_path, database):
    """The archiver is stopped dead while its SQL insert waits for a lock the test holds;
    its lease on the session ends, beat's sweep gives the session back, and another
    archiver writes it once."""
    env = {"OCPP_ARCHIVE_LEASE_S": "3", "OCPP_ARCHIVE_SWEEP_S": "1", **database}
    with private_stack(tmp_path, env) as (stack, store), _engine(database["DATABASE_URL"]) as engine:
        first = stack.start_worker("archiver1", queues="ocpp.archive")
        factory = ChargerFactory(stack.ws_url)
        blocker = engine.connect()
        try:
            cp = await factory.connect("CP-KILLED")
            # the archive's session inserts wait behind this until it ends
            if engine.dialect.name == "sqlite":
                blocker.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                blocker.execute(text("LOCK TABLE charging_sessions IN EXCLUSIVE MODE"))
            tx_id = await cp.session(connector=1, id_tag="TAG-K", samples=3)
            samples = transactions.sample_count(store, tx_id)
            deadline = time.monotonic() + 10
            while store.redis.zscore(store.keys.transactions_archiving, str(tx_id)) is None:
                assert time.monotonic() < deadline, "the archiver never took the session"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # inside the SQL insert, waiting on the lock
            first.kill()
            blocker.rollback()
            assert _archived(engine, tx_id) == (0, 0)
            stack.start_worker("archiver2", queues="ocpp.archive")
            stack.start(
                "beat", [sys.executable, "-m", "celery", "-A", "ocpp_worker", "beat", "--loglevel", "INFO"]
            )

            async def archived() -> bool:
                return await asyncio.to_thread(_archived, engine, tx_id) == (1, samples)

            assert await eventually(archived, timeout=30)
            assert transactions.waiting_for_archive(store) == []
        finally:
            blocker.close()
            await factory.close_all()
