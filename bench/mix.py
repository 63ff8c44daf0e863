"""The chargers' messages, built by hand, and the check of every reply.

Every charger walks the same 11-message cycle, starting at its own position so the
mix is uniform from the first second:

    Heartbeat, StatusNotification, Authorize, StartTransaction,
    MeterValues x 6 (two sampled values each), StopTransaction

A reply passes when it is a CALLRESULT with the same message id, its payload is
valid against the official 1.6 response schema (the ``ocpp`` package's files), and
its values make sense (Accepted boot with a positive interval, a clock within
5 minutes of ours, Accepted idTags, a fresh positive transaction id, empty payloads
where 1.6 has them).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ocpp
from jsonschema import Draft4Validator

CYCLE = (
    "Heartbeat",
    "StatusNotification",
    "Authorize",
    "StartTransaction",
    *("MeterValues",) * 6,
    "StopTransaction",
)
FIRST_WITH_TRANSACTION = CYCLE.index("StartTransaction") + 1  # positions that need a transaction
ACTIONS = ("BootNotification", *sorted(set(CYCLE)))
CLOCK_SKEW_S = 300.0

_SCHEMAS = Path(ocpp.__file__).parent / "v16" / "schemas"
VALIDATORS = {
    action: Draft4Validator(json.loads((_SCHEMAS / f"{action}Response.json").read_text()))
    for action in ACTIONS
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _sane_clock(value: Any) -> bool:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    return abs(moment.timestamp() - time.time()) < CLOCK_SKEW_S


class Charger:
    """One simulated charge point: its socket, its place in the cycle, its meter."""

    __slots__ = ("cp_id", "dead", "id_tag", "meter_wh", "pos", "seen_tx", "seq", "tx_id", "ws")

    def __init__(self, cp_id: str, pos: int, seen_tx: set[int]) -> None:
        self.cp_id = cp_id
        self.ws: Any = None
        self.pos = pos % len(CYCLE)
        self.seq = 0
        self.tx_id: int | None = None
        self.meter_wh = 0
        self.id_tag = f"TAG{abs(hash(cp_id)) % 10**8:08d}"
        self.seen_tx = seen_tx  # transaction ids this process was given (must not repeat)
        self.dead = False

    # -- frames ---------------------------------------------------------------
    def _frame(self, action: str, payload: str) -> tuple[str, str, str]:
        self.seq += 1
        uid = f"{self.seq}"
        return action, uid, f'[2,"{uid}","{action}",{payload}]'

    def boot(self) -> tuple[str, str, str]:
        return self._frame(
            "BootNotification",
            '{"chargePointVendor":"Bench","chargePointModel":"LoadGen-1",'
            f'"chargePointSerialNumber":"{self.cp_id[-25:]}","firmwareVersion":"1.0.0"}}',
        )

    def heartbeat(self) -> tuple[str, str, str]:
        return self._frame("Heartbeat", "{}")

    def start_transaction(self) -> tuple[str, str, str]:
        return self._frame(
            "StartTransaction",
            f'{{"connectorId":1,"idTag":"{self.id_tag}","meterStart":{self.meter_wh},'
            f'"timestamp":"{now_iso()}"}}',
        )

    def next(self) -> tuple[str, str, str]:
        """The next CALL of the cycle: (action, message id, frame)."""
        action = CYCLE[self.pos]
        self.pos = (self.pos + 1) % len(CYCLE)
        if action == "Heartbeat":
            return self.heartbeat()
        if action == "StatusNotification":
            return self._frame(
                "StatusNotification",
                f'{{"connectorId":1,"errorCode":"NoError","status":"Preparing","timestamp":"{now_iso()}"}}',
            )
        if action == "Authorize":
            return self._frame("Authorize", f'{{"idTag":"{self.id_tag}"}}')
        if action == "StartTransaction":
            return self.start_transaction()
        if action == "MeterValues":
            self.meter_wh += 125
            return self._frame(
                "MeterValues",
                f'{{"connectorId":1,"transactionId":{self.tx_id or 0},"meterValue":[{{'
                f'"timestamp":"{now_iso()}","sampledValue":['
                f'{{"value":"{self.meter_wh}","measurand":"Energy.Active.Import.Register","unit":"Wh"}},'
                '{"value":"7400","measurand":"Power.Active.Import","unit":"W"}]}]}',
            )
        self.meter_wh += 125
        frame = self._frame(
            "StopTransaction",
            f'{{"transactionId":{self.tx_id or 0},"idTag":"{self.id_tag}","meterStop":{self.meter_wh},'
            f'"timestamp":"{now_iso()}","reason":"Local"}}',
        )
        self.tx_id = None
        return frame

    # -- replies --------------------------------------------------------------
    def check(self, action: str, uid: str, text: str | bytes) -> str | None:
        """None if `text` is a good answer to our CALL `uid` of `action`, else why not."""
        try:
            message = json.loads(text)
        except ValueError:
            return f"{action}: not JSON"
        if not isinstance(message, list) or len(message) < 3:
            return f"{action}: not an OCPP frame"
        if message[1] != uid:
            return f"{action}: answer for message id {str(message[1])[:20]!r}, expected {uid!r}"
        if message[0] == 4:
            return f"{action}: CALLERROR {message[2]} {str(message[3:4])[:80]}"
        if message[0] != 3:
            return f"{action}: message type {message[0]!r}"
        payload = message[2]
        if not VALIDATORS[action].is_valid(payload):
            return f"{action}: reply breaks the 1.6 schema: {str(payload)[:120]}"
        return self._sensible(action, payload)

    def _sensible(self, action: str, p: dict[str, Any]) -> str | None:
        if action == "BootNotification":
            if p["status"] != "Accepted" or p["interval"] <= 0 or not _sane_clock(p["currentTime"]):
                return f"BootNotification: {p}"
        elif action == "Heartbeat":
            if not _sane_clock(p["currentTime"]):
                return f"Heartbeat: clock {p['currentTime']!r}"
        elif action in ("Authorize", "StopTransaction"):
            if p.get("idTagInfo", {}).get("status") != "Accepted":
                return f"{action}: {p}"
        elif action == "StartTransaction":
            tx_id = p["transactionId"]
            if p["idTagInfo"]["status"] != "Accepted" or tx_id <= 0:
                return f"StartTransaction: {p}"
            if tx_id in self.seen_tx:
                return f"StartTransaction: transaction id {tx_id} handed out twice"
            self.seen_tx.add(tx_id)
            self.tx_id = tx_id
        elif p:
            return f"{action}: expected an empty payload, got {str(p)[:80]}"
        return None
