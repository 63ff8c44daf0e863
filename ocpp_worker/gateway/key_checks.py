"""AuthorizationKey checks for the handshake: off the event loop, bounded, remembered.

A key check is scrypt (`state.key_hashes`: 16 MiB and 50-130 ms of CPU per run, the
latter measured on a busy 2-core machine), so:

* it runs in a small thread pool of its own (hashlib releases the GIL in scrypt), never
  on the event loop, which keeps serving every connected charger meanwhile;
* outcomes are remembered in this process, keyed by (charger id, the record's
  ``keyVersion``, an HMAC of the password under a per-process random secret): a
  charger reconnecting after a network blip, or a replaced connection, costs one dict
  lookup instead of a scrypt run. The record is read on every handshake anyway, and
  its ``keyVersion`` changes with any key change (set, staged, promoted) on any
  process, so a remembered outcome never outlives the key it was made with. Successes
  are kept an hour, failures a minute (a charger stuck on a wrong key retrying every
  few seconds costs nothing), each in its own bounded LRU, so a flood of wrong
  passwords cannot evict the chargers that are right. The passwords themselves are
  never kept;
* identical checks in flight are shared (a charger that retries while its first
  handshake still waits adds no work);
* at most `max_waiting` distinct checks may wait: beyond that the handshake gets 503
  with Retry-After, and the charger comes back later.

This is a choice for boot storms. Remembered outcomes make the common storm, chargers
reconnecting to a gateway that kept running (a network fault), nearly free. They do
not survive a gateway restart, nor follow a charger that the load balancer sends to
another gateway: then the charger pays one scrypt, so a gateway admits some 8-20 new
Basic-auth chargers per second per thread (up to four threads), and the bound turns
the excess into quick 503s that the chargers retry with their own back-off, instead
of thousands of handshakes queued past their timeouts. A cache shared through Redis
would survive restarts, but would put fast password digests next to the slow hashes,
which is what the slow hashes are there to prevent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

POSITIVE_TTL_S = 3600.0
NEGATIVE_TTL_S = 60.0
POSITIVE_MAX = 100_000
NEGATIVE_MAX = 10_000
MAX_WAITING = 256

CacheKey = tuple[str, str, bytes]


class _Outcomes:
    """A bounded LRU of remembered check outcomes that expire."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, float] = OrderedDict()

    def __contains__(self, key: CacheKey) -> bool:
        expires = self._entries.get(key)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._entries[key]
            return False
        self._entries.move_to_end(key)
        return True

    def add(self, key: CacheKey) -> None:
        self._entries[key] = time.monotonic() + self.ttl_s
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class KeyChecks:
    """`await check(cp_id, key_version, password)`: True, False, or None when too many
    checks wait already (answer 503). `verify(cp_id, password)` is the blocking check
    (`state.registrations.verify_key` on a sync client), run in the pool."""

    def __init__(
        self,
        verify: Callable[[str, str], bool],
        threads: int = min(4, os.cpu_count() or 1),
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._verify = verify
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="key-check")
        self._secret = os.urandom(32)
        self.max_waiting = max_waiting
        self.accepted = _Outcomes(POSITIVE_TTL_S, POSITIVE_MAX)
        self.refused = _Outcomes(NEGATIVE_TTL_S, NEGATIVE_MAX)
        self._waiting: dict[CacheKey, asyncio.Future[bool]] = {}
        self.runs = 0  # blocking checks started (tests and logs)

    def _key(self, cp_id: str, key_version: str, password: str) -> CacheKey:
        digest = hmac.new(self._secret, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return cp_id, key_version, digest

    async def check(self, cp_id: str, key_version: str, password: str) -> bool | None:
        key = self._key(cp_id, key_version, password)
        if key in self.accepted:
            return True
        if key in self.refused:
            return False
        waiting = self._waiting.get(key)
        if waiting is None:
            if len(self._waiting) >= self.max_waiting:
                return None
            waiting = asyncio.ensure_future(self._run(key, cp_id, password))
            self._waiting[key] = waiting
            waiting.add_done_callback(lambda done: self._finished(key, done))
        # shield: one handshake giving up (its timeout) must not cancel the others' check
        return await asyncio.shield(waiting)

    def _finished(self, key: CacheKey, done: asyncio.Future[bool]) -> None:
        self._waiting.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved: the waiters have it, or had all given up

    async def _run(self, key: CacheKey, cp_id: str, password: str) -> bool:
        self.runs += 1
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._pool, self._verify, cp_id, password)
        (self.accepted if ok else self.refused).add(key)
        return ok

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
