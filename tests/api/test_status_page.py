"""The status pages (api/pages) through Flask's test client: the login that stands in for
the bearer token, what a forged or foreign request gets, hostile charger text shown as
text, the front page's limit. tests/e2e/test_status_page.py drives them in a browser."""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from ocpp.v16 import call

from api import create_app
from api.pages import session, views
from ocpp_worker import timeutil
from ocpp_worker.config import get_settings
from ocpp_worker.state import chargepoints, message_log
from ocpp_worker.state.message_log import Frame, Retention
from ocpp_worker.state.store import Store
from tests.conftest import delete_prefix

TOKEN = "page-test-token-" + uuid.uuid4().hex
SAME_ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def fresh() -> Iterator[Store]:
    prefix = f"ocpptest-pages-{uuid.uuid4().hex[:8]}:"
    store = Store.connect(dataclasses.replace(get_settings(), key_prefix=prefix))
    yield store
    delete_prefix(store, prefix)


@pytest.fixture
def token_app(store: Store) -> Flask:
    return create_app(store=store, config={"API_TOKEN": TOKEN})


def log_in(client: FlaskClient) -> None:
    response = client.post("/login", data={"token": TOKEN}, headers=SAME_ORIGIN)
    assert response.status_code == 303 and response.headers["Location"] == "/"


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(session.COOKIE)
    return cookie.value if cookie else None


def test_without_a_token_the_pages_are_open(fresh):
    client = create_app(store=fresh, config={"API_TOKEN": None}).test_client()
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Log out" not in page.get_data(as_text=True)
    assert client.get("/login").status_code == 303
    css = client.get("/static/status.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_login_sets_an_httponly_strict_cookie_that_is_not_the_token(token_app):
    client = token_app.test_client()
    first = client.get("/chargers/CP001")
    assert first.status_code == 303 and first.headers["Location"] == "/login"
    form = client.get("/login")
    assert form.status_code == 200 and 'type="password"' in form.get_data(as_text=True)
    assert client.get("/static/status.css").status_code == 200  # the login page needs its style

    wrong = client.post("/login", data={"token": "not-it"}, headers=SAME_ORIGIN)
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers

    response = client.post("/login", data={"token": TOKEN}, headers=SAME_ORIGIN)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    assert TOKEN not in cookie and TOKEN not in response.headers["Location"]
    page = client.get("/")
    assert page.status_code == 200 and "Log out" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script

    # The JSON API takes the bearer header only: the page's cookie does not open it.
    assert client.get("/api/v1/idtags").status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/v1/idtags", headers=bearer).status_code == 200

    out = client.post("/logout", headers=SAME_ORIGIN)
    assert out.status_code == 303 and out.headers["Location"] == "/login"
    assert session_cookie(client) is None
    assert client.get("/").status_code == 303


def test_on_https_the_cookie_is_secure(token_app):
    client = token_app.test_client()
    response = client.post(
        "/login", base_url="https://localhost", data={"token": TOKEN}, headers={"Origin": "https://localhost"}
    )
    assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # neither Origin nor Referer: not a browser posting our form
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/login"},
        {"Origin": "http://localhost.evil.example"},
    ],
)
def test_forms_from_elsewhere_are_refused(token_app, headers):
    client = token_app.test_client()
    refused = client.post("/login", data={"token": TOKEN}, headers=headers)
    assert refused.status_code == 403 and "Set-Cookie" not in refused.headers
    log_in(client)
    assert client.post("/logout", headers=headers).status_code == 403
    assert client.get("/").status_code == 200  # still logged in


def test_a_referer_from_our_own_page_will_do(token_app):
    client = token_app.test_client()
    response = client.post("/login", data={"token": TOKEN}, headers={"Referer": "http://localhost/login"})
    assert response.status_code == 303 and session_cookie(client)


