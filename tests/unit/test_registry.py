from ocpp_worker import handlers
from ocpp_worker.celery_app import app
from ocpp_worker.protocol.actions import CHARGER_INITIATED, CSMS_INITIATED

EXPECTED = {
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "SecurityEventNotification",
    "SignCertificate",
    "LogStatusNotification",
    "SignedFirmwareStatusNotification",
}


def test_every_charger_action_has_a_handler():
    assert set(handlers.HANDLERS) == EXPECTED == set(CHARGER_INITIATED)


def test_one_named_task_per_action():
    import ocpp_worker.tasks  # noqa: F401

    names = {name for name in app.tasks if name.startswith("ocpp.v16.")}
    assert names == {f"ocpp.v16.{action}" for action in EXPECTED}


def test_meter_values_have_their_own_queue():
    assert app.amqp.router.route({}, "ocpp.v16.MeterValues")["queue"].name == "ocpp.metering"
    assert app.amqp.router.route({}, "ocpp.v16.Heartbeat")["queue"].name == "ocpp"


def test_directions():
    assert "RemoteStartTransaction" in CSMS_INITIATED
    assert "DataTransfer" in CSMS_INITIATED and "DataTransfer" in CHARGER_INITIATED
    assert "BootNotification" not in CSMS_INITIATED
