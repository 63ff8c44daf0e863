"""A charge-point simulator built on the `ocpp` package's client side.

    ocpp-csms simulate --id CP001 --session

boots, reports its connectors, heartbeats and runs a charging session (Authorize →
StartTransaction → MeterValues → StopTransaction) against the gateway. Without
``--exit`` it then stays connected and answers the central system's calls: remote
start/stop, configuration, reset, trigger, unlock, availability, data transfer.
The tests use `SimulatedChargePoint` as their real charger.

It connects as the OCPP 1.6 security profiles ask (docs/SECURITY.md): ``--password``
sends HTTP Basic auth (profiles 1 and 2), a ``wss://`` URL uses TLS verified against
``--cafile`` (profile 2), and ``--cert``/``--key`` present a client certificate
(profile 3). When the central system changes its AuthorizationKey, it reconnects
with the new key, as a charger does after a key rotation.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import ssl
import sys
import time
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.exceptions import InternalError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    CertificateSignedStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    RemoteStartStopStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnlockStatus,
    UpdateStatus,
)

log = logging.getLogger("simulator")

POWER_W = 11_000  # what the simulated car draws while charging


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def connect_options(
    url: str,
    cp_id: str,
    *,
    password: str | None = None,
    cafile: str | None = None,
    cert: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """`websockets.connect` keyword arguments for a charger with these credentials: the
    ``ocpp1.6`` subprotocol, Basic auth (username = charger id, password = its
    AuthorizationKey), and for ``wss://`` a TLS context that verifies the gateway
    (against `cafile`, else the system's CAs) and presents a client certificate."""
    options: dict[str, Any] = {"subprotocols": ["ocpp1.6"]}
    if password is not None:
        token = base64.b64encode(f"{cp_id}:{password}".encode()).decode("ascii")
        options["additional_headers"] = {"Authorization": f"Basic {token}"}
    secure = url.startswith("wss://")
    if not secure and (cafile or cert or key):
        raise ValueError("--cafile, --cert and --key need a wss:// URL")
    if (cert is None) != (key is None):
        raise ValueError("--cert and --key go together")
    if secure:
        context = ssl.create_default_context(cafile=cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert is not None:
            context.load_cert_chain(cert, key)
        options["ssl"] = context
    return options


class SimulatedChargePoint(ChargePoint):  # type: ignore[misc]
    """A charger with `connectors` connectors and a plain energy meter."""

    def __init__(
        self, cp_id: str, connection: Any, connectors: int = 2, power_w: int = POWER_W, **kwargs: Any
    ) -> None:
        super().__init__(cp_id, connection, **kwargs)
        self.connectors = connectors
        self.power_w = power_w
        self.meter_wh = 0
        self.transactions: dict[int, int] = {}  # connector -> transaction id
        self.configuration: dict[str, str] = {
            "HeartbeatInterval": "300",
            "MeterValueSampleInterval": "60",
            "NumberOfConnectors": str(connectors),
        }
        self.readonly = {"NumberOfConnectors"}  # keys GetConfiguration reports readonly
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.last_sample: dict[int, float] = {}  # connector -> time of its last MeterValues
        self.background: set[asyncio.Task[Any]] = set()
        self.key_changed = asyncio.Event()  # the central system set a new AuthorizationKey
        self.job_step_s = 0.05  # between the status notifications of a firmware/log job
        self.local_list: dict[str, dict[str, Any]] = {}  # idTag -> idTagInfo
        self.local_list_version = 0
        self.charging_profiles: dict[int, tuple[int, dict[str, Any]]] = {}  # id -> (connector, profile)
        # action -> the status to answer instead of acting (a refusal), or "CALLERROR"
        self.answers: dict[str, str] = {}

    def _forced(self, action: str) -> str | None:
        """The status set for `action` in `answers`; "CALLERROR" answers a CALLERROR."""
        status = self.answers.get(action)
        if status == "CALLERROR":
            raise InternalError(description=f"{action} failed (simulated)")
        return status

    def _later(self, coro: Any) -> None:
        """Run a follow-up CALL after our reply went out (the spec's order)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- what the charger sends ---------------------------------------------------
    async def boot(self) -> call_result.BootNotification:
        reply = await self.call(
            call.BootNotification(
                charge_point_vendor="OpenCSMS",
                charge_point_model="Simulator",
                charge_point_serial_number=f"SIM-{self.id}"[:25],
                firmware_version="1.0.0",
            )
        )
        for connector in range(self.connectors + 1):
            await self.status(connector, ChargePointStatus.available)
        return reply

    async def status(self, connector: int, status: str) -> None:
        await self.call(
            call.StatusNotification(
                connector_id=connector,
                error_code=ChargePointErrorCode.no_error,
                status=status,
                timestamp=now(),
            )
        )

    async def start_session(self, connector: int, id_tag: str) -> int:
        await self.status(connector, ChargePointStatus.preparing)
        reply = await self.call(
            call.StartTransaction(
                connector_id=connector, id_tag=id_tag, meter_start=self.meter_wh, timestamp=now()
            )
        )
        self.transactions[connector] = reply.transaction_id
        self.last_sample[connector] = time.monotonic()
        await self.status(connector, ChargePointStatus.charging)
        return int(reply.transaction_id)

    def _draw(self, connector: int) -> int:
        """Energy (Wh) drawn at `power_w` on `connector` since its last reading."""
        now_s = time.monotonic()
        since = self.last_sample.get(connector, now_s) if connector in self.transactions else now_s
        self.last_sample[connector] = now_s
        return round(self.power_w * (now_s - since) / 3600)

    async def meter(self, connector: int, wh: int | None = None) -> None:
        """Send a MeterValues; without `wh`, the energy drawn since the last reading."""
        drawn = self._draw(connector)
        self.meter_wh += drawn if wh is None else wh
        await self.call(
            call.MeterValues(
                connector_id=connector,
                transaction_id=self.transactions.get(connector),
                meter_value=[
                    {
                        "timestamp": now(),
                        "sampledValue": [
                            {
                                "value": str(self.meter_wh),
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                        ],
                    }
                ],
            )
        )

    async def stop_session(self, connector: int, reason: str = "Local") -> None:
        self.meter_wh += self._draw(connector)
        tx_id = self.transactions.pop(connector)
        await self.call(
            call.StopTransaction(
                meter_stop=self.meter_wh, timestamp=now(), transaction_id=tx_id, reason=reason
            )
        )
        await self.status(connector, ChargePointStatus.finishing)
        await self.status(connector, ChargePointStatus.available)

    async def session(self, connector: int = 1, id_tag: str = "DEMO-TAG", samples: int = 3) -> int:
        authorized = await self.call(call.Authorize(id_tag=id_tag))
        log.info("%s: idTag %s is %s", self.id, id_tag, authorized.id_tag_info["status"])
        tx_id = await self.start_session(connector, id_tag)
        for _ in range(samples):
            await self.meter(connector, 1500)
        await self.stop_session(connector)
        return tx_id

    # -- what the charger answers ---------------------------------------------------
    @on(Action.remote_start_transaction)
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **kw: Any) -> Any:
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id}))
        connector = connector_id or 1
        if connector in self.transactions:
            return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.rejected)
        self._later(self.start_session(connector, id_tag))
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, **kw: Any) -> Any:
        self.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        for connector, tx_id in self.transactions.items():
            if tx_id == transaction_id:
                self._later(self.stop_session(connector, "Remote"))
                return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.rejected)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **kw: Any) -> Any:
        self._forced("GetConfiguration")  # only a CALLERROR: GetConfiguration has no status
        wanted = key or sorted(self.configuration)
        known = [
            {"key": k, "readonly": k in self.readonly, "value": self.configuration[k]}
            for k in wanted
            if k in self.configuration
        ]
        unknown = [k for k in wanted if k not in self.configuration]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **kw: Any) -> Any:
        self.received.append(("ChangeConfiguration", {"key": key, "value": value}))
        if key in self.readonly:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)
        self.configuration[key] = value
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @after(Action.change_configuration)
    def after_change_configuration(self, key: str, value: str, **kw: Any) -> None:
        """A new AuthorizationKey: reconnect with it, once our Accepted is on its way."""
        if key == "AuthorizationKey":
            self.key_changed.set()

    @on(Action.certificate_signed)
    def on_certificate_signed(self, certificate_chain: str, **kw: Any) -> Any:
        self.received.append(("CertificateSigned", {"certificate_chain": certificate_chain}))
        return call_result.CertificateSigned(status=CertificateSignedStatus.accepted)

    @on(Action.reset)
    def on_reset(self, type: str, **kw: Any) -> Any:
        self.received.append(("Reset", {"type": type}))
        return call_result.Reset(status=ResetStatus.accepted)

    @on(Action.unlock_connector)
    def on_unlock(self, connector_id: int, **kw: Any) -> Any:
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **kw: Any) -> Any:
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.clear_cache)
    def on_clear_cache(self, **kw: Any) -> Any:
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **kw: Any) -> Any:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.reserve_now)
    def on_reserve_now(self, connector_id: int, reservation_id: int, **kw: Any) -> Any:
        self.received.append(("ReserveNow", {"connector_id": connector_id, "reservation_id": reservation_id}))
        return call_result.ReserveNow(status=self._forced("ReserveNow") or "Accepted")

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **kw: Any) -> Any:
        self.received.append(("CancelReservation", {"reservation_id": reservation_id}))
        return call_result.CancelReservation(status=self._forced("CancelReservation") or "Accepted")

    @on(Action.send_local_list)
    def on_send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: Any = None, **kw: Any
    ) -> Any:
        self.received.append(("SendLocalList", {"list_version": list_version, "update_type": update_type}))
        status = self._forced("SendLocalList")
        if status is not None:
            return call_result.SendLocalList(status=status)
        entries = {e["id_tag"]: e.get("id_tag_info") for e in local_authorization_list or []}
        if update_type == "Full":
            self.local_list = {tag: info for tag, info in entries.items() if info is not None}
        else:
            for tag, info in entries.items():
                if info is None:
                    self.local_list.pop(tag, None)
                else:
                    self.local_list[tag] = info
        self.local_list_version = list_version
        return call_result.SendLocalList(status=UpdateStatus.accepted)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kw: Any) -> Any:
        supported = self._forced("GetLocalListVersion") != "NotSupported"
        return call_result.GetLocalListVersion(list_version=self.local_list_version if supported else -1)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **kw: Any
    ) -> Any:
        self.received.append(
            ("SetChargingProfile", {"connector_id": connector_id, "profile": cs_charging_profiles})
        )
        status = self._forced("SetChargingProfile")
        if status is None:
            self.charging_profiles[cs_charging_profiles["charging_profile_id"]] = (
                connector_id,
                cs_charging_profiles,
            )
        return call_result.SetChargingProfile(status=status or "Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self, id: int | None = None, connector_id: int | None = None, **kw: Any
    ) -> Any:
        """Clears the profile `id`, or every one matching the other fields given."""
        self.received.append(("ClearChargingProfile", {"id": id, "connector_id": connector_id, **kw}))
        status = self._forced("ClearChargingProfile")
        if status is not None:
            return call_result.ClearChargingProfile(status=status)
        purpose, stack_level = kw.get("charging_profile_purpose"), kw.get("stack_level")
        gone = [
            profile_id
            for profile_id, (connector, profile) in self.charging_profiles.items()
            if (id == profile_id)
            or (
                id is None
                and connector_id in (None, connector)
                and purpose in (None, profile["charging_profile_purpose"])
                and stack_level in (None, profile["stack_level"])
            )
        ]
        for profile_id in gone:
            del self.charging_profiles[profile_id]
        return call_result.ClearChargingProfile(status="Accepted" if gone else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(self, connector_id: int, duration: int, **kw: Any) -> Any:
        """The schedule of the highest-stack profile on the connector or the charger, cut
        to `duration` (a charger merges them; one is enough for a simulator)."""
        status = self._forced("GetCompositeSchedule")
        if status is not None:
            return call_result.GetCompositeSchedule(status=status)
        profiles = [p for connector, p in self.charging_profiles.values() if connector in (0, connector_id)]
        if not profiles:
            return call_result.GetCompositeSchedule(status="Rejected")
        schedule = max(profiles, key=lambda p: p["stack_level"])["charging_schedule"]
        periods = [
            {"startPeriod": p["start_period"], "limit": float(p["limit"])}  # the ocpp package's Decimal
            for p in schedule["charging_schedule_period"]
            if p["start_period"] < duration
        ]
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=now(),
            charging_schedule={
                "duration": duration,
                "chargingRateUnit": schedule["charging_rate_unit"],
                "chargingSchedulePeriod": periods,
            },
        )

    # -- firmware, diagnostics and logs: answer, then report the job's progress ----------
    async def _report(self, notification: Any, statuses: list[str], **fields: Any) -> None:
        """Send `notification` once per status, in order (a download, an upload)."""
        for status in statuses:
            await asyncio.sleep(self.job_step_s)
            await self.call(notification(status=status, **fields))

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **kw: Any) -> Any:
        self.received.append(("UpdateFirmware", {"location": location, "retrieve_date": retrieve_date}))
        self._forced("UpdateFirmware")
        steps = ["Downloading", "Downloaded", "Installing", "Installed"]
        self._later(self._report(call.FirmwareStatusNotification, steps))
        return call_result.UpdateFirmware()

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **kw: Any) -> Any:
        self.received.append(("GetDiagnostics", {"location": location}))
        self._forced("GetDiagnostics")
        self._later(self._report(call.DiagnosticsStatusNotification, ["Uploading", "Uploaded"]))
        return call_result.GetDiagnostics(file_name=f"diagnostics-{self.id}.zip"[:255])

    @on(Action.signed_update_firmware)
    def on_signed_update_firmware(self, request_id: int, firmware: dict[str, Any], **kw: Any) -> Any:
        self.received.append(("SignedUpdateFirmware", {"request_id": request_id, "firmware": firmware}))
        status = self._forced("SignedUpdateFirmware")
        if status is not None:
            return call_result.SignedUpdateFirmware(status=status)
        steps = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]
        self._later(self._report(call.SignedFirmwareStatusNotification, steps, request_id=request_id))
        return call_result.SignedUpdateFirmware(status="Accepted")

    @on(Action.get_log)
    def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **kw: Any) -> Any:
        self.received.append(("GetLog", {"log_type": log_type, "request_id": request_id}))
        status = self._forced("GetLog")
        if status is not None:
            return call_result.GetLog(status=status)
        steps = ["Uploading", "Uploaded"]
        self._later(self._report(call.LogStatusNotification, steps, request_id=request_id))
        return call_result.GetLog(status="Accepted", filename=f"{log_type}-{request_id}.log")

    @on(Action.trigger_message)
    def on_trigger(self, requested_message: str, connector_id: int | None = None, **kw: Any) -> Any:
        self.received.append(("TriggerMessage", {"requested_message": requested_message}))
        if requested_message == "Heartbeat":
            self._later(self.call(call.Heartbeat()))
        elif requested_message == "StatusNotification":
            self._later(self.status(connector_id or 0, ChargePointStatus.available))
        elif requested_message == "BootNotification":
            self._later(self.boot())
        elif requested_message == "MeterValues":
            self._later(self.meter(connector_id or 1))
        else:
            return call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented)
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)


async def run(args: argparse.Namespace) -> int:
    url = f"{args.url.rstrip('/')}/{args.id}"
    password = args.password
    interval: int | None = None  # the heartbeat interval the boot gave; None: not booted yet
    while True:
        options = connect_options(
            url, args.id, password=password, cafile=args.cafile, cert=args.cert, key=args.key
        )
        async with websockets.connect(url, **options) as ws:
            cp = SimulatedChargePoint(args.id, ws, connectors=args.connectors)
            if password is not None:
                cp.configuration["AuthorizationKey"] = password
            listener = asyncio.create_task(cp.start())
            try:
                if interval is None:
                    interval = await first_connection(cp, args)
                    if args.exit:
                        return 0
                    print(f"{args.id}: connected to {url}; answering the central system (Ctrl-C to stop)")
                await stay_online(cp, args.meter_interval, interval)
            finally:
                listener.cancel()
        # The AuthorizationKey was rotated: reconnect with the new one (the central
        # system keeps the old one valid until we do).
        password = cp.configuration["AuthorizationKey"]
        print(f"{args.id}: AuthorizationKey changed; reconnecting with the new key")


async def first_connection(cp: SimulatedChargePoint, args: argparse.Namespace) -> int:
    """Boot, heartbeat and the optional session; the heartbeat interval the boot gave."""
    boot = await cp.boot()
    print(f"{args.id}: BootNotification {boot.status}, heartbeat every {boot.interval} s")
    heartbeat = await cp.call(call.Heartbeat())
    print(f"{args.id}: Heartbeat, central system time {heartbeat.current_time}")
    if args.session:
        tx_id = await cp.session(1, args.id_tag, args.samples)
        print(f"{args.id}: charging session done, transaction {tx_id}, meter {cp.meter_wh} Wh")
    return int(boot.interval or 300)


async def stay_online(cp: SimulatedChargePoint, meter_interval: float, heartbeat_interval: int) -> None:
    """Heartbeat every `heartbeat_interval` seconds; while charging, meter values every
    `meter_interval`. Returns once the central system changed the AuthorizationKey."""
    next_heartbeat = time.monotonic() + heartbeat_interval
    while True:
        try:
            await asyncio.wait_for(cp.key_changed.wait(), meter_interval)
            return
        except TimeoutError:
            pass
        for connector in list(cp.transactions):
            await cp.meter(connector)
        if time.monotonic() >= next_heartbeat:
            await cp.call(call.Heartbeat())
            next_heartbeat = time.monotonic() + heartbeat_interval


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """The simulator's command line (`prog`: the name its usage shows, as
    ``ocpp-csms simulate`` that delegates here)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--id", default="CP001", help="charge point identity (default CP001)")
    parser.add_argument(
        "--url", default="ws://localhost:9000/ocpp", help="gateway URL without the id (ws:// or wss://)"
    )
    parser.add_argument("--password", help="AuthorizationKey for HTTP Basic auth (security profiles 1, 2)")
    parser.add_argument("--cafile", help="PEM CA to verify the gateway's wss:// certificate with")
    parser.add_argument("--cert", help="PEM client certificate (security profile 3; with --key)")
    parser.add_argument("--key", help="PEM private key of --cert")
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--session", action="store_true", help="run one charging session after boot")
    parser.add_argument("--id-tag", default="DEMO-TAG")
    parser.add_argument("--samples", type=int, default=3, help="MeterValues per session")
    parser.add_argument(
        "--meter-interval", type=float, default=10, help="seconds between MeterValues while charging"
    )
    parser.add_argument("--exit", action="store_true", help="disconnect when done instead of staying online")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every frame")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:  # options that do not fit together, or files that cannot be read: a usage error
        connect_options(
            args.url, args.id, password=args.password, cafile=args.cafile, cert=args.cert, key=args.key
        )
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0
    except (OSError, websockets.exceptions.InvalidHandshake) as exc:
        # ssl.SSLError is an OSError: a gateway certificate that does not verify lands here
        print(f"cannot connect to {args.url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
