"""Which charger ids we accept, read from the WebSocket path ``/ocpp/{chargePointId}``.

OCPP 1.6 names a charger by its chargeBoxIdentity (CiString48Type) and the security
whitepaper limits it to the identifierString set. We accept exactly that by default:
1-48 characters of ``a-z A-Z 0-9 * - _ = : + | @ .``, after percent-decoding the
last path segment once. Anything else (``/``, spaces, NUL, newlines that would forge
log lines, ``%``) is refused at the handshake, before a frame is read. Operators
with legacy ids may widen the pattern (``OCPP_CHARGER_ID_PATTERN``); keys stay safe
whatever it allows, since `state.keys.charger_tag` encodes every id.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import unquote

from ocpp_worker.protocol import lengths

DEFAULT_PATTERN = rf"[A-Za-z0-9*\-_=:+|@.]{{1,{lengths.CHARGE_BOX_IDENTITY}}}"
PATH_PREFIX = "/ocpp/"
# "." and ".." are path segments, not names: no HTTP client could address them.
_DOT_SEGMENTS = {".", ".."}


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def is_valid(cp_id: str, pattern: str = DEFAULT_PATTERN) -> bool:
    return cp_id not in _DOT_SEGMENTS and _compiled(pattern).fullmatch(cp_id) is not None


def from_path(path: str) -> str | None:
    """The percent-decoded last segment of ``/ocpp/…/{id}`` (unchecked), or None when
    the path is not under ``/ocpp/``."""
    path = path.split("?", 1)[0]
    if not path.startswith(PATH_PREFIX) or path.rstrip("/") == PATH_PREFIX.rstrip("/"):
        return None
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])
