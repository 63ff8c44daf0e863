"""Transactions (read from Redis) and the remote start/stop calls."""

from __future__ import annotations

from typing import Any

from api.context import send, store
from api.errors import CALL_ERRORS, found, not_found
from api.schemas.common import PageArgs, SampledValueSchema, StatusSchema, page
from api.schemas.transactions import RemoteStartBody, RemoteStopBody, TransactionListArgs, TransactionSchema
from api.smorest import Blueprint
from ocpp_worker.state import transactions

bp = Blueprint("transactions", __name__, url_prefix="/api/v1/transactions", description="Charging sessions")


def _known(tx_id: int) -> dict[str, str]:
    return found(transactions.get(store(), tx_id), f"transaction {tx_id}")


@bp.post("/remote-start")
@bp.arguments(RemoteStartBody)
@bp.response(200, StatusSchema)
@bp.errors(*CALL_ERRORS)
def remote_start(body: dict[str, Any]) -> dict[str, Any]:
    """Ask a charger to start charging (RemoteStartTransaction); data.status = its answer

    Accepted means the charger will try: the transaction appears once it sends
    StartTransaction (watch GET /api/v1/transactions?clientId=…&status=active).
    """
    payload = {"idTag": body["idTag"]}
    for name in ("connectorId", "chargingProfile"):
        if name in body:
            payload[name] = body[name]
    return send(body["clientId"], "RemoteStartTransaction", payload)


@bp.post("/remote-stop")
@bp.arguments(RemoteStopBody)
@bp.response(200, StatusSchema)
@bp.errors(*CALL_ERRORS)
def remote_stop(body: dict[str, Any]) -> dict[str, Any]:
    """Ask a charger to stop a transaction (RemoteStopTransaction); data.status = its answer"""
    transaction = _known(body["transactionId"])
    if transaction.get("clientId") != body["clientId"]:
        raise not_found(f"transaction {body['transactionId']} is not one of {body['clientId']}")
    return send(body["clientId"], "RemoteStopTransaction", {"transactionId": body["transactionId"]})


@bp.get("")
@bp.arguments(TransactionListArgs, location="query")
@bp.response(200, page(TransactionSchema))
def list_transactions(query: dict[str, Any]) -> dict[str, Any]:
    """Transactions, newest first"""
    s = store()
    ids, total = transactions.list_ids(
        s, query.get("clientId"), query.get("status"), query["offset"], query["limit"]
    )
    items = transactions.with_energy_so_far(s, [t for t in transactions.get_many(s, ids) if t])
    return {"items": items, "total": total}


@bp.get("/<int:tx_id>")
@bp.response(200, TransactionSchema)
@bp.errors(404)
def get_transaction(tx_id: int) -> dict[str, Any]:
    """One transaction"""
    return transactions.with_energy_so_far(store(), [_known(tx_id)])[0]


@bp.get("/<int:tx_id>/meter-values")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page(SampledValueSchema))
@bp.errors(404)
def meter_values(query: dict[str, Any], tx_id: int) -> dict[str, Any]:
    """A transaction's sampled values, in arrival order"""
    _known(tx_id)
    s = store()
    start = query["offset"]
    items = transactions.samples_of(s, tx_id, start, start + query["limit"] - 1)
    return {"items": items, "total": transactions.sample_count(s, tx_id)}
