"""The idTag policy with real chargers: a Blocked parent, and one tag on two chargers."""

from __future__ import annotations

from ocpp.v16 import call

from ocpp_worker.state import idtags


async def test_blocked_parent_and_concurrent_tag_on_real_chargers(chargers, store, cp_id):
    tag = cp_id[-6:]  # the test's own tags, within idTag's 20 characters
    idtags.put(store, f"{tag}-P", "Blocked")
    idtags.put(store, f"{tag}-C", "Accepted", parent_id_tag=f"{tag}-P")
    idtags.put(store, f"{tag}-T", "Accepted")
    one = await chargers.connect(f"{cp_id}-1", connectors=1)
    two = await chargers.connect(f"{cp_id}-2", connectors=1)

    child = (await one.call(call.Authorize(id_tag=f"{tag}-C"))).id_tag_info
    assert child == {"status": "Blocked", "parent_id_tag": f"{tag}-P"}

    await one.start_session(1, f"{tag}-T")
    assert (await two.call(call.Authorize(id_tag=f"{tag}-T"))).id_tag_info["status"] == "ConcurrentTx"
    start = call.StartTransaction(
        connector_id=1, id_tag=f"{tag}-T", meter_start=0, timestamp="2026-01-01T00:00:00Z"
    )
    refused = await two.call(start)
    assert refused.id_tag_info["status"] == "ConcurrentTx"
    await one.stop_session(1)
    # the refused transaction is recorded, and holds the tag until its charger stops it
    assert (await two.call(call.Authorize(id_tag=f"{tag}-T"))).id_tag_info["status"] == "ConcurrentTx"
    stop = call.StopTransaction(
        meter_stop=0,
        timestamp="2026-01-01T00:00:01Z",
        transaction_id=refused.transaction_id,
        reason="DeAuthorized",
    )
    await two.call(stop)
    assert (await two.call(call.Authorize(id_tag=f"{tag}-T"))).id_tag_info["status"] == "Accepted"
