"""GET /api/v1/dead-letters: the CALLs the workers gave up on, newest first, by cursor."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from api import create_app
from ocpp_worker.state import dead_letters
from ocpp_worker.state.store import Store
from tests.api.conftest import Api, data_of_400, ok
from tests.conftest import delete_prefix

URL = "/api/v1/dead-letters"
MAX_ID = "18446744073709551615-18446744073709551615"  # the largest stream id


@pytest.fixture
def own(store: Store) -> Iterator[tuple[Api, Store]]:
    """An app on a key prefix of its own: no other test's dead letters."""
    prefix = f"{store.keys.prefix}dead-letters:"
    own_store = Store(store.redis, dataclasses.replace(store.settings, key_prefix=prefix))
    try:
        yield Api(create_app(store=own_store, config={"API_TOKEN": None})), own_store
    finally:
        delete_prefix(store, prefix)


def record(store: Store, count: int) -> list[str]:
    """`count` dead letters, oldest first; their message ids."""
    pipe = store.redis.pipeline(transaction=True)
    unique_ids = [f"msg-{n}" for n in range(count)]
    for n, unique_id in enumerate(unique_ids):
        frame = json.dumps([2, unique_id, "MeterValues", {"connectorId": n}])
        dead_letters.record(
            store,
            pipe,
            cp_id=f"CP-{n}",
            unique_id=unique_id,
            action="MeterValues",
            frame=frame,
            reason=f"RuntimeError: run {n}",
            attempts=3,
        )
    pipe.execute()
    return unique_ids


def test_no_dead_letters_is_an_empty_list(own):
    api, _ = own
    assert ok(api.request("GET", URL)) == {"items": [], "total": 0}


def test_dead_letters_newest_first_with_every_field(own):
    api, store = own
    unique_ids = record(store, 3)
    data = ok(api.request("GET", URL))
    assert data["total"] == 3
    assert [item["id"] for item in data["items"]] == unique_ids[::-1]
    newest = data["items"][0]
    assert set(newest) == {"deadLetterId", "cp", "id", "action", "frame", "reason", "attempts", "at"}
    assert (newest["cp"], newest["action"], newest["attempts"]) == ("CP-2", "MeterValues", 3)
    assert json.loads(newest["frame"]) == [2, "msg-2", "MeterValues", {"connectorId": 2}]
    assert newest["reason"] == "RuntimeError: run 2"
    assert newest["at"].endswith("Z")
    ids = [item["deadLetterId"] for item in data["items"]]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))), reverse=True)


def test_pages_follow_the_before_cursor_exclusively(own):
    api, store = own
    unique_ids = record(store, 5)
    seen: list[str] = []
    before = None
    for _ in range(5):
        query = {"limit": 2, **({"before": before} if before else {})}
        data = ok(api.request("GET", URL, query_string=query))
        assert data["total"] == 5
        if not data["items"]:
            break
        assert len(data["items"]) <= 2
        seen += [item["id"] for item in data["items"]]
        before = data["items"][-1]["deadLetterId"]
    assert seen == unique_ids[::-1]  # every one once, none twice
    everything = ok(api.request("GET", URL, query_string={"before": MAX_ID}))["items"]
    assert [item["id"] for item in everything] == unique_ids[::-1]
    for first in ("0-0", "000-0"):  # nothing is older (Redis refuses "(0-0")
        assert ok(api.request("GET", URL, query_string={"before": first})) == {"items": [], "total": 5}


@pytest.mark.parametrize(
    "query,field",
    [
        ({"before": "abc"}, "before"),
        ({"before": "1"}, "before"),
        ({"before": "1-2-3"}, "before"),
        ({"before": "-1-0"}, "before"),
        ({"before": "1-0 "}, "before"),
        ({"before": "\u0663-0"}, "before"),  # an Arabic-Indic 3: a digit to Python, not to Redis
        ({"before": "18446744073709551616-0"}, "before"),  # 2^64: Redis refuses it
        ({"before": "1" * 21 + "-0"}, "before"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
    ],
)
def test_bad_cursor_or_limit_is_400(own, query, field):
    api, _ = own
    data = data_of_400(api.request("GET", URL, query_string=query), "invalid query parameters")
    assert set(data) == {field}
