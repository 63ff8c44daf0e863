"""The REST API: the thin HTTP face of the central system (Flask, served by gunicorn).

    create_app() -> Flask

Blueprints by resource live in `api.routes`, their marshmallow schemas in
`api.schemas`; `api.smorest` sets flask-smorest (request parsing, responses, the
OpenAPI document) to our conventions, `api.bodies` reads request bodies safely,
`api.errors` owns the envelope and `api.auth` the bearer token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from celery import Celery
from flask import Flask

from api import auth, errors
from api.context import Services
from api.routes import blueprints, charger_id_converter
from api.smorest import Api
from ocpp_worker.celery_app import app as celery_app
from ocpp_worker.config import Settings, get_settings
from ocpp_worker.state.store import Store

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    config: Mapping[str, Any] | None = None,
    celery: Celery | None = None,
) -> Flask:
    """Build the API on a store (default: a new one from the settings).

    `config` overrides Flask settings, API_TOKEN and MAX_CONTENT_LENGTH included
    (default: the environment's).
    """
    app = Flask(__name__, static_folder=None)
    app.config["API_TOKEN"] = os.environ.get("API_TOKEN") or None
    # Bodies are small JSON documents; Werkzeug refuses to read a larger one (413).
    app.config["MAX_CONTENT_LENGTH"] = int(os.environ.get("API_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if config:
        app.config.update(config)
    store = store or Store.connect(settings or get_settings())
    app.extensions["ocpp"] = Services(store=store, celery=celery or celery_app)
    errors.register(app)
    auth.register(app)
    api = Api(app)
    # Before the routes that use it: the API addresses exactly the ids the gateway accepts.
    converter = charger_id_converter(store.settings.charger_id_pattern)
    app.url_map.converters["charger"] = converter
    api.register_converter(converter, lambda found: dict(found.schema))
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
    return app
