"""Authorization and charging sessions: Authorize, StartTransaction, MeterValues,
StopTransaction."""

from __future__ import annotations

from ocpp.charge_point import snake_to_camel_case
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from ocpp_worker import events, timeutil
from ocpp_worker.handlers.registry import CallContext, handles
from ocpp_worker.state import idtags, reservations, transactions


@handles(Action.authorize)
def authorize(ctx: CallContext, req: call.Authorize) -> call_result.Authorize:
    """The idTag policy of `idtags.id_tag_info`: the tag's own status, then a Blocked /
    Expired / Invalid parent's, then ConcurrentTx for a tag already charging anywhere
    (OCPP_ALLOW_CONCURRENT_TX=1 turns that off): the charger asks before it starts."""
    return call_result.Authorize(
        id_tag_info=idtags.id_tag_info(ctx.store, req.id_tag, ctx.now, concurrent_check=True)
    )


@handles(Action.start_transaction)
def start_transaction(ctx: CallContext, req: call.StartTransaction) -> call_result.StartTransaction:
    """Always give a transaction id (OCPP 1.6 §5.19: the charger has started already
    when offline); the idTagInfo tells it whether to go on: the policy of Authorize
    (`idtags.id_tag_info`), this transaction itself not counting as a concurrent one
    (a redelivery may find it written already). A ConcurrentTx transaction is still
    recorded, active until the charger stops it. A reservationId marks that reservation
    used (`reservations.consume`); an unknown, foreign or no longer active one is
    answered all the same (the charger has started), with what it was recorded on the
    transaction as `reservationStatus`."""
    tx_id, fresh = transactions.allocate_id(ctx.store, ctx.cp_id, ctx.unique_id)
    info = idtags.id_tag_info(ctx.store, req.id_tag, ctx.now, concurrent_check=True, own_tx=tx_id)
    # not fresh: a redelivery. Its first run may have ended before its writes were
    # committed (they go with the reply); write them unless they are there already.
    if fresh or transactions.get(ctx.store, tx_id) is None:
        reservation = None
        if req.reservation_id is not None:
            reservation = reservations.consume(
                ctx.store, ctx.writes, ctx.cp_id, req.reservation_id, tx_id, ctx.now
            )
        transactions.start(
            ctx.store,
            ctx.writes,
            tx_id,
            ctx.cp_id,
            req.connector_id,
            {
                "idTag": req.id_tag,
                "idTagStatus": info["status"],
                "meterStart": req.meter_start,
                "startTime": timeutil.normalize(req.timestamp, ctx.now),
                "reservationId": req.reservation_id,
                "reservationStatus": reservation,
                "createdAt": ctx.now_iso,
            },
        )
        events.transaction_started(ctx, req, tx_id, info["status"])
    return call_result.StartTransaction(transaction_id=tx_id, id_tag_info=info)


@handles(Action.meter_values)
def meter_values(ctx: CallContext, req: call.MeterValues) -> call_result.MeterValues:
    samples = transactions.flatten(snake_to_camel_case(req.meter_value), ctx.now_iso)
    transactions.add_samples(ctx.store, ctx.writes, ctx.cp_id, req.connector_id, req.transaction_id, samples)
    events.meter_values(ctx, req.connector_id, req.transaction_id, samples)
    return call_result.MeterValues()


@handles(Action.stop_transaction)
def stop_transaction(ctx: CallContext, req: call.StopTransaction) -> call_result.StopTransaction:
    """Close the session; an unknown transaction id is recorded and still answered
    normally, or the charger would resend this message forever. The idTagInfo follows
    the idTag policy without the ConcurrentTx check (this is the tag's own transaction)."""
    if req.transaction_data:
        samples = transactions.flatten(snake_to_camel_case(req.transaction_data), ctx.now_iso)
        transactions.add_samples(ctx.store, ctx.writes, ctx.cp_id, -1, req.transaction_id, samples)
    before = transactions.stop(
        ctx.store,
        ctx.writes,
        ctx.cp_id,
        req.transaction_id,
        {
            "meterStop": req.meter_stop,
            "stopTime": timeutil.normalize(req.timestamp, ctx.now),
            "stopReason": req.reason or "Local",
            "stopIdTag": req.id_tag,
            "stoppedAt": ctx.now_iso,
        },
    )
    if before is not None:
        events.transaction_stopped(ctx, req, before)
    if req.id_tag is None:
        return call_result.StopTransaction()
    return call_result.StopTransaction(id_tag_info=idtags.id_tag_info(ctx.store, req.id_tag, ctx.now))
