"""The one table from OCPP action to handler function.

A handler is a plain function over one message: ``(ctx, request) -> response``,
with the `ocpp` package's dataclasses for request and response. It reads through
`ctx.store` and queues every write on `ctx.writes`, which `dispatch` executes in one
MULTI together with the reply: a CALL has its whole effect and its reply, or neither.
It knows nothing of Celery, so a unit test calls it with a real `Store` and nothing
else; the task layer (`ocpp_worker.tasks`) turns every entry into a Celery task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from ocpp.v16 import call

from ocpp_worker import calls, timeutil, transport
from ocpp_worker.state.store import Store, Writes


@dataclass
class CallContext:
    """What a handler may know besides the message: who sent it, when, and where state lives."""

    store: Store
    writes: Writes
    cp_id: str
    unique_id: str
    payload: dict[str, Any]
    now: datetime = field(default_factory=timeutil.utc_now)
    after_reply: list[transport.CsmsCall] = field(default_factory=list)

    @property
    def now_iso(self) -> str:
        return timeutil.iso(self.now)

    def call_after_reply(self, action: str, payload: dict[str, Any]) -> None:
        """Send the charger our CALL `action` right after the reply to its CALL (the
        order the specification asks for, e.g. SignCertificate.conf, then
        CertificateSigned), in the reply's commit: no reply, no CALL. Nobody waits for
        the answer; the gateway sends it when no other CALL of ours is outstanding."""
        timeout = self.store.settings.call_timeout
        self.after_reply.append(calls.outgoing(self.cp_id, action, payload, timeout))


Handler = Callable[[CallContext, Any], Any]
HANDLERS: dict[str, Handler] = {}
REQUEST_CLASSES: dict[str, type] = {}

F = TypeVar("F", bound=Handler)


def handles(action: str) -> Callable[[F], F]:
    """Register `fn` as the handler of `action`; the function itself is returned unchanged."""

    def register(fn: F) -> F:
        if action in HANDLERS:
            raise RuntimeError(f"two handlers for {action}")
        HANDLERS[action] = fn
        REQUEST_CLASSES[action] = getattr(call, action)
        return fn

    return register
