"""UTC timestamps. Everything we store or return is ISO 8601 with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2026-11-23T22:33:31.123Z` for any aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> datetime | None:
    """A charger's timestamp as an aware datetime, or None if it is not ISO 8601.

    Chargers without a time zone in their clock send naive times; OCPP 1.6 means UTC.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)  # 9999-12-31T23:00-05:00 is valid ISO but past year 9999 in UTC
    except (ValueError, AttributeError, OverflowError):
        return None
    return moment


def normalize(text: str | None, fallback: datetime) -> str:
    """A charger's timestamp as UTC ISO 8601; `fallback` when missing or unreadable."""
    moment = parse(text) if text else None
    return iso(moment or fallback)
