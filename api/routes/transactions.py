"""Transactions (from Redis and the session archive), their export, and the remote
start/stop calls."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context

from api.context import archive, send, store
from api.errors import CALL_ERRORS, found, not_found
from api.queueing import queueable
from api.schemas.common import PageArgs, SampledValueSchema, StatusSchema, page
from api.schemas.transactions import (
    RemoteStartBody,
    RemoteStopBody,
    TransactionExportArgs,
    TransactionListArgs,
    TransactionSchema,
)
from api.smorest import Blueprint
from ocpp_worker.archive import exports, history

bp = Blueprint("transactions", __name__, url_prefix="/api/v1/transactions", description="Charging sessions")


def _known(tx_id: int) -> dict[str, Any]:
    return found(history.get(store(), archive(), tx_id), f"transaction {tx_id}")


@bp.post("/remote-start")
@queueable(bp)
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
@queueable(bp)
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
    """Transactions, newest first: active, completed, and archived ones alike

    `from`/`to` select by start time. Pages go up to offset 100,000: narrow deeper
    lists with `from`/`to`, or use the export.
    """
    filters = history.Filters(
        client_id=query.get("clientId"),
        status=query.get("status"),
        id_tag=query.get("idTag"),
        since=query.get("from_"),
        until=query.get("to"),
    )
    items, total = history.list_page(store(), archive(), filters, query["offset"], query["limit"])
    return {"items": items, "total": total}


@bp.get("/export")
@bp.arguments(TransactionExportArgs, location="query")
@bp.doc(
    responses={
        "200": {
            "description": "The sessions, streamed: CSV with a header line, or one JSON object a "
            "line (jsonl: the transaction as GET returns it, with durationS, sampleCount, "
            "firmwareVersion; ocpi-cdr: an OCPI 2.2.1 CDR)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    }
)
def export_transactions(query: dict[str, Any]) -> Response:
    """Export completed sessions that stopped in [from, to), oldest first

    Only archived sessions are exported (a session is archived within moments of its
    StopTransaction). The export is streamed: any period fits.
    """
    settings = store().settings
    party = exports.Party(settings.ocpi_country_code, settings.ocpi_party_id, settings.ocpi_currency)
    fmt = query["format"]
    chunks = exports.export(archive(), fmt, party, query.get("from_"), query.get("to"), query.get("clientId"))
    extension = "csv" if fmt == "csv" else "jsonl"
    return Response(
        stream_with_context(chunks),
        mimetype=exports.CONTENT_TYPES[fmt].split(";")[0],
        content_type=exports.CONTENT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="transactions.{extension}"'},
    )


@bp.get("/<int:tx_id>")
@bp.response(200, TransactionSchema)
@bp.errors(404)
def get_transaction(tx_id: int) -> dict[str, Any]:
    """One transaction"""
    return _known(tx_id)


@bp.get("/<int:tx_id>/meter-values")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page(SampledValueSchema))
@bp.errors(404)
def meter_values(query: dict[str, Any], tx_id: int) -> dict[str, Any]:
    """A transaction's sampled values, in arrival order"""
    _known(tx_id)
    items, total = history.samples(store(), archive(), tx_id, query["offset"], query["limit"])
    return {"items": items, "total": total}
