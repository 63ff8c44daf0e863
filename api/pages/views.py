"""The status pages' routes: `/` (every charger, active transactions), `/chargers/<id>`
(one charger: connectors, transactions, its last messages), the login form.

They read the same state functions as the JSON API (`state.chargepoints.summaries`,
`archive.history.list_page`, `message_log.page`, ...), so the two cannot disagree. What a
charger sent (ids, BootNotification fields, frames) is hostile text: templates are
autoescaped (Flask does so for .html), ids in links go through `url_for` (percent-
encoded), and the Content-Security-Policy allows no script at all, so even a missed
escape could not run one. The pages refresh themselves with a meta refresh.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from api.auth import configured_token, is_token
from api.context import archive, store
from api.pages import session
from ocpp_worker import timeutil
from ocpp_worker.archive import history
from ocpp_worker.state import chargepoints, message_log, registrations, transactions

REFRESH_S = 5
CHARGERS_SHOWN = 500  # the front page lists the first this many (first seen first) and says how many exist
TRANSACTIONS_SHOWN = 500
CHARGER_TRANSACTIONS_SHOWN = 20
MESSAGES_SHOWN = 50

# No script, no frames, nothing from elsewhere: the pages are HTML and one stylesheet.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class PageBlueprint(Blueprint):
    """A blueprint whose routes `api.auth` leaves to their own login (`session`)."""

    cookie_login = True


bp = PageBlueprint("pages", __name__, template_folder="templates", static_folder="static")

_OPEN_ENDPOINTS = ("pages.login", "pages.static")
NOT_OUR_FORM = "This form must be sent from this server's page."


@bp.before_request
def _login_required() -> Response | None:
    if request.endpoint in _OPEN_ENDPOINTS or session.logged_in(request):
        return None
    return redirect(url_for("pages.login"), 303)


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "pages.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("ago")
def _ago(moment: str | None) -> str:
    """How long ago an ISO timestamp we stored was ("12 s ago"; "" for none)."""
    then = timeutil.parse(moment) if moment else None
    if then is None:
        return ""
    seconds = int((timeutil.utc_now() - then).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


@bp.app_template_filter("kwh")
def _kwh(wh: Any) -> str:
    try:
        return f"{int(wh) / 1000:.2f} kWh"
    except (TypeError, ValueError):
        return "—"


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("refresh_s", REFRESH_S)
    context["login_required"] = configured_token() is not None
    context["updated_at"] = timeutil.iso(timeutil.utc_now())
    return render_template(f"pages/{template}", **context), status


@bp.get("/")
def index() -> tuple[str, int]:
    s = store()
    ids, total = chargepoints.list_ids(s, 0, CHARGERS_SHOWN)
    chargers = [
        {**summary, "connectors": [c for c in connectors if c["connectorId"] != 0]}
        for summary, connectors in zip(
            chargepoints.summaries(s, ids), chargepoints.connectors_of(s, ids, meters=False), strict=True
        )
    ]
    tx_ids, active_total = transactions.list_ids(s, None, "active", 0, TRANSACTIONS_SHOWN)
    active = transactions.with_energy_so_far(s, [tx for tx in transactions.get_many(s, tx_ids) if tx])
    return _page(
        "index.html",
        chargers=chargers,
        total=total,
        connected=len(chargepoints.connected_ids(s)),
        active=active,
        active_total=active_total,
    )


@bp.get("/chargers/<charger:cp_id>")
def charger(cp_id: str) -> tuple[str, int]:
    s = store()
    registration = registrations.get(s, s.keys, cp_id)
    if chargepoints.get(s, cp_id) is None and registration is None:
        return _page("not_found.html", 404, cp_id=cp_id)
    charger_transactions, tx_total = history.list_page(
        s, archive(), history.Filters(client_id=cp_id), 0, CHARGER_TRANSACTIONS_SHOWN
    )
    return _page(
        "charger.html",
        charger=chargepoints.summaries(s, [cp_id])[0],
        registration=registration,
        connectors=chargepoints.connectors(s, cp_id),
        transactions=charger_transactions,
        tx_total=tx_total,
        messages=message_log.page(s, s.keys, cp_id, MESSAGES_SHOWN),
        messages_total=message_log.count(s, s.keys, cp_id),
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    token = configured_token()
    if token is None or (request.method == "GET" and session.logged_in(request)):
        return redirect(url_for("pages.index"), 303)
    if request.method == "GET":
        return _page("login.html", refresh_s=None)
    if not session.same_origin(request):
        return _page("login.html", 403, refresh_s=None, error=NOT_OUR_FORM)
    if not is_token(request.form.get("token", "").strip().encode()):
        return _page("login.html", 401, refresh_s=None, error="That is not the API token.")
    response = redirect(url_for("pages.index"), 303)
    session.log_in(response, request, token)
    return response


@bp.post("/logout")
def logout() -> Response | tuple[str, int]:
    if not session.same_origin(request):
        return _page("login.html", 403, refresh_s=None, error=NOT_OUR_FORM)
    response = redirect(url_for("pages.login"), 303)
    session.log_out(response, request)
    return response
