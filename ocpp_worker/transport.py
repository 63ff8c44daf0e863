"""The messages processes hand each other, in one place: their types, and how each
travels as a flat string map (a Redis stream entry) or as Celery JSON.

* gateway → bridges: every frame from a charger is one `ChargerFrame` on the inbound
  stream; CALLs of ours that a vanished charger will never answer, one `Abandoned`.
* bridge → workers: a charger CALL is the `TaskEnvelope` of task `task_name(action)`.
* workers, bridge, API → gateway: `Send`, `CsmsCall` and `Close` ops on the outbox
  stream of the gateway process that holds the charger's socket.
* bridge → API: the `CallOutcome` of one of our CALLs, stored as the Celery result
  whose id is the OCPP message id.

Every producer builds these with the types below and every consumer reads them with
`decode_inbound` / `decode_op`, so a field is named once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from ocpp_worker.state.keys import Keys

OUTBOX_MAXLEN = 100_000
INBOUND_MAXLEN = 1_000_000  # a safety cap should every bridge be down for long


def task_name(action: str) -> str:
    """The Celery task that answers a charger's `action` CALL."""
    return f"ocpp.v16.{action}"


# -- inbound stream (gateway → bridges) ------------------------------------------------


@dataclass(frozen=True)
class ChargerFrame:
    """A text frame a charger sent, unparsed. `answers` is the action of our CALL it
    answers (a 1.6 CALLRESULT does not say), else ""."""

    cp: str
    gw: str
    conn: str
    frame: str
    answers: str = ""
    ts: float = 0.0


@dataclass(frozen=True)
class Abandoned:
    """Our CALLs that will get no answer: the charger disconnected."""

    cp: str
    ids: tuple[str, ...]
    reason: str


Inbound = ChargerFrame | Abandoned


def encode_inbound(entry: Inbound) -> dict[str, str]:
    if isinstance(entry, Abandoned):
        return {"kind": "abandoned", "cp": entry.cp, "ids": ",".join(entry.ids), "reason": entry.reason}
    fields = {
        "kind": "frame",
        "cp": entry.cp,
        "gw": entry.gw,
        "conn": entry.conn,
        "frame": entry.frame,
        "ts": f"{entry.ts or time.time():.3f}",
    }
    if entry.answers:
        fields["action"] = entry.answers
    return fields


def decode_inbound(fields: dict[str, str]) -> Inbound:
    if fields.get("kind") == "abandoned":
        ids = tuple(filter(None, fields.get("ids", "").split(",")))
        return Abandoned(fields.get("cp", ""), ids, fields.get("reason", ""))
    return ChargerFrame(
        cp=fields["cp"],
        gw=fields["gw"],
        conn=fields.get("conn", ""),
        frame=fields["frame"],
        answers=fields.get("action", ""),
        ts=float(fields.get("ts") or 0),
    )


# -- bridge → workers -----------------------------------------------------------------


class TaskEnvelope(TypedDict):
    """The one argument of every ``ocpp.v16.<Action>`` task: a charger CALL as the
    bridge read it. The frame travels as text and is parsed again, with the same
    limits, in the task: nothing a charger sends reaches Celery's serializers as a
    structure (a deeply nested payload once killed the worker while it was pickled)."""

    cp: str  # charger id
    gw: str  # gateway holding the socket, where the reply goes
    conn: str  # the connection it came in on: a reply for an older one is not sent
    entry: str  # inbound stream entry id: tells a redelivery from a resent message id
    frame: str  # the CALL frame, as the charger sent it


# -- gateway outbox (anyone → the gateway holding a charger) ---------------------------


@dataclass(frozen=True)
class Send:
    """Send a frame (our reply to a charger CALL, or a CALLERROR) as it is, on
    connection `conn` only ("" = whichever is open): a charger that reconnected
    resends its unanswered CALLs, and must not get the old connection's answers too."""

    cp: str
    frame: str
    conn: str = ""


@dataclass(frozen=True)
class CsmsCall:
    """Send our CALL when the charger has no other CALL of ours outstanding, unless
    `deadline` (epoch seconds, when the API stops waiting) has passed by then."""

    cp: str
    id: str
    action: str
    frame: str
    deadline: float


@dataclass(frozen=True)
class Close:
    """Close the charger's connection `conn` ("" = whichever is open) with `code`."""

    cp: str
    conn: str
    code: int
    reason: str


OutboxOp = Send | CsmsCall | Close


def encode_op(op: OutboxOp) -> dict[str, str]:
    if isinstance(op, Send):
        return {"op": "send", "cp": op.cp, "frame": op.frame, "conn": op.conn}
    if isinstance(op, CsmsCall):
        return {
            "op": "call",
            "cp": op.cp,
            "id": op.id,
            "action": op.action,
            "frame": op.frame,
            "deadline": f"{op.deadline:.3f}",
        }
    return {"op": "close", "cp": op.cp, "conn": op.conn, "code": str(op.code), "reason": op.reason}


def decode_op(fields: dict[str, str]) -> OutboxOp | None:
    """The op of an outbox entry, or None for an entry this version does not know."""
    op, cp = fields.get("op"), fields.get("cp", "")
    if op == "send":
        return Send(cp, fields["frame"], fields.get("conn", ""))
    if op == "call":
        return CsmsCall(cp, fields["id"], fields["action"], fields["frame"], float(fields["deadline"]))
    if op == "close":
        return Close(cp, fields.get("conn", ""), int(fields.get("code") or 1000), fields.get("reason", ""))
    return None


def to_gateway(client: Any, keys: Keys, gateway_id: str, op: OutboxOp) -> Any:
    """Queue one op for a gateway process (it reads its outbox with one XREAD).
    `client` may be a pipeline, so the op is sent with the writes it goes with; on a
    client, the entry id is returned."""
    return client.xadd(keys.gateway_outbox(gateway_id), encode_op(op), maxlen=OUTBOX_MAXLEN, approximate=True)


# -- bridge → API: what became of one of our CALLs -------------------------------------

OutcomeKind = Literal["result", "error", "invalid", "abandoned"]


class CallOutcome(TypedDict):
    """``result``: the charger's payload; ``error``: its CALLERROR; ``invalid``: an
    answer that breaks the response schema; ``abandoned``: it went away first."""

    kind: OutcomeKind
    payload: NotRequired[Any]
    errorCode: NotRequired[str]
    errorDescription: NotRequired[str]
    errorDetails: NotRequired[Any]
    reason: NotRequired[str]


def result_outcome(payload: Any) -> CallOutcome:
    return {"kind": "result", "payload": payload}


def error_outcome(code: str, description: str, details: Any) -> CallOutcome:
    return {"kind": "error", "errorCode": code, "errorDescription": description, "errorDetails": details}


def invalid_outcome(code: str, description: str, payload: Any = None) -> CallOutcome:
    return {"kind": "invalid", "errorCode": code, "errorDescription": description, "payload": payload}


def abandoned_outcome(reason: str) -> CallOutcome:
    return {"kind": "abandoned", "reason": reason}
