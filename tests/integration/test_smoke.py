from ocpp_worker.state import chargepoints


async def test_boot_is_accepted_and_stored(chargers, store, cp_id):
    cp = await chargers.connect(cp_id, boot=False)
    reply = await cp.boot()
    assert reply.status == "Accepted"
    assert chargepoints.get(store, cp_id)["chargePointModel"] == "Simulator"
