"""Every Redis key, stream and channel name, built in one place.

All names start with the configured prefix (``OCPP_KEY_PREFIX``, default ``ocpp:``),
so a deployment or a test run owns exactly the keys under its prefix. The table in
docs/ARCHITECTURE.md lists each key with its type and lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        return f"{self.prefix}server:reply:{cp_id}:{unique_id}"

    # -- connected chargers (the gateway registry) ------------------------------
    @property
    def clients(self) -> str:
        """Sorted set: charge point id -> registration expiry (ms since the epoch)."""
        return f"{self.prefix}clients"

    def client(self, cp_id: str) -> str:
        """Hash with a TTL: gateway, conn, connectedAt, remote of a connected charger."""
        return f"{self.prefix}client:{cp_id}"

    # -- business state (ocpp:business:…) ----------------------------------
    @property
    def chargepoints(self) -> str:
        """Sorted set: every charge point ever seen -> first-seen time (s)."""
        return f"{self.prefix}business:chargepoints"

    def chargepoint(self, cp_id: str) -> str:
        """Hash: boot info, heartbeat, firmware/diagnostics/log status of a charger."""
        return f"{self.prefix}business:cp:{cp_id}"

    def connectors(self, cp_id: str) -> str:
        """Set: connector ids a charger has reported (0 = the charger itself)."""
        return f"{self.prefix}business:cp:{cp_id}:connectors"

    def connector(self, cp_id: str, connector_id: int) -> str:
        """Hash: status, errorCode, info, vendor codes, timestamp, transactionId."""
        return f"{self.prefix}business:cp:{cp_id}:connector:{connector_id}"

    def latest_meter(self, cp_id: str, connector_id: int) -> str:
        """Hash: measurand[/phase][@location] -> JSON of the latest sampled value."""
        return f"{self.prefix}business:cp:{cp_id}:connector:{connector_id}:meter"

    def security_events(self, cp_id: str) -> str:
        """List (capped): SecurityEventNotifications of a charger, newest last."""
        return f"{self.prefix}business:cp:{cp_id}:security-events"

    def data_transfers(self, cp_id: str) -> str:
        """List (capped): DataTransfer requests from a charger, newest last."""
        return f"{self.prefix}business:cp:{cp_id}:data-transfers"

    def csrs(self, cp_id: str) -> str:
        """List (capped): certificate signing requests awaiting a PKI, newest last."""
        return f"{self.prefix}business:cp:{cp_id}:csrs"

    @property
    def transaction_counter(self) -> str:
        """String: the last transaction id handed out (the first one is 1000)."""
        return f"{self.prefix}business:transaction-id"

    def transaction(self, transaction_id: int) -> str:
        """Hash: one charging session, from StartTransaction to StopTransaction."""
        return f"{self.prefix}business:transaction:{transaction_id}"

    def transaction_meter(self, transaction_id: int) -> str:
        """List: every sampled value of a transaction as JSON, in arrival order."""
        return f"{self.prefix}business:transaction:{transaction_id}:meter"

    @property
    def transactions(self) -> str:
        """Sorted set: transaction id -> id, all transactions."""
        return f"{self.prefix}business:transactions"

    @property
    def transactions_active(self) -> str:
        """Sorted set: transaction id -> id, transactions not stopped yet."""
        return f"{self.prefix}business:transactions:active"

    def transactions_of(self, cp_id: str) -> str:
        """Sorted set: transaction id -> id, the transactions of one charger."""
        return f"{self.prefix}business:transactions:cp:{cp_id}"

    def start_request(self, cp_id: str, unique_id: str) -> str:
        """String: transaction id given to one StartTransaction CALL (idempotency)."""
        return f"{self.prefix}business:start:{cp_id}:{unique_id}"

    @property
    def orphan_stops(self) -> str:
        """List (capped): StopTransactions for transaction ids we never issued."""
        return f"{self.prefix}business:orphan-stops"

    @property
    def idtags(self) -> str:
        """Sorted set: every registered idTag -> 0 (lexicographic listing)."""
        return f"{self.prefix}business:idtags"

    def idtag(self, id_tag: str) -> str:
        """Hash: status, expiryDate, parentIdTag of one idTag."""
        return f"{self.prefix}business:idtag:{id_tag}"

    # -- configuration -------------------------------------------------------
    def config(self, cp_id: str) -> str:
        """Hash: configuration key -> value stored for one charger (defaults not stored)."""
        return f"{self.prefix}config:{cp_id}"

    # -- Celery (its own keys, under our prefix through global_keyprefix) ----
    @property
    def celery(self) -> str:
        """Prefix of Celery's own keys (queues, unacked messages, results), set as kombu's
        global_keyprefix in celeryconfig.py."""
        return f"{self.prefix}celery:"
