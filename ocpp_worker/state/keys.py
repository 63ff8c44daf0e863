"""Every Redis key, stream and channel name, built in one place.

All names start with the configured prefix (``OCPP_KEY_PREFIX``, default ``ocpp:``),
so a deployment or a test run owns exactly the keys under its prefix. The table in
docs/ARCHITECTURE.md lists each key with its type and lifetime.

A charger id is hostile input: it goes into keys only through `charger_tag`, which
wraps it in braces and percent-encodes the braces, ``%`` and every character outside
printable ASCII. No id can then reach another charger's keys (``VICTIM:connector:1``
becomes ``cp:{VICTIM:connector:1}``, never ``cp:{VICTIM}:connector:1``), and the
common id stays readable. The braces are also Redis Cluster hash tags: all keys of
one charger land on one slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNSAFE_IN_TAG = re.compile(r"[^\x21-\x7e]|[{}%]")


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


def charger_tag(cp_id: str) -> str:
    """The charger id as it appears in keys: ``{id}``, injective whatever the id holds."""
    return "{" + _UNSAFE_IN_TAG.sub(_percent, cp_id) + "}"


@dataclass(frozen=True)
class Keys:
    prefix: str = "ocpp:"

    # -- transport (ocpp:server:…) -----------------------------------------
    @property
    def inbound(self) -> str:
        """Stream: every frame a charger sent, for the bridges (consumer group)."""
        return f"{self.prefix}server:inbound"

    def gateway_outbox(self, gateway_id: str) -> str:
        """Stream: frames and commands for one gateway process to deliver."""
        return f"{self.prefix}server:gateway:{gateway_id}"

    @property
    def gateways(self) -> str:
        """Sorted set: gateway id -> registration expiry (ms since the epoch)."""
        return f"{self.prefix}server:gateways"

    def reply_cache(self, cp_id: str, unique_id: str) -> str:
        """String: the reply already sent for one charger CALL (idempotent redelivery)."""
        return f"{self.prefix}server:reply:{charger_tag(cp_id)}:{unique_id}"

    def attempts(self, frame_id: str) -> str:
        """String (counter, TTL 1 h): how often a task began handling one inbound frame."""
        return f"{self.prefix}server:attempts:{frame_id}"

    @property
    def dead_letters(self) -> str:
        """Stream (capped): CALLs given up on after repeated failures, with frame and reason."""
        return f"{self.prefix}server:dead"

    @property
    def message_log_dropped(self) -> str:
        """String (counter): frames the gateways could not write to the message log."""
        return f"{self.prefix}server:message-log-dropped"

    def maintenance_lock(self, task: str) -> str:
        """String with a TTL: a beat task's run in this period is taken (`state.liveness`)."""
        return f"{self.prefix}server:maintenance:{task}"

    # -- connected chargers (the gateway registry) ------------------------------
    @property
    def clients(self) -> str:
        """Sorted set: charge point id -> registration expiry (ms since the epoch)."""
        return f"{self.prefix}clients"

    def client(self, cp_id: str) -> str:
        """Hash with a TTL: gateway, conn, connectedAt, remote of a connected charger."""
        return f"{self.prefix}client:{charger_tag(cp_id)}"

    # -- business state (ocpp:business:…) ----------------------------------
    @property
    def chargepoints(self) -> str:
        """Sorted set: every charge point ever seen -> first-seen time (s)."""
        return f"{self.prefix}business:chargepoints"

    def chargepoint(self, cp_id: str) -> str:
        """Hash: boot info, heartbeat, firmware/diagnostics/log status of a charger."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}"

    def connectors(self, cp_id: str) -> str:
        """Set: connector ids a charger has reported (0 = the charger itself)."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:connectors"

    def connector(self, cp_id: str, connector_id: int) -> str:
        """Hash: status, errorCode, info, vendor codes, timestamp, transactionId."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:connector:{connector_id}"

    def latest_meter(self, cp_id: str, connector_id: int) -> str:
        """Hash: measurand[/phase][@location] -> JSON of the latest sampled value."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:connector:{connector_id}:meter"

    def security_events(self, cp_id: str) -> str:
        """Stream (capped): security events of a charger, ours (refused handshakes) and its
        own SecurityEventNotifications; the entry id is the paging cursor."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:security-event-log"

    def security_event_counts(self, cp_id: str) -> str:
        """Hash: security event kind -> how many a charger has had (never trimmed)."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:security-event-counts"

    def message_log(self, cp_id: str) -> str:
        """Stream (capped by count and age): every frame a charger sent and was sent,
        written by the gateway (`state.message_log`); the entry id is the paging cursor."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:message-log"

    def data_transfers(self, cp_id: str) -> str:
        """List (capped): DataTransfer requests from a charger, newest last."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:data-transfers"

    def local_list(self, cp_id: str) -> str:
        """String (JSON): a charger's local authorization list, wanted and confirmed
        entries and versions, the last answer (`state.local_lists`)."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:local-list"

    def charging_profiles(self, cp_id: str) -> str:
        """Hash: chargingProfileId -> {connectorId, csChargingProfiles} as JSON, the
        profiles a charger accepted (`state.charging_profiles`)."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:charging-profiles"

    def csrs(self, cp_id: str) -> str:
        """List (capped): certificate signing requests awaiting a PKI, newest last."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:csrs"

    def jobs(self, cp_id: str) -> str:
        """Sorted set: a charger's firmware/diagnostics/log job ids, scored by id (`state.jobs`)."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:jobs"

    def job(self, cp_id: str, job_id: int) -> str:
        """Hash: one job: id, kind, request, created, answer (JSON where structured)."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:job:{job_id}"

    def job_history(self, cp_id: str, job_id: int) -> str:
        """List: one job's statuses, oldest first, each JSON {status, at}."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:job:{job_id}:history"

    def job_latest(self, cp_id: str) -> str:
        """Hash: job kind -> the id of a charger's latest job of that kind."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:job-latest"

    @property
    def job_counter(self) -> str:
        """String (counter): the last job id given out; also the requestId of GetLog and
        SignedUpdateFirmware."""
        return f"{self.prefix}business:job-id"

    @property
    def transaction_counter(self) -> str:
        """String: the last transaction id handed out (the first one is 1000)."""
        return f"{self.prefix}business:transaction-id"

    def transaction(self, transaction_id: int) -> str:
        """Hash: one charging session, from StartTransaction to StopTransaction; expires
        `Settings.redis_retention_hours` after it is archived (never while active)."""
        return f"{self.prefix}business:transaction:{transaction_id}"

    def transaction_meter(self, transaction_id: int) -> str:
        """List: every sampled value of a transaction as JSON, in arrival order; expires
        with the transaction's hash."""
        return f"{self.prefix}business:transaction:{transaction_id}:meter"

    @property
    def transactions(self) -> str:
        """Sorted set: transaction id -> id, every transaction not archived yet (active, or
        completed and waiting for `archive.archiver`); archived ones are read from SQL."""
        return f"{self.prefix}business:transactions"

    @property
    def transactions_active(self) -> str:
        """Sorted set: transaction id -> id, transactions not stopped yet."""
        return f"{self.prefix}business:transactions:active"

    def transactions_of(self, cp_id: str) -> str:
        """Sorted set: transaction id -> id, the transactions of one charger not archived yet."""
        return f"{self.prefix}business:transactions:cp:{charger_tag(cp_id)}"

    @property
    def transactions_to_archive(self) -> str:
        """Sorted set: transaction id -> id, completed and waiting for an archiver (added in
        the StopTransaction's commit, or by the sweep)."""
        return f"{self.prefix}business:transactions:to-archive"

    @property
    def transactions_archiving(self) -> str:
        """Sorted set: transaction id -> lease deadline (ms since the epoch), taken by an
        archiver; an expired lease goes back to `transactions_to_archive` (the sweep)."""
        return f"{self.prefix}business:transactions:archiving"

    @property
    def archive_scheduled(self) -> str:
        """String, TTL 10 s: an archive drain task is on its way (one task for many stops)."""
        return f"{self.prefix}server:archive-scheduled"

    def start_request(self, cp_id: str, unique_id: str) -> str:
        """String: transaction id given to one StartTransaction CALL (idempotency)."""
        return f"{self.prefix}business:start:{charger_tag(cp_id)}:{unique_id}"

    @property
    def orphan_stops(self) -> str:
        """List (capped): StopTransactions for transaction ids we never issued."""
        return f"{self.prefix}business:orphan-stops"

    @property
    def foreign_meter_values(self) -> str:
        """List (capped): MeterValues a charger sent for another charger's transaction."""
        return f"{self.prefix}business:foreign-meter-values"

    @property
    def idtags(self) -> str:
        """Sorted set: every registered idTag -> 0 (lexicographic listing)."""
        return f"{self.prefix}business:idtags"

    def idtag(self, id_tag: str) -> str:
        """Hash: status, expiryDate, parentIdTag of one idTag."""
        return f"{self.prefix}business:idtag:{id_tag}"

    def idtag_transactions(self, id_tag: str) -> str:
        """Set: ids of the active transactions started with one idTag (ConcurrentTx)."""
        return f"{self.prefix}business:idtag-tx:{id_tag}"

    @property
    def reservation_counter(self) -> str:
        """String: the last reservationId handed out (`state.reservations`)."""
        return f"{self.prefix}business:reservation-id"

    def reservation(self, reservation_id: int) -> str:
        """Hash: one reservation: the ReserveNow request, clientId, answer, status, …"""
        return f"{self.prefix}business:reservation:{reservation_id}"

    def reservations_of(self, cp_id: str) -> str:
        """Sorted set: reservationId -> id, the reservations of one charger."""
        return f"{self.prefix}business:reservations:cp:{charger_tag(cp_id)}"

    # -- domain events and webhooks (docs/EVENTS.md) ---------------------------
    @property
    def events(self) -> str:
        """Stream (capped by OCPP_EVENTS_MAX and OCPP_EVENTS_HOURS): every domain event,
        oldest first; the entry id is the event id and the catch-up cursor."""
        return f"{self.prefix}events"

    @property
    def webhooks(self) -> str:
        """Sorted set: webhook id -> creation time (ms), every registered webhook."""
        return f"{self.prefix}webhooks"

    def webhook(self, webhook_id: str) -> str:
        """Hash: one webhook: url, types, secret, cursor (the last event it is done
        with), the pending event's attempts and next attempt time; until deleted."""
        return f"{self.prefix}webhook:{webhook_id}"

    def webhook_deliveries(self, webhook_id: str) -> str:
        """List (capped), newest first: JSON delivery records of one webhook; the head
        is updated in place while its event is retried; deleted with the webhook."""
        return f"{self.prefix}webhook:{webhook_id}:deliveries"

    def webhook_lock(self, webhook_id: str) -> str:
        """String with a TTL: the delivery run that holds this webhook (one at a time,
        so its events go out in order)."""
        return f"{self.prefix}webhook:{webhook_id}:lock"

    def webhook_queued(self, webhook_id: str) -> str:
        """String with a TTL: a delivery task is queued for this webhook (the beat's
        kick sends no second one meanwhile)."""
        return f"{self.prefix}webhook:{webhook_id}:queued"

    # -- the REST API (ocpp:api:…) ---------------------------------------------
    def idempotency(self, digest: str) -> str:
        """Hash: one Idempotency-Key of one caller (`digest`: SHA-256 of both, hex):
        while its first request runs, state=pending with a lease TTL a bit over the
        call timeout; then state=done with the stored status, headers and body, TTL
        OCPP_IDEMPOTENCY_HOURS (`state.idempotency`)."""
        return f"{self.prefix}api:idempotency:{digest}"

    # -- charger security (ocpp:security:…) -------------------------------------
    @property
    def registrations(self) -> str:
        """Sorted set: every registered charger id -> 0 (lexicographic paging)."""
        return f"{self.prefix}security:registrations"

    def registration(self, cp_id: str) -> str:
        """Hash: a charger's registration record (description, securityProfile, enabled,
        bootStatus, createdAt, updatedAt, keyVersion)."""
        return f"{self.prefix}security:registration:{charger_tag(cp_id)}"

    def credentials(self, cp_id: str) -> str:
        """Hash: ``key`` and ``staged`` AuthorizationKey hashes (scrypt, never the key)."""
        return f"{self.prefix}security:credentials:{charger_tag(cp_id)}"

    @property
    def refusals(self) -> str:
        """Hash: refused handshakes by reason (UnknownChargePoint, InvalidBasicAuth, …) -> count."""
        return f"{self.prefix}security:refusals"

    # -- configuration -------------------------------------------------------
    def config(self, cp_id: str) -> str:
        """Hash: configuration key -> value stored for one charger (defaults not stored)."""
        return f"{self.prefix}config:{charger_tag(cp_id)}"

    def config_reported(self, cp_id: str) -> str:
        """Hash: key -> readonly | writable | unknown, as the charger last reported it."""
        return f"{self.prefix}config-reported:{charger_tag(cp_id)}"

    # -- commands: calls queued for a charger (state.commands) ---------------
    def command(self, command_id: str) -> str:
        """Hash: one queued call (action, payload, frame, status, times, answer); TTL its
        expiry + 24 h while queued, 24 h once it ended (answered, failed, expired, cancelled)."""
        return f"{self.prefix}business:command:{command_id}"

    @property
    def command_prefix(self) -> str:
        """What `command` puts before the id (the Lua scripts of `state.commands` build
        a command's key from it)."""
        return f"{self.prefix}business:command:"

    def command_queue(self, cp_id: str) -> str:
        """List: ids of a charger's queued commands, oldest (next to send) first; at most
        OCPP_COMMAND_MAX_QUEUED; emptied as they are sent, expire or are cancelled."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:commands:queue"

    def command_inflight(self, cp_id: str) -> str:
        """String with a TTL (the answer deadline + 60 s): the id of the charger's command
        sent and not answered yet (one at a time); deleted when it ends."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:commands:inflight"

    def command_history(self, cp_id: str) -> str:
        """Sorted set: command id -> creation time (ms), a charger's commands (the newest
        1,000); TTL that of its longest-lived command; ids whose hash expired are dropped
        when listed."""
        return f"{self.prefix}business:cp:{charger_tag(cp_id)}:commands"

    @property
    def command_chargers(self) -> str:
        """Set: charger ids that may have queued commands (the sweep's delivery list);
        a charger leaves it when its queue is found empty."""
        return f"{self.prefix}server:commands:chargers"

    @property
    def command_expiries(self) -> str:
        """Sorted set: queued command id -> expiresAt (ms); the sweep expires the due ones."""
        return f"{self.prefix}server:commands:expiries"

    @property
    def command_deadlines(self) -> str:
        """Sorted set: sent command id -> answer deadline (ms); the sweep fails the due
        ones ("no answer"), also those sent before a restart."""
        return f"{self.prefix}server:commands:deadlines"

    # -- Celery (its own keys, under our prefix through global_keyprefix) ----
    def celery_queue(self, queue: str) -> str:
        """List: the Celery (kombu) queue of that name: the tasks waiting for a worker."""
        return f"{self.celery}{queue}"

    @property
    def celery(self) -> str:
        """Prefix of Celery's own keys (queues, unacked messages, results), set as kombu's
        global_keyprefix in celeryconfig.py."""
        return f"{self.prefix}celery:"
