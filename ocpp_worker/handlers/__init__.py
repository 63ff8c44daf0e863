"""OCPP 1.6 handlers, one module per functional area, and `answer`, which turns one
charger CALL into the reply frame.

Importing this package registers every handler (see `registry.HANDLERS`).
"""

from ocpp_worker.handlers import core, firmware, security, transactions  # noqa: F401
from ocpp_worker.handlers.dispatch import BatchOutcome, HandlerCrashed, Incoming, answer, handle, handle_batch
from ocpp_worker.handlers.registry import HANDLERS, CallContext, handles

__all__ = [
    "HANDLERS",
    "BatchOutcome",
    "CallContext",
    "HandlerCrashed",
    "Incoming",
    "answer",
    "handle",
    "handle_batch",
    "handles",
]
