"""The REST API: the thin HTTP face of the central system (Flask, served by gunicorn).

    create_app() -> Flask

Blueprints by resource live in `api.routes`, their marshmallow schemas in
`api.schemas`; `api.smorest` sets flask-smorest (request parsing, responses, the
OpenAPI document) to our conventions, `api.bodies` reads request bodies safely,
`api.errors` owns the envelope and `api.auth` the bearer token, `api.idempotency` the
`Idempotency-Key` of every write; `api.pages` is the status page at `/`, for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery
from flask import Flask

from api import auth, errors, idempotency, observability, pages
from api.context import Services
from api.routes import blueprints, charger_id_converter
from api.smorest import Api
from ocpp_worker.celery_app import app as celery_app
from ocpp_worker.config import Settings, get_settings
from ocpp_worker.state.store import Store


def create_app(
    settings: Settings | None = None,
    store: Store | None = None,
    config: Mapping[str, Any] | None = None,
    celery: Celery | None = None,
) -> Flask:
    """Build the API on a store (default: a new one from the settings).

    `settings` (default: the store's, else the environment's) give the token
    (`api_token`), the body limit (`api_max_body_bytes`) and the charger-id rule;
    `config` overrides Flask settings, API_TOKEN and MAX_CONTENT_LENGTH included.
    """
    settings = settings or (store.settings if store is not None else get_settings())
    app = Flask(__name__, static_folder=None)
    app.config["API_TOKEN"] = settings.api_token
    # Bodies are small JSON documents; Werkzeug refuses to read a larger one (413).
    app.config["MAX_CONTENT_LENGTH"] = settings.api_max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if config:
        app.config.update(config)
    app.extensions["ocpp"] = Services(store=store or Store.connect(settings), celery=celery or celery_app)
    errors.register(app)
    auth.register(app)
    idempotency.register(app)  # after auth: a 401 never touches an Idempotency-Key
    observability.register(app)  # request metrics
    # Idempotency-Key on every POST/PUT/PATCH/DELETE under /api/v1, in the document too
    api = Api(app, plugins=[idempotency.OpenApiPlugin(Api.ERROR_SCHEMA)])
    # Before the routes that use it: the API addresses exactly the ids the gateway accepts.
    converter = charger_id_converter(settings.charger_id_pattern)
    app.url_map.converters["charger"] = converter
    api.register_converter(converter, lambda found: dict(found.schema))
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
    api.register_blueprint(observability.blueprint(public=settings.metrics_public))  # GET /metrics
    # The status pages for people: HTML, not in the OpenAPI document, their own login.
    app.register_blueprint(pages.bp)
    return app
