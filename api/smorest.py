"""flask-smorest, set to this API's conventions.

flask-smorest parses requests (`@bp.arguments`), dumps responses (`@bp.response`) and
writes the OpenAPI document from both. Here it learns our ways:

* `@bp.arguments` reads with `api.bodies.RequestParser` (body rules, 400 in the
  envelope); a JSON body also documents 413 and 415.
* `@bp.response(status, DataSchema)` puts what the view returns, the data or a `Reply`,
  in the envelope, dumped and documented as `DataSchemaEnvelope`; `@bp.response(204)`
  answers no body at all, as HTTP requires.
* `@bp.errors(404, ...)` documents error statuses: each is the shared response of its
  status (`components/responses`, the envelope with `api.errors.REASONS` as description).
* Every route of a blueprint documents the bearer token (401) unless the blueprint is
  `public`; `api.auth` lets the routes of a public blueprint through without one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

import flask
import flask_smorest  # type: ignore[import-untyped]  # the package ships no type information
from apispec import BasePlugin
from flask import Response
from marshmallow import Schema
from werkzeug.exceptions import HTTPException

from api.bodies import RequestParser
from api.errors import REASONS, http_error
from api.schemas.common import envelope

View = TypeVar("View", bound=Callable[..., Any])

SPEC = {
    "title": "OCPP 1.6J central system API",
    "version": "1",
    "openapi_version": "3.0.3",
    "info": {
        "description": 'Every response is {"success": bool, "message": str, "data": ...}. '
        "Send Authorization: Bearer <API_TOKEN> when the server has a token; "
        "GET /health and this document need none."
    },
    "security": [{"bearer": []}],
}


@dataclass(frozen=True)
class Reply:
    """A view's answer when it is not its route's plain status with "OK"."""

    data: Any
    status: int = 200
    message: str = "OK"


class Api(flask_smorest.Api):  # type: ignore[misc]  # an untyped base
    """The flask-smorest extension of one app: errors in the envelope, our status texts."""

    ERROR_SCHEMA = envelope()
    DEFAULT_ERROR_RESPONSE_NAME = None  # document the statuses a route answers, no catch-all

    def __init__(self, app: flask.Flask, plugins: Sequence[BasePlugin] = ()) -> None:
        """`plugins`: apispec plugins that document what no route declares itself
        (`api.idempotency.OpenApiPlugin`)."""
        super().__init__(app, spec_kwargs={**SPEC, "extra_plugins": list(plugins)})

    def init_app(self, app: flask.Flask, **kwargs: Any) -> None:
        super().init_app(app, **kwargs)
        self.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
        # flask-smorest describes each status by its name ("Not Found"); ours say more.
        for status, reason in REASONS.items():
            content = {"application/json": {"schema": self.ERROR_SCHEMA}}
            response = {"description": reason, "content": content}
            self.spec.components.response(HTTPStatus(status).name, response, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error(error)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app serving this request."""
    document: dict[str, Any] = flask_smorest.current_api.spec.to_dict()
    return document


if TYPE_CHECKING:

    class _Blueprint(flask.Blueprint):
        """What this API uses of flask_smorest.Blueprint, typed."""

        def __init__(
            self, name: str, import_name: str, *, url_prefix: str | None = None, description: str = ""
        ) -> None: ...
        def arguments(self, schema: type[Schema], *, location: str = "json") -> Callable[[View], View]: ...
        def response(
            self, status_code: int, schema: type[Schema] | None = None, *, description: str | None = None
        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...
        def alt_response(
            self,
            status_code: int,
            *,
            schema: type[Schema] | None = None,
            description: str | None = None,
            success: bool = False,
        ) -> Callable[[View], View]: ...
        def doc(self, **kwargs: Any) -> Callable[[View], View]: ...

else:
    _Blueprint = flask_smorest.Blueprint


class Blueprint(_Blueprint):
    """One resource's routes (see the module's docstring for what differs from flask-smorest)."""

    ARGUMENTS_PARSER = RequestParser()

    def __init__(
        self,
        name: str,
        import_name: str,
        *,
        url_prefix: str | None = None,
        description: str = "",
        public: bool = False,
    ) -> None:
        super().__init__(name, import_name, url_prefix=url_prefix, description=description)
        self.public = public

    def arguments(self, schema: type[Schema], *, location: str = "json") -> Callable[[View], View]:
        parse = super().arguments(schema, location=location)
        if location != "json":
            return parse
        return lambda view: self.errors(413, 415)(parse(view))

    def response(
        self, status_code: int, schema: type[Schema] | None = None, *, description: str | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if status_code == HTTPStatus.NO_CONTENT:
            return self._no_content(description)
        dump = super().response(status_code, envelope(schema), description=description)

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def enveloped(*args: Any, **kwargs: Any) -> tuple[dict[str, Any], int]:
                result = view(*args, **kwargs)
                reply = result if isinstance(result, Reply) else Reply(result, status_code)
                ok = 200 <= reply.status < 300
                return {"success": ok, "message": reply.message, "data": reply.data}, reply.status

            return dump(enveloped)

        return decorate

    def _no_content(self, description: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """204: HTTP allows no body, so no envelope (what the view returns is dropped)."""
        document = super().response(HTTPStatus.NO_CONTENT, description=description)

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def empty(*args: Any, **kwargs: Any) -> Response:
                view(*args, **kwargs)
                return Response(status=HTTPStatus.NO_CONTENT)

            return document(empty)

        return decorate

    def errors(self, *statuses: int) -> Callable[[View], View]:
        return self.doc(responses={status: HTTPStatus(status).name for status in statuses})

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        if view_func is not None:
            auth = self.doc(security=[]) if self.public else self.errors(401)
            operation_id = f"{self.name}.{endpoint or view_func.__name__}"
            view_func = self.doc(operationId=operation_id)(auth(view_func))
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **options)
