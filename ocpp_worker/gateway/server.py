"""The gateway process: a websockets server for ``/ocpp/{chargePointId}`` with
subprotocol ``ocpp1.6``, one reader of its Redis outbox, and the registry refresh.

Per process there is one pool of Redis connections and one blocking reader, however
many chargers are connected (python-websockets' "one Redis reader per process").
"""

from __future__ import annotations

import asyncio
import functools
import http
import json
import logging
import os
import socket
import uuid
from typing import Any

import redis.asyncio as aioredis
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ocpp_worker import commands, events, timeutil, transport
from ocpp_worker.config import Settings
from ocpp_worker.gateway import admission, registry, tls
from ocpp_worker.gateway.admission import Admission
from ocpp_worker.gateway.inbound import InboundWriter
from ocpp_worker.gateway.key_checks import KeyChecks
from ocpp_worker.gateway.message_log import MessageLogWriter
from ocpp_worker.gateway.observe import FrameObserver
from ocpp_worker.gateway.session import OutgoingCall, Session
from ocpp_worker.protocol import frames, identity
from ocpp_worker.state import client, message_log, registrations
from ocpp_worker.state.keys import Keys

log = logging.getLogger(__name__)

SUBPROTOCOLS = [Subprotocol("ocpp1.6")]
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_REPLACED = 1000
CLOSE_POLICY = 1008
# Per connection: frames websockets buffers before we read them, bytes it buffers
# before a send waits, and the keepalive that drops dead TCP links.
MAX_QUEUE = 8
WRITE_LIMIT = 64 * 1024
PING_INTERVAL_S = 20
PING_TIMEOUT_S = 20
# permessage-deflate with websockets' memory-saving settings: the default compressor
# took ~38 KiB per idle connection, most of a charger's footprint (measured with
# tracemalloc); OCPP frames are small, so smaller windows lose little compression.
COMPRESSION = ServerPerMessageDeflateFactory(
    server_max_window_bits=11, client_max_window_bits=11, compress_settings={"memLevel": 4}
)


