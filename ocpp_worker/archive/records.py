"""One session in its two shapes: the Redis hash the workers write (`state.transactions`)
and the archive's rows (`models`). `session_row` converts on the way in; `transaction`
and `sample` convert back to exactly what the API serves from Redis, so a session reads
the same before and after it leaves Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ocpp_worker import timeutil

# The transaction hash's fields the API serves, by column.
_TEXT = {
    "clientId": "charger_id",
    "idTag": "id_tag",
    "idTagStatus": "id_tag_status",
    "stopIdTag": "stop_id_tag",
    "reservationStatus": "reservation_status",
    "stopReason": "stop_reason",
    "status": "status",
}
_NUMBER = {
    "transactionId": "transaction_id",
    "connectorId": "connector_id",
    "reservationId": "reservation_id",
    "meterStart": "meter_start",
    "meterStop": "meter_stop",
    "energyWh": "energy_wh",
}
_TIME = {
    "startTime": "start_time",
    "stopTime": "stop_time",
    "createdAt": "created_at",
    "stoppedAt": "stopped_at",
}
SAMPLE_FIELDS = ("context", "format", "measurand", "phase", "location", "unit")


def _moment(text: str | None) -> datetime | None:
    """A stored time in UTC (SQLite keeps no zone: every time in the archive is UTC)."""
    moment = timeutil.parse(text) if text else None
    return moment.astimezone(UTC) if moment else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def session_row(
    tx: dict[str, str], charger: dict[str, str], sample_count: int, now: datetime
) -> dict[str, Any]:
    """The `charging_sessions` row of a completed transaction's hash."""
    row: dict[str, Any] = {column: tx.get(name) or None for name, column in _TEXT.items()}
    row.update({column: _int(tx.get(name)) for name, column in _NUMBER.items()})
    row.update({column: _moment(tx.get(name)) for name, column in _TIME.items()})
    row["connector_id"] = row["connector_id"] or 0
    start, stop = row["start_time"], row["stop_time"]
    row["duration_s"] = round((stop - start).total_seconds()) if start and stop else None
    row["firmware_version"] = charger.get("firmwareVersion")
    row["sample_count"] = sample_count
    row["archived_at"] = now
    return row


def charger_row(cp_id: str, charger: dict[str, str], now: datetime) -> dict[str, Any]:
    """The `chargers` row: what the charger last told us in a BootNotification."""
    return {
        "charger_id": cp_id,
        "vendor": charger.get("chargePointVendor"),
        "model": charger.get("chargePointModel"),
        "serial_number": charger.get("chargePointSerialNumber"),
        "firmware_version": charger.get("firmwareVersion"),
        "updated_at": now,
    }


def sample_rows(tx_id: int, samples: list[dict[str, Any]], fallback: datetime) -> list[dict[str, Any]]:
    """The `meter_values` rows of a transaction's samples (`state.transactions.flatten`)."""
    return [
        {
            "transaction_id": tx_id,
            "seq": seq,
            "timestamp": _moment(str(sample.get("timestamp", ""))) or fallback,
            "value": str(sample.get("value", "")),
            **{name: sample.get(name) for name in SAMPLE_FIELDS},
        }
        for seq, sample in enumerate(samples)
    ]


def utc(moment: datetime) -> datetime:
    """SQLite gives back naive times, PostgreSQL the session's zone: both are UTC here."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def transaction(row: Any) -> dict[str, Any]:
    """A `charging_sessions` row as the transaction hash held it (absent fields left out)."""
    data: dict[str, Any] = {}
    for name, column in (*_TEXT.items(), *_NUMBER.items()):
        value = getattr(row, column)
        if value is not None:
            data[name] = value
    for name, column in _TIME.items():
        value = getattr(row, column)
        if value is not None:
            data[name] = timeutil.iso(utc(value))
    return data


def sample(row: Any) -> dict[str, Any]:
    """A `meter_values` row as the sample list held it."""
    data: dict[str, Any] = {"timestamp": timeutil.iso(utc(row.timestamp)), "value": row.value}
    data.update({name: getattr(row, name) for name in SAMPLE_FIELDS if getattr(row, name) is not None})
    return data
