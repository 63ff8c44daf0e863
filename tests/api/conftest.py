"""Fixtures for the API tests: the real app on this run's store, over the real stack.

Flask test-client requests are synchronous; async tests (which host chargers on their
event loop) send them with `await api.get(...)`, which runs them in a thread so the
chargers keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from api import create_app
from ocpp_worker.state.store import Store
from tests.support.stack import ManagedProcess, free_port, start_gunicorn


def envelope_of(response: TestResponse, status: int) -> dict[str, Any]:
    """The body of a response, checked to be the envelope with this status."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"success", "message", "data"}, body
    assert body["success"] is (200 <= status < 300)
    assert isinstance(body["message"], str)
    return body


def ok(response: TestResponse, status: int = 200) -> Any:
    return envelope_of(response, status)["data"]


def post_raw(api: Api, url: str, text: str, content_type: str = "application/json") -> TestResponse:
    """POST a body written as JSON text (1e400 and NaN have no Python literal)."""
    return api.request("POST", url, data=text, content_type=content_type)


def data_of_400(response: TestResponse, message: str) -> Any:
    """The field errors of a 400, checked to come with this message."""
    body = envelope_of(response, 400)
    assert body["message"] == message, body
    return body["data"]


class Api:
    """The Flask test client, callable from sync and (through a thread) async code."""

    def __init__(self, app: Flask, token: str | None = None) -> None:
        self.app = app
        self.client = app.test_client()
        self.token = token

    def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(url, method=method, headers=headers, **kwargs)

    async def send(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        return await asyncio.to_thread(self.request, method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.send("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.send("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.send("PUT", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.send("DELETE", url, **kwargs)


@pytest.fixture(scope="session")
def flask_app(store: Store) -> Flask:
    return create_app(store=store, config={"API_TOKEN": None})


@pytest.fixture
def api(flask_app: Flask) -> Api:
    return Api(flask_app)


async def eventually(check: Any, timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll an async `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


# -- gunicorn as a real subprocess -----------------------------------------------


class HttpApi:
    """A running gunicorn serving `api.wsgi:app`, reached over real HTTP."""

    def __init__(self, base_url: str, token: str, process: ManagedProcess) -> None:
        self.base_url = base_url
        self.token = token
        self.process = process

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = "default", timeout: float = 30
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        token = self.token if token == "default" else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def gunicorn_api(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpApi]:
    port = free_port()
    token = "gunicorn-test-token-" + os.urandom(8).hex()
    env = {**os.environ, "API_TOKEN": token}
    process = start_gunicorn(env, Path(tmp_path_factory.mktemp("gunicorn")), port)
    try:
        yield HttpApi(f"http://127.0.0.1:{port}", token, process)
    finally:
        process.stop()
