"""One blueprint per resource."""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> list[Blueprint]:
    from api.routes import calls, chargepoints, clients, configuration, health, idtags, openapi, transactions

    return [
        health.bp,
        clients.bp,
        chargepoints.bp,
        configuration.bp,
        calls.bp,
        transactions.bp,
        idtags.bp,
        openapi.bp,
    ]
