"""The status pages' login: a cookie that proves its browser once posted the API token.

A browser cannot send ``Authorization: Bearer`` on a page load, so the login form posts
the token once and gets a cookie instead. The cookie is not the token: it is an expiry
and an HMAC of it keyed with the token, so a leaked cookie opens only these read-only
pages, only until it expires, and no cookie survives a change of the token. It is
HttpOnly (no script reads it), SameSite=Strict (no other site's page or link sends it)
and Secure on https. The token itself is never put in a URL, a cookie or a page.

Forms are the only requests that change anything (log in, log out): `same_origin`
checks that a browser sent them from one of our own pages (Origin, else Referer), so
another site can neither log a browser in nor out.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

from flask import Request
from werkzeug.wrappers import Response

from api.auth import configured_token

COOKIE = "csms_session"
LIFETIME_S = 12 * 3600


def _signature(token: str, expires: int) -> str:
    message = f"ocpp-csms status pages until {expires}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def logged_in(request: Request) -> bool:
    """Whether the request may see the pages: no token is configured, or its cookie is
    one we issued with the current token and has not expired."""
    token = configured_token()
    if token is None:
        return True
    expires_text, _, signature = request.cookies.get(COOKIE, "").partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or int(expires_text) < time.time():
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, int(expires_text)).encode())


def log_in(response: Response, request: Request, token: str) -> None:
    """Set the cookie of a browser that posted the right `token`."""
    expires = int(time.time()) + LIFETIME_S
    response.set_cookie(
        COOKIE,
        f"{expires}.{_signature(token, expires)}",
        max_age=LIFETIME_S,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )


def log_out(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)


def same_origin(request: Request) -> bool:
    """Whether a form was posted from this server's own pages: its Origin (every current
    browser sends one with a POST), else its Referer, is this server's scheme and host.
    A request with neither is refused: only a browser has a reason to post these forms."""
    ours = request.host_url.rstrip("/")
    origin = request.headers.get("Origin")
    if origin is None:
        referer = urlsplit(request.headers.get("Referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else None
    return origin == ours
