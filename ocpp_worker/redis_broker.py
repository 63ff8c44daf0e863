"""kombu's Redis transport, with a fix that keeps a Celery worker alive through a Redis
restart. `install()` (called by ocpp_worker.celery_app) makes it the transport of
``redis://`` and ``rediss://`` broker URLs, so connections still print and parse as
``redis://`` (Flower's broker page needs that).

The bug (kombu 5.7.0 with celery 5.7.0): when the worker's consumer loses the broker,
``Consumer.on_connection_error_after_connected`` first calls ``connection.collect()``
and then ``connection.close()``. ``collect`` closes the default channel and then
detaches the transport from its connection (``transport.client = None``). But the
Redis ``Channel.close`` begins by reading the reply of the BRPOP it has in flight; on
a dead socket that read raises ConnectionError *before* the channel is marked closed.
``collect`` swallows the error, and ``close`` closes the same channel a second time:
now it gets to ``restore_unacked()``, which needs a new connection pool, whose
parameters come from ``transport.client.hostname``: ``AttributeError: 'NoneType'
object has no attribute 'hostname'``. That is not a connection error, so it escapes
``ignore_errors`` and the worker stops with "Unrecoverable error". It takes a BRPOP in
flight and unacknowledged messages (both usual under load) and the loss being noticed
on another socket (the pub/sub one of remote control, an ack): about one Redis restart
in four under load.

A second, rarer loss: a worker takes a message with BRPOP (the message leaves the
queue) and then registers it as unacknowledged with a second command (ZADD + HSET).
If Redis goes away between the two, the message exists only in the worker's memory,
and kombu drops it when the connection error unwinds: measured about once in three
Redis restarts under load, a CALL nobody ever answers.

The changes:

* `QoS.append` keeps a message whose registration failed, and the next channel this
  process opens (the worker's, once Redis answers again) puts it back at the head of
  its queue;
* `Channel.close` reads the in-flight BRPOP reply itself and ignores a connection
  error from it, so the rest of the close (and the restore of unacknowledged
  messages, if Redis is back) happens on the first call, while the transport is
  still attached;
* a channel whose transport was detached raises a connection error instead of the
  AttributeError whenever it needs a new connection (a late ack of a task that was
  running across the reconnect, a second close): Celery logs those and carries on,
  and the message is redelivered after the visibility timeout.
"""

from __future__ import annotations

import logging
import os
import threading
from queue import Empty
from typing import Any

import kombu.transport
import redis
from kombu.transport import redis as kombu_redis_typed

# The private members used here are not in kombu's stubs.
kombu_redis: Any = kombu_redis_typed
kombu_transports: Any = kombu.transport

log = logging.getLogger(__name__)

# Messages taken from a queue that could not be registered as unacknowledged:
# (payload, exchange, routing key), to requeue once Redis answers again.
_orphans: list[tuple[Any, str, str]] = []
_orphans_lock = threading.Lock()
# A pool process forked meanwhile must not requeue them a second time.
os.register_at_fork(after_in_child=_orphans.clear)


class QoS(kombu_redis.QoS):  # type: ignore[misc]
    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)
        except self.channel.connection_errors:
            delivery = message.delivery_info
            with _orphans_lock:
                _orphans.append((message._raw, delivery["exchange"], delivery["routing_key"]))
            log.warning("Redis went away as message %s was taken: requeueing it on reconnect", delivery_tag)
            raise


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # connects (PING)
        self._requeue_orphans()

    def _requeue_orphans(self) -> None:
        with _orphans_lock:
            taken = list(_orphans)
            _orphans.clear()
        if not taken:
            return
        try:
            with self.conn_or_acquire() as client, client.pipeline() as pipe:
                for payload, exchange, routing_key in taken:
                    self._do_restore_message(payload, exchange, routing_key, pipe)
                pipe.execute()
        except self.connection_errors:
            with _orphans_lock:
                _orphans[:0] = taken  # the next channel tries again
            return
        log.warning("requeued %d message(s) taken while Redis went away", len(taken))

    def close(self) -> None:
        if self._in_poll:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                pass  # the broker went away under the BRPOP; close the rest all the same
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is None or self.connection.client is None:
            raise redis.ConnectionError("this channel or its broker connection was closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        return params


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel


def install() -> None:
    """Make `Transport` the one of redis:// and rediss:// URLs in this process."""
    for scheme in ("redis", "rediss"):
        kombu_transports.TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
        kombu_transports._transport_cache.pop(scheme, None)
