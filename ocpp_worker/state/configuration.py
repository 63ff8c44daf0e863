"""The configuration manager: per-charger configuration keys with types, defaults and
readonly flags (OCPP 1.6 §9, Core profile plus the keys of the other profiles a CSMS
tracks). Only values that differ from the default are stored, in ``ocpp:config:{id}``.

Operators change values through `set_value`, which refuses readonly keys and bad
values with a reason. What a charger reports in GetConfiguration is the truth and is
written with `record_reported`, readonly keys and flags included (the bridge does it
for every answer: `ocpp_worker.answers`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ocpp.v16.enums import Measurand

from ocpp_worker.protocol import lengths
from ocpp_worker.state.store import Store

MEASURANDS = frozenset(m.value for m in Measurand)
PROFILES = frozenset(
    {"Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation", "SmartCharging", "RemoteTrigger"}
)


class ConfigurationError(ValueError):
    """A value the configuration manager refuses; the message says why."""


# Security-extension keys whose value is a secret: never kept in the configuration copy,
# whatever route sets or reports them. The AuthorizationKey (a charger's HTTP Basic
# password) is write-only on the charger too (1.6 security whitepaper); we keep only its
# scrypt hash (`state.registrations`), set through /api/v1/chargepoints/{id}/credentials.
AUTHORIZATION_KEY = "AuthorizationKey"
WRITE_ONLY = frozenset({AUTHORIZATION_KEY})


Check = Callable[[str], None]


def integer(low: int | None = None, high: int | None = None) -> Check:
    def check(value: str) -> None:
        try:
            number = int(value.strip())
        except ValueError:
            raise ConfigurationError(f"{value!r} is not an integer") from None
        if low is not None and number < low:
            raise ConfigurationError(f"must be at least {low}")
        if high is not None and number > high:
            raise ConfigurationError(f"must be at most {high}")

    return check


def boolean(value: str) -> None:
    if value.strip().lower() not in {"true", "false"}:
        raise ConfigurationError(f"{value!r} is not a boolean (true or false)")


def csl(allowed: Iterable[str] | None = None, max_items: int | None = None) -> Check:
    """A comma-separated list, each item from `allowed` if given."""
    allowed_set = frozenset(allowed) if allowed is not None else None

    def check(value: str) -> None:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if allowed_set is not None:
            unknown = [item for item in items if item not in allowed_set]
            if unknown:
                raise ConfigurationError(f"unknown value(s): {', '.join(unknown)}")
        if max_items is not None and len(items) > max_items:
            raise ConfigurationError(f"at most {max_items} items")

    return check


def any_string(value: str) -> None:
    if len(value) > lengths.CONFIGURATION_VALUE:
        raise ConfigurationError(f"at most {lengths.CONFIGURATION_VALUE} characters (OCPP 1.6 CiString500)")


@dataclass(frozen=True)
class KeySpec:
    name: str
    default: str
    check: Check = any_string
    readonly: bool = False
    reboot_required: bool = False


SPECS: dict[str, KeySpec] = {
    spec.name: spec
    for spec in [
        # Core profile
        KeySpec("AllowOfflineTxForUnknownId", "false", boolean),
        KeySpec("AuthorizationCacheEnabled", "false", boolean),
        KeySpec("AuthorizeRemoteTxRequests", "true", boolean),
        KeySpec("BlinkRepeat", "3", integer(0)),
        KeySpec("ClockAlignedDataInterval", "0", integer(0)),
        KeySpec("ConnectionTimeOut", "60", integer(0), reboot_required=True),
        KeySpec("ConnectorPhaseRotation", "0.RST", csl()),
        KeySpec("GetConfigurationMaxKeys", "50", integer(1), readonly=True),
        KeySpec("HeartbeatInterval", "300", integer(0)),
        KeySpec("LightIntensity", "100", integer(0, 100)),
        KeySpec("LocalAuthorizeOffline", "true", boolean),
        KeySpec("LocalPreAuthorize", "false", boolean),
        KeySpec("MaxEnergyOnInvalidId", "0", integer(0)),
        KeySpec("MeterValuesAlignedData", "Energy.Active.Import.Register", csl(MEASURANDS)),
        KeySpec("MeterValuesAlignedDataMaxLength", "10", integer(0), readonly=True),
        KeySpec(
            "MeterValuesSampledData",
            "Energy.Active.Import.Register,Power.Active.Import",
            csl(MEASURANDS),
        ),
        KeySpec("MeterValuesSampledDataMaxLength", "10", integer(0), readonly=True),
        KeySpec("MeterValueSampleInterval", "60", integer(0, 3600)),
        KeySpec("MinimumStatusDuration", "0", integer(0)),
        KeySpec("NumberOfConnectors", "1", integer(0), readonly=True),
        KeySpec("ResetRetries", "3", integer(0)),
        KeySpec("StopTransactionOnEVSideDisconnect", "true", boolean),
        KeySpec("StopTransactionOnInvalidId", "true", boolean),
        KeySpec("StopTxnAlignedData", "", csl(MEASURANDS)),
        KeySpec("StopTxnAlignedDataMaxLength", "10", integer(0), readonly=True),
        KeySpec("StopTxnSampledData", "", csl(MEASURANDS)),
        KeySpec("StopTxnSampledDataMaxLength", "10", integer(0), readonly=True),
        KeySpec(
            "SupportedFeatureProfiles",
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger",
            csl(PROFILES),
            readonly=True,
        ),
        KeySpec("TransactionMessageAttempts", "3", integer(0)),
        KeySpec("TransactionMessageRetryInterval", "60", integer(0)),
        KeySpec("UnlockConnectorOnEVSideDisconnect", "true", boolean),
        KeySpec("WebSocketPingInterval", "60", integer(0)),
        # Local Auth List Management profile
        KeySpec("LocalAuthListEnabled", "true", boolean),
        KeySpec("LocalAuthListMaxLength", "1000", integer(0), readonly=True),
        KeySpec("SendLocalListMaxLength", "100", integer(0), readonly=True),
        # Reservation profile
        KeySpec("ReserveConnectorZeroSupported", "false", boolean, readonly=True),
        # Smart Charging profile
        KeySpec("ChargeProfileMaxStackLevel", "10", integer(1, 100), readonly=True),
        KeySpec(
            "ChargingScheduleAllowedChargingRateUnit",
            "Current,Power",
            csl({"Current", "Power"}),
            readonly=True,
        ),
        KeySpec("ChargingScheduleMaxPeriods", "24", integer(1), readonly=True),
        KeySpec("ConnectorSwitch3to1PhaseSupported", "false", boolean, readonly=True),
        KeySpec("MaxChargingProfilesInstalled", "10", integer(1, 100), readonly=True),
    ]
}


def all_values(store: Store, cp_id: str) -> list[dict[str, Any]]:
    """Every known key with its value (stored or default), then the other keys stored or
    reported unknown. ``readonly`` is the charger's flag once it reported the key (else
    our spec's); ``reported``: the charger reported the key (GetConfiguration);
    ``unknown``: it answered that it does not know the key."""
    pipe = store.redis.pipeline(transaction=False)
    pipe.hgetall(store.keys.config(cp_id))
    pipe.hgetall(store.keys.config_reported(cp_id))
    stored, reported = pipe.execute()

    def entry(name: str, value: str | None, readonly: bool) -> dict[str, Any]:
        flag = reported.get(name)
        if flag in (READONLY, WRITABLE):
            readonly = flag == READONLY
        return {
            "key": name,
            "value": value,
            "readonly": readonly,
            "reported": flag in (READONLY, WRITABLE),
            "unknown": flag == UNKNOWN,
        }

    entries = [entry(name, stored.get(name, spec.default), spec.readonly) for name, spec in SPECS.items()]
    others = sorted((set(stored) | {k for k, v in reported.items() if v == UNKNOWN}) - set(SPECS))
    entries += [entry(name, stored.get(name), False) for name in others]
    return entries


def get_value(store: Store, cp_id: str, key: str) -> str | None:
    value: str | None = store.redis.hget(store.keys.config(cp_id), key)
    if value is None and key in SPECS:
        return SPECS[key].default
    return value


def validate(key: str, value: str, readonly: bool | None = None) -> KeySpec | None:
    """Raise `ConfigurationError` if an operator may not set `key` to `value`.
    `readonly`: the charger's flag for the key, when it reported one (it wins over
    our spec's)."""
    if key in WRITE_ONLY:
        raise ConfigurationError(
            f"{key} is write-only: set it through /api/v1/chargepoints/{{id}}/credentials"
        )
    spec = SPECS.get(key)
    if readonly if readonly is not None else spec is not None and spec.readonly:
        raise ConfigurationError(f"{key} is read-only")
    if spec is None:
        any_string(value)
        return None
    spec.check(value)
    return spec


