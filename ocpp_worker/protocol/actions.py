"""Which OCPP 1.6 actions travel in which direction.

The `ocpp` package's `Action` enum lists every 1.6 action (security extension
included) but not who may send it; a charger sending a CSMS-only action gets
`NotSupported`, an action nobody defines gets `NotImplemented`.
"""

from __future__ import annotations

from ocpp.v16.enums import Action

#: CALLs a charge point sends to the central system (Core + security extension).
CHARGER_INITIATED: frozenset[str] = frozenset(
    {
        Action.authorize,
        Action.boot_notification,
        Action.data_transfer,
        Action.diagnostics_status_notification,
        Action.firmware_status_notification,
        Action.heartbeat,
        Action.meter_values,
        Action.start_transaction,
        Action.status_notification,
        Action.stop_transaction,
        Action.security_event_notification,
        Action.sign_certificate,
        Action.log_status_notification,
        Action.signed_firmware_status_notification,
    }
)

ALL_V16: frozenset[str] = frozenset(a.value for a in Action)

#: CALLs the central system sends to a charge point. DataTransfer goes both ways.
CSMS_INITIATED: frozenset[str] = (ALL_V16 - CHARGER_INITIATED) | {Action.data_transfer.value}
