"""The session archive with a real Redis and a real database (SQLite, and PostgreSQL
when reachable): sessions written once whatever runs twice, read back the same from
either place, and Redis bounded once they are archived."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from ocpp_worker.archive import archiver, history
from ocpp_worker.archive.models import Base, ChargingSession, MeterValue
from ocpp_worker.handlers import Incoming, handle
from ocpp_worker.state import transactions
from ocpp_worker.state.store import Store
from tests.support.archive import archive_engine

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    with archive_engine(request.param, tmp_path) as found:
        yield found


def _call(store: Store, cp_id: str, action: str, payload: dict, now: datetime = NOW) -> dict:
    frame = handle(store, Incoming(cp_id, uuid.uuid4().hex[:12], action, payload), now)
    assert frame is not None
    return json.loads(frame)[2]


def _session(store: Store, cp_id: str, id_tag: str = "TAG1", samples: int = 3, stop: bool = True) -> int:
    """A session as a charger runs it: boot, start, `samples` MeterValues of two values, stop."""
    _call(
        store,
        cp_id,
        "BootNotification",
        {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.2.3"},
    )
    start = {"connectorId": 1, "idTag": id_tag, "meterStart": 1000, "timestamp": "2026-06-01T11:00:00+02:00"}
    tx_id = int(_call(store, cp_id, "StartTransaction", start)["transactionId"])
    for i in range(samples):
        values = [
            {"value": str(1000 + 100 * i), "measurand": "Energy.Active.Import.Register"},
            {"value": "7.5", "measurand": "Power.Active.Import", "unit": "kW", "phase": "L1"},
        ]
        stamp = f"2026-06-01T09:{10 + i}:00Z"
        _call(
            store,
            cp_id,
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx_id,
                "meterValue": [{"timestamp": stamp, "sampledValue": values}],
            },
        )
    if stop:
        _call(
            store,
            cp_id,
            "StopTransaction",
            {
                "transactionId": tx_id,
                "meterStop": 1500,
                "timestamp": "2026-06-01T10:00:00Z",
                "reason": "EVDisconnected",
            },
        )
    return tx_id


def _rows(engine, model, tx_id: int) -> int:
    with engine.connect() as sql:
        return sql.scalar(select(func.count()).select_from(model).where(model.transaction_id == tx_id))


def test_migrations_create_exactly_the_models(engine):
    with engine.connect() as sql:
        assert compare_metadata(MigrationContext.configure(sql), Base.metadata) == []


def test_a_session_is_archived_once_with_every_sample(fresh, engine):
    tx_id = _session(fresh, "CP-A", samples=4)
    before = history.get(fresh, engine, tx_id)
    assert transactions.waiting_for_archive(fresh) == [tx_id]  # in the StopTransaction's commit
    assert archiver.drain(fresh, engine) == {"archived": 1}
    assert _rows(engine, ChargingSession, tx_id) == 1
    assert _rows(engine, MeterValue, tx_id) == 8
    assert transactions.waiting_for_archive(fresh) == []
    # a redelivered task, a second sweep: nothing written twice
    assert archiver.archive(fresh, engine, tx_id) is archiver.Outcome.ALREADY
    assert archiver.drain(fresh, engine) == {}
    # an archiver killed after the SQL commit, before Redis let go of it: its lease ends,
    # the sweep gives the session back, and the next run only retires it
    fresh.redis.zadd(fresh.keys.transactions, {str(tx_id): tx_id})
    fresh.redis.zadd(fresh.keys.transactions_archiving, {str(tx_id): 1})  # a lease long over
    assert archiver.sweep(fresh, engine) == {"already": 1}
    assert _rows(engine, ChargingSession, tx_id) == 1 and _rows(engine, MeterValue, tx_id) == 8
    assert transactions.waiting_for_archive(fresh) == []
    assert fresh.redis.zscore(fresh.keys.transactions, str(tx_id)) is None
    ttl = fresh.redis.ttl(fresh.keys.transaction(tx_id))
    assert 23 * 3600 < ttl <= 24 * 3600
    assert fresh.redis.ttl(fresh.keys.transaction_meter(tx_id)) == pytest.approx(ttl, abs=2)
    with engine.connect() as sql:
        row = sql.execute(select(ChargingSession).where(ChargingSession.transaction_id == tx_id)).one()
    assert (row.energy_wh, row.duration_s, row.stop_reason, row.firmware_version) == (
        500,
        3600,  # 11:00+02:00 to 10:00Z
        "EVDisconnected",
        "1.2.3",
    )
    assert before["energyWh"] == "500"


def test_a_live_lease_is_not_taken_and_a_lost_session_is_found_again(fresh, engine):
    taken, lost = _session(fresh, "CP-L"), _session(fresh, "CP-L")
    assert transactions.take_for_archive(fresh, 1, 60) == [taken]  # another archiver's, for 60 s
    fresh.redis.zrem(fresh.keys.transactions_to_archive, str(lost))  # lost its place somehow
    assert archiver.sweep(fresh, engine) == {"archived": 1}  # the lost one; the taken one waits
    assert _rows(engine, ChargingSession, lost) == 1 and _rows(engine, ChargingSession, taken) == 0
    transactions.release_for_archive(fresh, [taken])  # that archiver's write failed
    assert archiver.drain(fresh, engine) == {"archived": 1}
    assert transactions.waiting_for_archive(fresh) == []


def test_many_sessions_in_one_drain(fresh, engine):
    ids = [_session(fresh, f"CP-M{i % 3}", samples=2) for i in range(7)]
    assert archiver.drain(fresh, engine, batch=3) == {"archived": 7}
    assert [_rows(engine, MeterValue, tx_id) for tx_id in ids] == [4] * 7


def test_an_active_session_is_not_archived_and_never_expires(fresh, engine):
    tx_id = _session(fresh, "CP-B", stop=False)
    assert archiver.archive(fresh, engine, tx_id) is archiver.Outcome.ACTIVE
    assert archiver.sweep(fresh, engine) == {}
    assert transactions.waiting_for_archive(fresh) == []
    assert fresh.redis.ttl(fresh.keys.transaction(tx_id)) == -1
    assert _rows(engine, ChargingSession, tx_id) == 0


def test_the_same_json_from_redis_and_from_the_archive(fresh, engine):
    tx_id = _session(fresh, "CP-C", samples=5)
    filters = history.Filters(client_id="CP-C")
    from_redis = history.get(fresh, engine, tx_id)
    samples_from_redis = history.samples(fresh, engine, tx_id, 0, 100)
    page_from_redis = history.list_page(fresh, engine, filters, 0, 10)
    archiver.archive(fresh, engine, tx_id)
    # the retention has passed: what EXPIRE does
    fresh.redis.delete(fresh.keys.transaction(tx_id), fresh.keys.transaction_meter(tx_id))
    assert history.get(fresh, engine, tx_id) == _typed(from_redis)
    assert history.samples(fresh, engine, tx_id, 0, 100) == samples_from_redis
    assert history.samples(fresh, engine, tx_id, 2, 3) == (samples_from_redis[0][2:5], 10)
    assert history.list_page(fresh, engine, filters, 0, 10) == ([_typed(from_redis)], page_from_redis[1])


def _typed(tx: dict) -> dict:
    """Redis holds strings; the API's schema makes the same numbers of both."""
    numbers = {"transactionId", "connectorId", "meterStart", "meterStop", "energyWh", "reservationId"}
    return {k: int(v) if k in numbers and v is not None else v for k, v in tx.items()}


