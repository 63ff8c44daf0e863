"""Configuration learned from the charger: GetConfiguration after a charger's first boot
(OCPP_SYNC_CONFIG_ON_BOOT, on a stack of its own: the test stack turns it off) and on
demand (POST …/configuration/sync); the charger's values and readonly flags replace our
defaults, keys it does not know are marked, and its AuthorizationKey is never kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ocpp_worker.state import configuration
from ocpp_worker.state.store import Store
from tests.api.conftest import envelope_of, eventually, ok
from tests.support.chargers import ChargerFactory
from tests.support.stack import Stack, private_stack


def entry(entries: list[dict[str, Any]], key: str) -> dict[str, Any]:
    [found] = [e for e in entries if e["key"] == key]
    return found


@pytest.fixture(scope="module")
def syncing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Store]]:
    with private_stack(tmp_path_factory.mktemp("sync"), {"OCPP_SYNC_CONFIG_ON_BOOT": "1"}) as found:
        yield found


async def test_first_boot_reads_the_chargers_configuration(syncing, cp_id):
    stack, store = syncing
    factory = ChargerFactory(stack.ws_url)
    try:
        cp = await factory.connect(cp_id, connectors=2, boot=False)
        cp.configuration["AuthorizationKey"] = "the-chargers-secret-key"
        started = time.monotonic()
        reply = await cp.boot()
        assert reply.status == "Accepted" and time.monotonic() - started < 5

        async def learned() -> list[dict[str, Any]] | None:
            entries = configuration.all_values(store, cp_id)
            return entries if entry(entries, "NumberOfConnectors")["reported"] else None

        entries = await eventually(learned, timeout=10)
        assert entries, "the configuration was not read after the first boot"
        assert entry(entries, "NumberOfConnectors") == {
            "key": "NumberOfConnectors",
            "value": "2",  # the charger's, not our default "1"
            "readonly": True,
            "reported": True,
            "unknown": False,
        }
        assert entry(entries, "HeartbeatInterval")["reported"] is True
        assert entry(entries, "ResetRetries")["reported"] is False  # not reported: our default
        assert "AuthorizationKey" not in {e["key"] for e in entries}
        assert "the-chargers-secret-key" not in str(store.redis.hgetall(store.keys.config(cp_id)))

        # a later boot does not read it again: a value set since stays
        configuration.set_value(store, cp_id, "HeartbeatInterval", "120")
        cp.configuration["HeartbeatInterval"] = "999"
        await cp.boot()
        await asyncio.sleep(1)  # the charger keeps answering meanwhile: a CALL would be answered
        assert configuration.get_value(store, cp_id, "HeartbeatInterval") == "120"
    finally:
        await factory.close_all()


async def test_sync_endpoint_and_unknown_keys(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=2)
    url = f"/api/v1/chargepoints/{cp_id}/configuration"
    before = ok(await api.get(url))["configurationKey"]
    assert entry(before, "NumberOfConnectors")["value"] == "1"  # our default: not synced at boot here
    cp.configuration["HeartbeatInterval"] = "45"
    cp.configuration["VendorMode"] = "eco"

    synced = ok(await api.post(f"{url}/sync"))["configurationKey"]
    assert entry(synced, "NumberOfConnectors") == {
        "key": "NumberOfConnectors",
        "value": "2",
        "readonly": True,
        "reported": True,
        "unknown": False,
    }
    assert entry(synced, "HeartbeatInterval")["value"] == "45"
    assert entry(synced, "VendorMode") == {
        "key": "VendorMode",
        "value": "eco",
        "readonly": False,
        "reported": True,
        "unknown": False,
    }
    assert synced == ok(await api.get(url))["configurationKey"]

    live = ok(await api.get(f"{url}/live?key=NoSuchKey&key=ResetRetries"))
    assert sorted(live["unknownKey"]) == ["NoSuchKey", "ResetRetries"]
    stored = ok(await api.get(url))["configurationKey"]
    assert entry(stored, "NoSuchKey") == {
        "key": "NoSuchKey",
        "value": None,
        "readonly": False,
        "reported": False,
        "unknown": True,
    }
    assert entry(stored, "ResetRetries")["unknown"] is True

    cp.configuration["VendorMode"] = "boost"
    cp.answers["GetConfiguration"] = "CALLERROR"
    envelope_of(await api.post(f"{url}/sync"), 502)
    assert ok(await api.get(url))["configurationKey"] == stored  # a CALLERROR changes nothing
    del cp.answers["GetConfiguration"]

    await cp._connection.close()

    async def offline() -> bool:
        return not ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))["connected"]

    assert await eventually(offline)
    envelope_of(await api.post(f"{url}/sync"), 503)
    envelope_of(await api.post("/api/v1/chargepoints/NO-SUCH-CP/configuration/sync"), 404)