class Gateway:
    def __init__(self, settings: Settings, redis_client: Any = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        # untyped, as in state.store: redis-py's types do not model decode_responses
        self.redis: Any = redis_client or aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                settings.redis_url, decode_responses=True, max_connections=64, timeout=None
            )
        )
        self.inbound = InboundWriter(self.redis, self.keys.inbound)
        self.message_log = MessageLogWriter(self.redis, self.keys, message_log.Retention.of(settings))
        # AuthorizationKey checks run scrypt in threads, each with the sync client
        self.sync_redis = client.connect(settings.redis_url)
        self.key_checks = KeyChecks(functools.partial(registrations.verify_key, self.sync_redis, self.keys))
        self.admission = Admission(self.redis, self.keys, settings.registration, self.key_checks)
        self.sessions: dict[str, Session] = {}
        self.server: Server | None = None
        self.frames = FrameObserver()  # metrics and DEBUG lines of every frame
        self.command_kicks: set[asyncio.Task[None]] = set()  # deliveries started from `deliver`
        self.frames.metrics.connected.set_function(lambda: len(self.sessions))

    # -- lifecycle ------------------------------------------------------------
    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        context = tls.server_context(self.settings)  # TlsConfigError before anything listens
        async with serve(
            self.handle,
            self.settings.ws_host,
            self.settings.ws_port,
            subprotocols=SUBPROTOCOLS,
            process_request=self.process_request,
            max_size=self.settings.max_frame_bytes,
            max_queue=MAX_QUEUE,
            write_limit=WRITE_LIMIT,
            ping_interval=PING_INTERVAL_S,
            ping_timeout=PING_TIMEOUT_S,
            compression=None,
            extensions=[COMPRESSION],
            ssl=context,
        ) as server:
            self.server = server
            await registry.refresh(self.redis, self.keys, self.id, {}, self.settings.client_ttl)
            background = [
                asyncio.create_task(self.read_outbox(), name="outbox"),
                asyncio.create_task(self.keep_registered(), name="refresh"),
            ]
            port = next(iter(server.sockets)).getsockname()[1]
            scheme = "ws" if context is None else "wss"
            log.info("gateway %s listening on %s://%s:%s", self.id, scheme, self.settings.ws_host, port)
            if ready is not None:
                ready.set()
            await stop.wait()
            log.info("gateway %s stopping: closing %d connections", self.id, len(self.sessions))
            for task in background:
                task.cancel()
            server.close()  # closes every connection with 1001 (going away)
            await server.wait_closed()
        await self.message_log.close()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrem(self.keys.gateways, self.id)
        pipe.delete(self.keys.gateway_outbox(self.id))
        await pipe.execute()
        await self.redis.aclose()
        self.key_checks.close()
        self.sync_redis.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(next(iter(self.server.sockets)).getsockname()[1])

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Every HTTP request before the upgrade: /healthz, the path, then the charger's
        admission (`gateway/admission.py`), all before any frame is read."""
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, f"ok {len(self.sessions)} chargers\n")
        cp_id = identity.from_path(request.path)
        if cp_id is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "connect to /ocpp/{chargePointId}\n")
        remote = str(connection.remote_address[0]) if connection.remote_address else ""
        if not identity.is_valid(cp_id, self.settings.charger_id_pattern):
            refusal = await self.admission.refuse(admission.BAD_ID, cp_id, remote, None, valid_id=False)
            return _respond(connection, refusal)
        ssl_object = connection.transport.get_extra_info("ssl_object")
        authorizations = request.headers.get_all("Authorization")
        refused = await self.admission.check(cp_id, authorizations, ssl_object, remote)
        return None if refused is None else _respond(connection, refused)

    # -- one connection -----------------------------------------------------
    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        cp_id = identity.from_path(ws.request.path)
        assert cp_id is not None  # process_request refused every other path
        session = Session(
            ws,
            cp_id,
            uuid.uuid4().hex,
            self.settings.max_pending_calls,
            functools.partial(self.log_out, cp_id),
        )
        replaced = self.sessions.get(cp_id)
        self.sessions[cp_id] = session
        if replaced is not None:
            # don't wait for the old socket's closing handshake: it may be a dead TCP link
            log.info("%s reconnected: closing the older connection", cp_id)
            replaced.close(CLOSE_REPLACED, "replaced by a newer connection")
        remote = ws.remote_address[0] if ws.remote_address else ""
        session.registration = {
            "gateway": self.id,
            "conn": session.conn_id,
            "connectedAt": timeutil.iso(timeutil.utc_now()),
            "remote": str(remote),
        }
        previous = await registry.register(
            self.redis, self.keys, cp_id, session.registration, self.settings.client_ttl
        )
        await events.connected(self.redis, self.keys, self.settings, cp_id, str(remote))
        if previous.get("gateway") and previous["gateway"] != self.id:
            # The charger moved here from another gateway: have that one drop the old socket.
            close = transport.Close(
                cp_id, previous.get("conn", ""), CLOSE_REPLACED, "replaced by a newer connection"
            )
            await self.redis.xadd(self.keys.gateway_outbox(previous["gateway"]), transport.encode_op(close))
        log.info("%s connected from %s", cp_id, remote, extra={"charger_id": cp_id, "outcome": "connected"})
        await self.deliver_commands(cp_id)  # a charger that booted before gets its queue now
        boot_check = asyncio.create_task(self.require_boot(session), name=f"boot-{cp_id}")
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    await ws.close(CLOSE_UNSUPPORTED_DATA, "OCPP-J uses text frames")
                    break
                await self.forward(session, message)
        except ConnectionClosed:
            pass
        finally:
            boot_check.cancel()
            await self._disconnected(session)

    async def require_boot(self, session: Session) -> None:
        """Close a socket whose charger has no accepted BootNotification on record after
        `boot_deadline_s`: idle sockets of chargers we never met cost memory and are
        listed as connected. (A known charger may reconnect without booting again.)"""
        await asyncio.sleep(self.settings.boot_deadline_s)
        try:
            booted = await registry.has_booted(self.redis, self.keys, session.cp_id)
        except (aioredis.ConnectionError, aioredis.TimeoutError):
            return  # we cannot tell during an outage: keep the charger
        if not booted:
            log.info("%s: no accepted BootNotification in time; closing", session.cp_id)
            session.close(CLOSE_POLICY, "no accepted BootNotification in time")

    async def forward(self, session: Session, text: str) -> None:
        refused = session.charger_call_refused(text)
        if refused is not None:
            self.frames.received(session.cp_id, text, "")
            logged = message_log.Frame(session.cp_id, "in", text)
            self.message_log.record(logged)
            unique_id, limit = refused
            description = f"more than {limit} CALLs awaiting an answer (OCPP-J allows one)"
            _, _, action = message_log.describe(logged)
            session.send(frames.call_error(unique_id, "GenericError", description), action)
            return
        answers = session.answered_action(text)
        self.frames.received(session.cp_id, text, answers)
        self.message_log.record(message_log.Frame(session.cp_id, "in", text, answers))
        entry = transport.ChargerFrame(session.cp_id, self.id, session.conn_id, text, answers=answers)
        await self.inbound.append(entry)

    def log_out(self, cp_id: str, frame: str, action: str) -> None:
        """A frame queued for a charger, for the message log and the metrics (`Session.on_send`)."""
        self.frames.sent(cp_id, frame, action)
        self.message_log.record(message_log.Frame(cp_id, "out", frame, action))

    async def _disconnected(self, session: Session) -> None:
        if self.sessions.get(session.cp_id) is session:
            del self.sessions[session.cp_id]
        abandoned = session.abandon()
        try:
            if await registry.unregister(self.redis, self.keys, session.cp_id, session.conn_id):
                await events.disconnected(
                    self.redis, self.keys, self.settings, session.cp_id, session.ws.close_code
                )
            if abandoned:
                entry = transport.Abandoned(session.cp_id, tuple(abandoned), "the charge point disconnected")
                await self.inbound.append(entry)
        except Exception:
            log.exception("%s: could not record the disconnect", session.cp_id)
        code = session.ws.close_code
        fields = {"charger_id": session.cp_id, "outcome": "disconnected", "close_code": code}
        log.info("%s disconnected (%s)", session.cp_id, code, extra=fields)

    # -- background -----------------------------------------------------------
    async def read_outbox(self) -> None:
        """The only reader of this gateway's outbox: deliver frames and commands."""
        stream = self.keys.gateway_outbox(self.id)
        last_id = "0-0"
        reader: Any = aioredis.Redis.from_url(self.settings.redis_url, decode_responses=True)
        try:
            while True:
                try:
                    reply = await reader.xread({stream: last_id}, count=500, block=1000)
                except (aioredis.ConnectionError, aioredis.TimeoutError):
                    log.warning("outbox read failed; retrying in 1 s")
                    await asyncio.sleep(1)
                    continue
                for _, entries in reply:
                    for entry_id, fields in entries:
                        last_id = entry_id
                        try:
                            self.deliver(fields)
                        except Exception:
                            log.exception("could not deliver %r", fields)
                        self.frames.delivered(entry_id)
        finally:
            await reader.aclose()

    def deliver(self, fields: dict[str, str]) -> None:
        op = transport.decode_op(fields)
        if op is None:
            log.warning("unknown outbox op %r; dropped", fields.get("op"))
            return
        session = self.sessions.get(op.cp)
        if session is None:
            log.info("%s is not connected here; dropped a %s", op.cp, type(op).__name__)
            return
        if isinstance(op, transport.Send):
            if op.conn not in ("", session.conn_id):
                log.info("%s reconnected: dropped an answer meant for its older connection", op.cp)
                return
            answered = session.charger_call_answered(op.frame)
            session.send(op.frame, answered)
            if answered == "BootNotification" and _accepted(op.frame):
                kick = asyncio.create_task(self.deliver_commands(op.cp))
                self.command_kicks.add(kick)  # held until done (the loop keeps only weak references)
                kick.add_done_callback(self.command_kicks.discard)
        elif isinstance(op, transport.CsmsCall):
            session.call(OutgoingCall(op.id, op.action, op.frame, op.deadline))
        elif op.conn in ("", session.conn_id):
            session.close(op.code, op.reason)

    async def deliver_commands(self, cp_id: str) -> None:
        """Send the charger's next queued command if it has booted (now or before) and
        has none in flight (`ocpp_worker.commands`); the sweep retries what fails here."""
        try:
            await commands.deliver_next_async(self.redis, self.keys, self.settings, cp_id)
        except Exception:
            log.exception("%s: could not start the delivery of its queued commands", cp_id)

    async def keep_registered(self) -> None:
        while True:
            await asyncio.sleep(self.settings.gateway_refresh_s)
            try:
                registrations = {cp_id: s.registration for cp_id, s in self.sessions.items()}
                await registry.refresh(
                    self.redis, self.keys, self.id, registrations, self.settings.client_ttl
                )
            except Exception:
                log.exception("registry refresh failed")


def _accepted(reply: str) -> bool:
    """Whether a BootNotification CALLRESULT of ours says Accepted."""
    try:
        frame = json.loads(reply)
        return bool(frame[0] == 3 and frame[2].get("status") == "Accepted")
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        return False


def _respond(connection: ServerConnection, refusal: admission.Refusal) -> Response:
    response = connection.respond(refusal.status, refusal.body)
    for name, value in refusal.headers:
        response.headers[name] = value
    return response


def raise_open_file_limit() -> None:
    """Each charger is a socket: lift the soft limit on open files to the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
