"""Streamed exports of the archive: CSV, JSON Lines, and OCPI 2.2.1 CDRs (as JSON Lines).

A billing period's export is final once the period is over: sessions are selected by
their *stop* time, and only archived (completed) sessions are exported. Rows are read
from a server-side cursor `FETCH_ROWS` at a time and written out as they come, so an
export of any size holds one batch in memory (tests/api/test_exports.py measures it).
docs/API.md "Exports" lists the fields and which OCPI fields we cannot know.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from ocpp_worker import timeutil
from ocpp_worker.archive import records
from ocpp_worker.archive.models import ChargingSession

FETCH_ROWS = 500
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "ocpi-cdr": "application/x-ndjson",
}
CSV_COLUMNS = (
    "transactionId",
    "clientId",
    "connectorId",
    "idTag",
    "idTagStatus",
    "stopIdTag",
    "reservationId",
    "startTime",
    "stopTime",
    "durationS",
    "meterStart",
    "meterStop",
    "energyWh",
    "stopReason",
    "sampleCount",
    "firmwareVersion",
)
# A spreadsheet runs a cell that starts with one of these as a formula: an idTag such
# as "=HYPERLINK(…)" from a charger must stay text (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Party:
    """Who we are in OCPI terms (OCPI_COUNTRY_CODE, OCPI_PARTY_ID) and the currency."""

    country_code: str
    party_id: str
    currency: str


def _rows(engine: Engine, since: datetime | None, until: datetime | None, client_id: str | None) -> Any:
    query = select(ChargingSession)
    if since is not None:
        query = query.where(ChargingSession.stop_time >= since)
    if until is not None:
        query = query.where(ChargingSession.stop_time < until)
    if client_id is not None:
        query = query.where(ChargingSession.charger_id == client_id)
    query = query.order_by(ChargingSession.stop_time, ChargingSession.transaction_id)
    with engine.connect() as sql:
        result = sql.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(query)
        yield from result  # rows with the columns as attributes


def session_record(row: ChargingSession) -> dict[str, Any]:
    """A session as the API serves it, with its duration, sample count and firmware."""
    return {
        **records.transaction(row),
        "durationS": row.duration_s,
        "sampleCount": row.sample_count,
        "firmwareVersion": row.firmware_version,
    }


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _csv(rows: Iterator[ChargingSession]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, 1):
        record = session_record(row)
        writer.writerow([_cell(record.get(column)) for column in CSV_COLUMNS])
        if count % FETCH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _lines(records_: Iterator[dict[str, Any]]) -> Iterator[str]:
    chunk: list[str] = []
    for record in records_:
        chunk.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
        if len(chunk) == FETCH_ROWS:
            yield "\n".join(chunk) + "\n"
            chunk = []
    if chunk:
        yield "\n".join(chunk) + "\n"


def _utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return timeutil.iso(records.utc(moment))


def cdr(row: ChargingSession, party: Party) -> dict[str, Any]:
    """One session in the shape of an OCPI 2.2.1 CDR (module `cdrs`, object `CDR`).

    Known: ids, times, the token (an OCPP idTag), the EVSE (charger and connector),
    energy and time. Not known to an OCPP 1.6 central system, so null: the location's
    address, city, country and coordinates, the connector's standard, format and power
    type, tariffs and every cost (no tariff engine here), the parking time.
    """
    energy_kwh = round(row.energy_wh / 1000, 3) if row.energy_wh is not None else 0
    hours = round(row.duration_s / 3600, 4) if row.duration_s is not None else 0
    evse = f"{row.charger_id}*{row.connector_id}"
    start = _utc(row.start_time)
    return {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "id": str(row.transaction_id),
        "start_date_time": start,
        "end_date_time": _utc(row.stop_time),
        "session_id": str(row.transaction_id),
        "cdr_token": {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "uid": row.id_tag,
            "type": "RFID",
            "contract_id": row.id_tag,
        },
        "auth_method": "AUTH_REQUEST",
        "authorization_reference": None,
        "cdr_location": {
            "id": row.charger_id,
            "name": None,
            "address": None,
            "city": None,
            "postal_code": None,
            "state": None,
            "country": None,
            "coordinates": None,
            "evse_uid": evse,
            "evse_id": evse,
            "connector_id": str(row.connector_id),
            "connector_standard": None,
            "connector_format": None,
            "connector_power_type": None,
        },
        "meter_id": None,
        "currency": party.currency,
        "tariffs": None,
        "charging_periods": [
            {
                "start_date_time": start,
                "dimensions": [{"type": "ENERGY", "volume": energy_kwh}, {"type": "TIME", "volume": hours}],
            }
        ],
        "total_cost": None,
        "total_energy": energy_kwh,
        "total_time": hours,
        "total_parking_time": None,
        "remark": row.stop_reason,
        "last_updated": _utc(row.archived_at),
    }


def export(
    engine: Engine,
    fmt: str,
    party: Party,
    since: datetime | None = None,
    until: datetime | None = None,
    client_id: str | None = None,
) -> Iterator[str]:
    """The export of the archived sessions that stopped in [since, until), as text chunks."""
    rows = _rows(engine, since, until, client_id)
    if fmt == "csv":
        return _csv(rows)
    if fmt == "jsonl":
        return _lines(session_record(row) for row in rows)
    if fmt == "ocpi-cdr":
        return _lines(cdr(row, party) for row in rows)
    raise ValueError(f"unknown export format {fmt!r}")