def set_value(store: Store, cp_id: str, key: str, value: str) -> KeySpec | None:
    """Validate and store one value; returns the key's spec (None for a vendor key)."""
    flag = store.redis.hget(store.keys.config_reported(cp_id), key)
    spec = validate(key, value, flag == READONLY if flag in (READONLY, WRITABLE) else None)
    store.redis.hset(store.keys.config(cp_id), key, value)
    return spec


def record_accepted(store: Store, cp_id: str, key: str, value: str) -> None:
    """The charger accepted ChangeConfiguration: its value is the truth now, whatever
    our spec of the key would have said. A write-only key is not kept."""
    if key not in WRITE_ONLY:
        store.redis.hset(store.keys.config(cp_id), key, value)


# What the charger reported of each key (`config_reported`): its readonly flag, or that
# it does not know the key.
READONLY, WRITABLE, UNKNOWN = "readonly", "writable", "unknown"


def record_reported(store: Store, cp_id: str, answer: dict[str, Any]) -> None:
    """Store a GetConfiguration.conf, whoever asked (the API, or the boot-time sync):
    the charger's values and readonly flags are the truth, and the keys it called
    unknown are marked so. A write-only key is not kept, whatever it reported."""
    entries = [e for e in answer.get("configurationKey") or [] if e.get("key") not in WRITE_ONLY]
    values = {e["key"]: e["value"] for e in entries if e.get("value") is not None}
    flags = {e["key"]: READONLY if e.get("readonly") else WRITABLE for e in entries}
    flags.update({key: UNKNOWN for key in answer.get("unknownKey") or [] if key not in WRITE_ONLY})
    pipe = store.redis.pipeline(transaction=True)
    if values:
        pipe.hset(store.keys.config(cp_id), mapping=values)
    if flags:
        pipe.hset(store.keys.config_reported(cp_id), mapping=flags)
    pipe.execute()