def test_lists_span_redis_and_the_archive_with_filters(fresh, engine):
    archived = [_session(fresh, "CP-D", id_tag=f"T{i}", samples=1) for i in range(3)]
    other = _session(fresh, "CP-E", samples=1)
    archiver.drain(fresh, engine)
    pending = _session(fresh, "CP-D", id_tag="T0", samples=1)  # completed, not archived yet
    active = _session(fresh, "CP-D", id_tag="T9", samples=1, stop=False)

    def ids(offset=0, limit=10, **kw):
        items, total = history.list_page(fresh, engine, history.Filters(**kw), offset, limit)
        return [int(tx["transactionId"]) for tx in items], total

    newest_first = sorted([*archived, pending, active], reverse=True)
    assert ids(client_id="CP-D") == (newest_first, 5)
    assert ids(client_id="CP-D", offset=1, limit=2) == (newest_first[1:3], 5)
    assert ids(client_id="CP-D", status="active") == ([active], 1)
    assert ids(client_id="CP-D", status="completed") == (sorted([*archived, pending], reverse=True), 4)
    assert ids(client_id="CP-D", id_tag="T0") == (sorted([archived[0], pending], reverse=True), 2)
    assert ids() == (sorted([*newest_first, other], reverse=True), 6)
    start = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # every session starts then (11:00+02:00)
    assert ids(client_id="CP-D", since=start, until=start + timedelta(seconds=1))[1] == 5
    assert ids(client_id="CP-D", since=start + timedelta(seconds=1)) == ([], 0)
    # the moment a session is in both places (committed, not retired yet) counts once
    fresh.redis.zadd(fresh.keys.transactions, {str(archived[0]): archived[0]})
    fresh.redis.zadd(fresh.keys.transactions_of("CP-D"), {str(archived[0]): archived[0]})
    assert ids(client_id="CP-D") == (newest_first, 5)


