"""GET /api/v1/transactions/export: CSV, JSON Lines and OCPI CDRs of archived sessions,
streamed from the archive (this run's SQLite) in bounded memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert

from ocpp_worker.archive.db import engine_for
from ocpp_worker.archive.models import Charger, ChargingSession
from tests.api.conftest import Api, data_of_400

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SESSIONS = 10_000


def _session(tx_id: int, cp_id: str, i: int, **extra) -> dict:
    start = T0 + timedelta(minutes=i)
    return {
        "transaction_id": tx_id,
        "charger_id": cp_id,
        "connector_id": 1 + i % 2,
        "id_tag": f"TAG{i % 50}",
        "id_tag_status": "Accepted",
        "meter_start": 1000,
        "meter_stop": 1000 + 10 * i,
        "energy_wh": 10 * i,
        "start_time": start,
        "stop_time": start + timedelta(minutes=30),
        "duration_s": 1800,
        "stop_reason": "Local",
        "status": "completed",
        "sample_count": 0,
        "archived_at": start + timedelta(minutes=31),
        **extra,
    }


@pytest.fixture(scope="module")
def archived(store):
    """10,000 archived sessions of one charger (ids far above any real run's), and two of
    another, deleted afterwards."""
    engine = engine_for(store.settings)
    cp_id, other = f"CP-EXP-{uuid.uuid4().hex[:6]}", f"CP-EXP2-{uuid.uuid4().hex[:6]}"
    base = 10**12 + uuid.uuid4().int % 10**9 * 100_000
    rows = [_session(base + i, cp_id, i) for i in range(SESSIONS)]
    rows += [
        _session(base + SESSIONS, other, 0, id_tag="=HYPERLINK(1)"),
        _session(base + SESSIONS + 1, other, 1, stop_reason="+cmd"),
    ]
    now = datetime.now(UTC)
    with engine.begin() as sql:
        for charger in (cp_id, other):
            sql.execute(insert(Charger).values(charger_id=charger, updated_at=now))
        for start in range(0, len(rows), 1000):
            sql.execute(insert(ChargingSession), rows[start : start + 1000])
    yield cp_id, other, base
    with engine.begin() as sql:
        sql.execute(delete(ChargingSession).where(ChargingSession.charger_id.in_([cp_id, other])))
        sql.execute(delete(Charger).where(Charger.charger_id.in_([cp_id, other])))


def _streamed(api: Api, url: str) -> tuple[str, str]:
    """(content type, body) of an export."""
    response = api.request("GET", url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.content_type, response.get_data(as_text=True)


def _peak_while_streaming(api: Api, url: str) -> tuple[int, int, int]:
    """(bytes, lines, peak bytes allocated) of an export read chunk by chunk and dropped,
    as a client that writes it to a file does."""
    response = api.request("GET", url, buffered=False)
    assert response.status_code == 200
    size = lines = 0
    tracemalloc.start()
    try:
        for chunk in response.response:  # the body as the server streams it
            size += len(chunk)
            lines += chunk.count(b"\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        response.close()
    return size, lines, peak


def test_a_csv_of_ten_thousand_sessions_streams_in_bounded_memory(api, archived):
    cp_id, _, base = archived
    url = f"/api/v1/transactions/export?clientId={cp_id}"
    _peak_while_streaming(api, url)  # first use: imports, compiled statements, pools
    size, lines, peak = _peak_while_streaming(api, url)
    assert lines == SESSIONS + 1 and size > 1_000_000
    # a tenth of the sessions (stopped in their first 1,000 minutes + 30)
    small_size, small_lines, small_peak = _peak_while_streaming(api, url + "&to=2026-03-01T17:10:00Z")
    assert small_lines == SESSIONS // 10 + 1
    # what the export holds at once is a batch of rows, whatever the number of sessions:
    # ten times the sessions, a fifth of the extra bytes at most (measured: 612 KB for
    # 10,000 sessions, 448 KB for 1,000, most of it the first batch's fixed cost)
    assert peak - small_peak < (size - small_size) // 5, (peak, small_peak, size, small_size)
    content_type, body = _streamed(api, f"/api/v1/transactions/export?clientId={cp_id}")
    assert content_type.startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(body)))
    assert len(lines) == SESSIONS
    assert [int(line["transactionId"]) for line in lines[:3]] == [base, base + 1, base + 2]
    assert lines[7]["energyWh"] == "70" and lines[7]["durationS"] == "1800"
    assert lines[0]["stopTime"] == "2026-03-01T00:30:00.000Z"


def test_jsonl_and_ocpi_cdrs_with_a_time_range(api, archived):
    cp_id, _, base = archived
    window = "from=2026-03-01T00:40:00Z&to=2026-03-01T00:43:00Z"  # stop times of sessions 10, 11, 12
    _, body = _streamed(api, f"/api/v1/transactions/export?clientId={cp_id}&format=jsonl&{window}")
    records = [json.loads(line) for line in body.splitlines()]
    assert [r["transactionId"] for r in records] == [base + 10, base + 11, base + 12]
    assert records[0]["clientId"] == cp_id and records[0]["energyWh"] == 100
    assert records[0]["durationS"] == 1800 and records[0]["sampleCount"] == 0
    content_type, body = _streamed(
        api, f"/api/v1/transactions/export?clientId={cp_id}&format=ocpi-cdr&{window}"
    )
    assert content_type == "application/x-ndjson"
    cdr = json.loads(body.splitlines()[0])
    assert cdr["id"] == str(base + 10) and cdr["total_energy"] == 0.1 and cdr["total_time"] == 0.5
    assert cdr["start_date_time"] == "2026-03-01T00:10:00.000Z"
    assert cdr["end_date_time"] == "2026-03-01T00:40:00.000Z"
    assert cdr["cdr_token"]["uid"] == "TAG10" and cdr["cdr_location"]["evse_uid"] == f"{cp_id}*1"
    assert cdr["charging_periods"][0]["dimensions"][0] == {"type": "ENERGY", "volume": 0.1}
    assert cdr["total_cost"] is None and cdr["cdr_location"]["coordinates"] is None  # unknown to us


def test_a_formula_from_a_charger_stays_text_in_the_csv(api, archived):
    _, other, _ = archived
    _, body = _streamed(api, f"/api/v1/transactions/export?clientId={other}")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows[0]["idTag"] == "'=HYPERLINK(1)" and rows[1]["stopReason"] == "'+cmd"


def test_bad_export_arguments(api):
    assert "format" in data_of_400(
        api.request("GET", "/api/v1/transactions/export?format=xml"), "invalid query parameters"
    )
    assert "from" in data_of_400(
        api.request("GET", "/api/v1/transactions/export?from=yesterday"), "invalid query parameters"
    )
    empty = api.request("GET", "/api/v1/transactions/export?clientId=CP-NOBODY-HERE&format=jsonl")
    assert empty.status_code == 200 and empty.get_data() == b""
