"""The archive's tables: charging sessions, their sampled meter values, and the chargers
they ran on. The Alembic migrations in `migrations/versions` create exactly these
(tests/unit/test_archive_schema.py compares them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# OCPP 1.6 string lengths (CiString20/25/50), with room for a charger id of any
# OCPP_CHARGER_ID_PATTERN a deployment may widen.
CHARGER_ID = 255
ID_TAG = 20


class Base(DeclarativeBase):
    pass


class Charger(Base):
    """A charger as it last booted before one of its sessions was archived; a session
    keeps its own copy of the firmware it ran."""

    __tablename__ = "chargers"

    charger_id: Mapped[str] = mapped_column(String(CHARGER_ID), primary_key=True)
    vendor: Mapped[str | None] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(20))
    serial_number: Mapped[str | None] = mapped_column(String(25))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChargingSession(Base):
    """One completed transaction, as Redis held it when it was archived."""

    __tablename__ = "charging_sessions"

    transaction_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    charger_id: Mapped[str] = mapped_column(String(CHARGER_ID), ForeignKey("chargers.charger_id"))
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str | None] = mapped_column(String(ID_TAG))
    id_tag_status: Mapped[str | None] = mapped_column(String(20))
    stop_id_tag: Mapped[str | None] = mapped_column(String(ID_TAG))
    reservation_id: Mapped[int | None] = mapped_column(Integer)
    reservation_status: Mapped[str | None] = mapped_column(String(20))
    meter_start: Mapped[int | None] = mapped_column(BigInteger)
    meter_stop: Mapped[int | None] = mapped_column(BigInteger)
    energy_wh: Mapped[int | None] = mapped_column(BigInteger)
    start_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[int | None] = mapped_column(Integer)
    stop_reason: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10))
    firmware_version: Mapped[str | None] = mapped_column(String(50))
    sample_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_charging_sessions_charger", "charger_id", "transaction_id"),
        Index("ix_charging_sessions_id_tag", "id_tag", "transaction_id"),
        Index("ix_charging_sessions_start_time", "start_time"),
        Index("ix_charging_sessions_stop_time", "stop_time"),
    )


class MeterValue(Base):
    """One sampled value of a session, in arrival order (`seq`), the OCPP 1.6 defaults
    filled in."""

    __tablename__ = "meter_values"

    transaction_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("charging_sessions.transaction_id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(String(40))
    format: Mapped[str | None] = mapped_column(String(20))
    measurand: Mapped[str | None] = mapped_column(String(60))
    phase: Mapped[str | None] = mapped_column(String(10))
    location: Mapped[str | None] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(20))
