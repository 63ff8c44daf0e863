"""One blueprint per resource, and the URL converter of the charger ids they share."""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.routing import BaseConverter

from api.smorest import Blueprint


def charger_id_converter(pattern: str) -> type[BaseConverter]:
    """``<charger:cp_id>``: a path segment that is a charger id the gateway accepts
    (`pattern`, OCPP_CHARGER_ID_PATTERN), or no match.

    So an id no charger can have is a 404 from routing, like any unknown URL, and never
    reaches a view. "." and ".." are left out in the regex, not in `to_python`: they are
    dot segments, not names, and Werkzeug answers a `to_python` refusal with 405 when
    the path fits a route of another method.
    """

    class ChargerIdConverter(BaseConverter):
        regex = rf"(?!\.\.?\Z)(?:{pattern})"  # matched against one path segment, up to \Z
        # The same rule for the OpenAPI document.
        schema = {"type": "string", "pattern": rf"^(?!\.\.?$)(?:{pattern})$"}

        def to_url(self, value: object) -> str:
            """One path segment, whatever the id holds (`url_for` on the status pages):
            Werkzeug's default leaves "/" as it is, which a wider pattern may allow."""
            return quote(str(value), safe="!$&'()*+,:;=@")

    return ChargerIdConverter


def blueprints() -> list[Blueprint]:
    from api.routes import (
        calls,
        chargepoints,
        charging_profiles,
        clients,
        commands,
        configuration,
        dead_letters,
        events,
        health,
        idtags,
        jobs,
        local_lists,
        messages,
        openapi,
        records,
        reservations,
        security,
        transactions,
        webhooks,
    )

    return [
        health.bp,
        clients.bp,
        chargepoints.bp,
        security.bp,
        messages.bp,
        records.bp,
        jobs.bp,
        configuration.bp,
        calls.bp,
        reservations.bp,
        transactions.bp,
        idtags.bp,
        local_lists.bp,
        charging_profiles.bp,
        dead_letters.bp,
        commands.bp,
        events.bp,
        webhooks.bp,
        openapi.bp,
    ]