def test_forged_expired_or_foreign_cookies_are_refused(token_app):
    client = token_app.test_client()
    log_in(client)
    good = session_cookie(client)
    assert good is not None
    expires, _, signature = good.partition(".")
    later = str(int(expires) + 3600)
    other = create_app(store=token_app.extensions["ocpp"].store, config={"API_TOKEN": "another-token-123456"})
    other_client = other.test_client()
    other_client.post("/login", data={"token": "another-token-123456"}, headers=SAME_ORIGIN)
    foreign = session_cookie(other_client)
    past = int(time.time()) - 10
    expired = f"{past}.{session._signature(TOKEN, past)}"
    for value in (f"{later}.{signature}", foreign, expired, TOKEN, "", "x.y", "9" * 40 + "." + signature):
        client.set_cookie(session.COOKIE, value or "")
        assert client.get("/").status_code == 303, value


async def test_what_a_charger_sends_is_shown_as_text(chargers, store, api, cp_id):
    cp = await chargers.connect(cp_id, boot=False)
    vendor, model = "<script>x</script>", '"><img src=x>'
    await cp.call(call.BootNotification(charge_point_vendor=vendor, charge_point_model=model))
    await cp.status(1, "Available")
    frame = '[2,"dt-1","DataTransfer",{"vendorId":"<script>alert(1)</script>","data":"</code><b>"}]'
    pipe = store.redis.pipeline(transaction=False)
    message_log.add(pipe, store.keys, [Frame(cp_id, "in", frame)], Retention(1000, 7))
    pipe.execute()

    response = await api.get(f"/chargers/{cp_id}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for hostile in (vendor, model, frame, "</code><b>"):
        assert hostile not in text
    assert escape(vendor) in text and escape(model) in text
    assert escape(frame) in text
    assert "<script" not in text and "<img" not in text
    assert re.search(r"<td[^>]*>1</td>\s*<td[^>]*>Available</td>", text)


def test_ids_in_links_are_percent_encoded_and_lead_to_their_page(fresh):
    client = create_app(store=fresh, config={"API_TOKEN": None}).test_client()
    cp_id = "CP|a+b:c@d=e*f"
    pipe = fresh.redis.pipeline(transaction=False)
    chargepoints.touch(pipe, fresh.keys, cp_id, timeutil.iso(timeutil.utc_now()))
    pipe.execute()
    text = client.get("/").get_data(as_text=True)
    assert 'href="/chargers/CP%7Ca+b:c@d=e*f"' in text
    page = client.get("/chargers/CP%7Ca+b:c@d=e*f")
    assert page.status_code == 200 and "CP|a+b:c@d=e*f" in page.get_data(as_text=True)
    missing = client.get("/chargers/CP-never")
    assert missing.status_code == 404 and "Unknown charger" in missing.get_data(as_text=True)


def test_the_front_page_says_how_many_chargers_it_leaves_out(fresh, monkeypatch):
    monkeypatch.setattr(views, "CHARGERS_SHOWN", 2)
    client = create_app(store=fresh, config={"API_TOKEN": None}).test_client()
    pipe = fresh.redis.pipeline(transaction=False)
    for n in range(3):
        chargepoints.touch(pipe, fresh.keys, f"CP-{n}", f"2026-01-01T00:00:0{n}.000Z")
    pipe.execute()
    text = client.get("/").get_data(as_text=True)
    assert "Showing the first 2 of 3" in text
    assert "/chargers/CP-0" in text and "/chargers/CP-1" in text and "/chargers/CP-2" not in text


def test_a_silent_charger_is_shown_stale(fresh):
    from ocpp_worker.state import liveness

    client = create_app(store=fresh, config={"API_TOKEN": None}).test_client()
    pipe = fresh.redis.pipeline(transaction=False)
    chargepoints.touch(pipe, fresh.keys, "CP-silent", "2026-01-01T00:00:00.000Z")
    chargepoints.touch(pipe, fresh.keys, "CP-talking", timeutil.iso(timeutil.utc_now()))
    pipe.execute()
    liveness.mark_stale(fresh, 2.0)  # what celery beat runs: 2 x the default 300 s heartbeat
    text = client.get("/").get_data(as_text=True)
    rows = {re.search(r'href="/chargers/([^"]+)"', row)[1]: row for row in text.split('<tr id="charger-')[1:]}
    assert 'class="stale"' in rows["CP-silent"] and 'class="stale"' not in rows["CP-talking"]
    page = client.get("/chargers/CP-silent").get_data(as_text=True)
    assert "silent since 2026-01-01T00:10:00.000Z" in page
