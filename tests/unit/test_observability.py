"""The pieces of logs and metrics, without processes: the secrets filter, the JSON
lines, LOG_FORMAT, label bounds and the gateway's frame heads."""

from __future__ import annotations

import io
import json
import logging

import pytest

from ocpp_worker import logs, metrics
from ocpp_worker.config import Settings
from ocpp_worker.gateway.observe import head
from ocpp_worker.redaction import MASK, Scrubber

KEY = "s3cret-Key-0123456789"


@pytest.mark.parametrize(
    "text",
    [
        f'[2,"1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{KEY}"}}]',
        f'[2,"1","ChangeConfiguration",{{"value":"{KEY}","key":"AuthorizationKey"}}]',
        f'[2,"1","ChangeConfiguration",{{ "key" : "AuthorizationKey" , "value" : "{KEY}" }}]',
        # a frame inside another JSON string, and inside a repr
        json.dumps({"frame": f'[2,"1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{KEY}"}}]'}),
        repr({"frame": f'[2,"1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{KEY}"}}]'}),
        # a key with a quote in it
        '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"' + KEY + '\\"' + KEY + '"}]',
        f'[3,"1",{{"configurationKey":[{{"key":"AuthorizationKey","readonly":false,"value":"{KEY}"}}]}}]',
        f"Authorization: Basic {KEY}",
        f"{{'Authorization': 'Bearer {KEY}', 'Host': 'x'}}",
        f"sent Bearer {KEY} along",
        f"password={KEY}",
        f"API_TOKEN: {KEY}",
        f"redis://:{KEY}@redis:6379/0",
        f"the token is {KEY} (known secret)",
    ],
)
def test_the_scrubber_masks_every_form_of_a_secret(text: str) -> None:
    scrubbed = Scrubber([KEY])(text)
    assert KEY not in scrubbed and MASK in scrubbed
    # the patterns alone catch every form but the plain mention of a known secret
    assert (KEY in Scrubber()(text)) == ("known secret" in text)


@pytest.mark.parametrize(
    "text",
    [
        '[2,"1","ChangeConfiguration",{"key":"HeartbeatInterval","value":"300"}]',
        "HTTP Basic authentication with the charge point id and its AuthorizationKey required",
        "missing or invalid bearer token",
        "CP001 connected from 127.0.0.1",
        '[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"12"}]}]}]',
    ],
)
def test_the_scrubber_leaves_ordinary_lines_alone(text: str) -> None:
    assert Scrubber(["a-known-secret"])(text) == text


def record_of(logger: logging.Logger, settings: Settings, role: str = "gateway") -> io.StringIO:
    stream = io.StringIO()
    handler = logs.handler(role, settings)
    handler.setStream(stream)  # type: ignore[attr-defined]
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return stream


def test_json_lines_carry_the_fields_and_never_the_secrets() -> None:
    settings = Settings(log_format="json", api_token="the-api-token-123")
    logger = logging.getLogger("tests.observability.json")
    stream = record_of(logger, settings)
    logger.info(
        "%s sent %s", "CP1", "Bearer the-api-token-123", extra={"charger_id": "CP1", "data": {"token": "x"}}
    )
    try:
        raise RuntimeError("redis://:hunter2-password@host/0")
    except RuntimeError:
        logger.exception("failed", extra={"outcome": "handler_error"})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == f"CP1 sent Bearer {MASK}"
    assert {key: first[key] for key in ("level", "logger", "role", "charger_id")} == {
        "level": "INFO",
        "logger": "tests.observability.json",
        "role": "gateway",
        "charger_id": "CP1",
    }
    assert first["time"].endswith("Z") and first["data"] == {"token": "x"}
    assert second["outcome"] == "handler_error" and "RuntimeError" in second["exc_info"]
    assert "hunter2-password" not in stream.getvalue() and "the-api-token-123" not in stream.getvalue()


def test_log_format_by_setting_and_by_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(logs.formatter("api", Settings(log_format="json")), logs.JsonLines)
    assert not isinstance(logs.formatter("api", Settings(log_format="text")), logs.JsonLines)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert not isinstance(logs.formatter("api", Settings()), logs.JsonLines)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert isinstance(logs.formatter("api", Settings()), logs.JsonLines)
    assert Settings.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "yaml"})


def test_metrics_settings() -> None:
    settings = Settings.from_env({"OCPP_METRICS_PORT": "9191", "OCPP_METRICS_PUBLIC": "1"})
    assert (settings.metrics_port, settings.metrics_host, settings.metrics_public) == (
        9191,
        "127.0.0.1",
        True,
    )
    assert Settings.from_env({}).metrics_port == 0


def test_labels_stay_few_whatever_a_charger_sends() -> None:
    assert metrics.action_label("Heartbeat") == "Heartbeat"
    assert metrics.action_label("Heartbeat2") == metrics.action_label("x" * 200) == "other"
    assert metrics.action_label("") == "none"
    assert metrics.code_label("FormationViolation") == "FormationViolation"
    assert metrics.code_label("MadeUp") == "other"


def test_children_are_resolved_once() -> None:
    from prometheus_client import CollectorRegistry, Counter

    counter = Counter("ocpp_test_children_total", "test", ["action"], registry=CollectorRegistry())
    children = metrics.Children(counter)
    assert children("Heartbeat") is children("Heartbeat")
    children("Heartbeat").inc(2)
    assert counter.labels("Heartbeat")._value.get() == 2


@pytest.mark.parametrize(
    ("frame", "answers", "expected"),
    [
        ('[2,"a\\"b","Heartbeat",{}]', "", ("call", "Heartbeat")),
        (' [ 2 , "1" , "BootNotification" , {}]', "", ("call", "BootNotification")),
        ('[3,"1",{"status":"Accepted"}]', "Reset", ("result", "Reset")),
        ('[4,"1","GenericError","",{}]', "", ("error", "")),
        ("not json", "", ("other", "")),
        ('[2,"1",{"no":"action"}]', "", ("call", "")),
    ],
)
def test_frame_heads(frame: str, answers: str, expected: tuple[str, str]) -> None:
    assert head(frame, answers) == expected
