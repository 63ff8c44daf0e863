"""How processes hand work to each other over Redis streams.

* gateway → bridges: every frame from a charger is one entry of the inbound stream.
* workers/API/bridge → gateway: frames to send and commands go to the outbox stream of
  the gateway process that holds the charger's socket.

Entries are flat string maps (Redis stream fields); the field names are below.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ocpp_worker.state.keys import Keys

OUTBOX_MAXLEN = 100_000

# gateway outbox ops
SEND = "send"  # fields: cp, frame                      - a reply to a charger CALL
CALL = "call"  # fields: cp, id, action, frame, deadline - a CSMS-initiated CALL
CLOSE = "close"  # fields: cp, conn, code, reason         - close one connection

# inbound kinds
FRAME = "frame"  # fields: cp, gw, conn, frame, ts, [action] - action when it answers our CALL
ABANDONED = "abandoned"  # fields: cp, ids, reason - our CALLs that will get no answer


class TaskEnvelope(TypedDict):
    """The one argument of every ``ocpp.v16.<Action>`` task: a charger CALL as the
    bridge read it. The frame travels as text and is parsed again, with the same
    limits, in the task: nothing a charger sends reaches Celery's serializers as a
    structure (a deeply nested payload once killed the worker while it was pickled)."""

    cp: str  # charger id
    gw: str  # gateway holding the socket, where the reply goes
    entry: str  # inbound stream entry id: tells a redelivery from a resent message id
    frame: str  # the CALL frame, as the charger sent it


def outbox_entry(op: str, **fields: Any) -> dict[str, str]:
    return {"op": op, **{k: str(v) for k, v in fields.items()}}


def to_gateway(client: Any, keys: Keys, gateway_id: str, op: str, **fields: Any) -> None:
    """Queue one op for a gateway process (it reads its outbox with one XREAD)."""
    client.xadd(
        keys.gateway_outbox(gateway_id),
        outbox_entry(op, **fields),
        maxlen=OUTBOX_MAXLEN,
        approximate=True,
    )
