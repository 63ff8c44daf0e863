"""The events' and webhooks' settings: defaults, and values that would break every
publishing write (a negative cap) refused at start."""

import pytest

from ocpp_worker.config import Settings


def test_defaults():
    s = Settings.from_env({})
    assert (s.events_max, s.events_hours, s.events_meter_values) == (100_000, 48, False)
    assert (s.webhooks_allow_private, s.webhook_backoff_s, s.webhook_backoff_max_s) == (False, 10, 3600)
    assert s.webhook_retry_hours == 24


def test_set():
    s = Settings.from_env(
        {
            "OCPP_EVENTS_MAX": "50",
            "OCPP_EVENTS_HOURS": "0.5",
            "OCPP_EVENTS_METER_VALUES": "1",
            "OCPP_WEBHOOKS_ALLOW_PRIVATE": "yes",
            "OCPP_WEBHOOK_BACKOFF_S": "0.25",
        }
    )
    assert (s.events_max, s.events_hours, s.events_meter_values) == (50, 0.5, True)
    assert (s.webhooks_allow_private, s.webhook_backoff_s) == (True, 0.25)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OCPP_EVENTS_MAX", "-1"),
        ("OCPP_EVENTS_MAX", "1.5"),
        ("OCPP_EVENTS_HOURS", "0"),
        ("OCPP_EVENTS_HOURS", "inf"),
        ("OCPP_WEBHOOK_BACKOFF_S", "-3"),
        ("OCPP_WEBHOOK_BACKOFF_MAX_S", "nan"),
        ("OCPP_WEBHOOK_RETRY_HOURS", "0"),
    ],
)
def test_refused(name, value):
    with pytest.raises(ValueError):
        Settings.from_env({name: value})