def test_another_deployments_session_under_the_same_id_is_not_taken_for_ours(fresh, engine, tmp_path):
    tx_id = _session(fresh, "CP-F")
    archiver.archive(fresh, engine, tx_id)
    import dataclasses

    other = Store.connect(
        dataclasses.replace(fresh.settings, key_prefix=fresh.settings.key_prefix + "other:")
    )
    try:
        same_id = _session(other, "CP-G")
        assert same_id == tx_id  # ids start at 1000 on every prefix
        assert archiver.drain(other, engine) == {"conflict": 1}
        assert fresh.redis.zscore(other.keys.transactions, str(same_id)) == same_id  # still listed
    finally:
        for key in other.redis.scan_iter(match=f"{other.settings.key_prefix}*"):
            other.redis.delete(key)


def test_redis_memory_stays_flat_once_sessions_are_archived(fresh, engine):
    import dataclasses

    store = dataclasses.replace(fresh, settings=dataclasses.replace(fresh.settings, redis_retention_hours=0))
    store.keys = fresh.keys

    def footprint() -> tuple[int, int]:
        keys = list(store.redis.scan_iter(match=f"{store.settings.key_prefix}business:transaction*"))
        return len(keys), sum(store.redis.memory_usage(k) or 0 for k in keys)

    sizes = []
    for _wave in range(3):
        for i in range(20):
            _session(store, f"CP-W{i}", samples=10)
        assert archiver.drain(store, engine) == {"archived": 20}
        sizes.append(footprint())
    with engine.connect() as sql:
        assert sql.scalar(select(func.count()).select_from(ChargingSession)) == 60
        assert sql.scalar(select(func.count()).select_from(MeterValue)) == 60 * 20
    # what stays is the id counter and the lists' keys: the same after every wave
    assert sizes[0] == sizes[1] == sizes[2], sizes
    assert sizes[0][0] <= 3


def test_a_drain_holds_a_bounded_number_of_samples_at_once():
    cap = archiver.DRAIN_SAMPLES
    assert archiver._by_samples([1, 2, 3, 4], [cap // 2, cap // 2, 1, cap + 5]) == [[1, 2], [3], [4]]
    assert archiver._by_samples([1, 2], [0, 0]) == [[1, 2]]
    assert archiver._by_samples([], []) == []


def test_sessions_of_every_size_in_one_drain(fresh, engine, monkeypatch):
    monkeypatch.setattr(archiver, "DRAIN_SAMPLES", 10)  # parts of at most 10 samples
    ids = [_session(fresh, "CP-N", samples=n) for n in (1, 3, 6, 0)]  # 2, 6, 12, 0 samples
    assert archiver.drain(fresh, engine) == {"archived": 4}
    assert [_rows(engine, MeterValue, tx_id) for tx_id in ids] == [2, 6, 12, 0]


def test_samples_sent_after_the_stop_join_the_archived_session(fresh, engine):
    tx_id = _session(fresh, "CP-LATE", samples=2)  # 4 samples
    assert archiver.drain(fresh, engine) == {"archived": 1}
    late = [{"value": "1999", "measurand": "Energy.Active.Import.Register"}]
    meter = {"timestamp": "2026-06-01T09:59:00Z", "sampledValue": late}
    _call(fresh, "CP-LATE", "MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [meter]})
    assert transactions.waiting_for_archive(fresh) == [tx_id]  # in line again
    assert archiver.drain(fresh, engine) == {"extended": 1}
    assert archiver.archive(fresh, engine, tx_id) is archiver.Outcome.ALREADY  # nothing twice
    assert _rows(engine, MeterValue, tx_id) == 5
    from_redis = history.samples(fresh, engine, tx_id, 0, 100)
    fresh.redis.delete(fresh.keys.transaction(tx_id), fresh.keys.transaction_meter(tx_id))
    assert history.samples(fresh, engine, tx_id, 0, 100) == from_redis
    assert from_redis[1] == 5 and from_redis[0][-1]["value"] == "1999"
