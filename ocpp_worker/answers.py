"""What the central system keeps from a charger's answer to a CALL of ours, whoever sent
the CALL: an API caller waiting for it (`calls.call`) or a handler that queued it after
its reply (`CallContext.call_after_reply`), for which nobody waits.

The bridge applies these hooks to each valid CALLRESULT before it resolves the answer,
so a waiting API caller reads the stored state already updated. Hooks that need the
request as well (ChangeConfiguration, SendLocalList) stay in `calls.AFTER_RESULT`.

The answer to a queued command (its message id is the command id) is not resolved for a
waiter: the bridge hands it to `commands.record_outcome`, which records it against the
command and sends the charger's next one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ocpp_worker.state import configuration
from ocpp_worker.state.store import Store

AnswerHook = Callable[[Store, str, dict[str, Any]], None]

ANSWER_HOOKS: dict[str, AnswerHook] = {
    "GetConfiguration": configuration.record_reported,
}


def keep(store: Store, cp_id: str, action: str, payload: dict[str, Any]) -> None:
    """Store what `cp_id`'s answer to our `action` CALL tells us (nothing for most)."""
    hook = ANSWER_HOOKS.get(action)
    if hook is not None:
        hook(store, cp_id, payload)
