"""Request bodies: what the API reads (JSON, 1 MiB, 32 levels deep) and what it refuses
with a 4xx before it costs more (100,000 levels of nesting were a 500)."""

from __future__ import annotations

import io
import json

import pytest

from api import create_app
from api.bodies import MAX_DEPTH, _depth
from ocpp_worker.config import Settings
from tests.api.conftest import Api, data_of_400, envelope_of, ok, post_raw

NOBODY = "never-connected-charger"

# -- nesting -------------------------------------------------------------------------


@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_body_nested_100000_deep_is_400(api, opener, closer):
    deep = opener * 100_000 + closer * 100_000
    for url in (f"/api/v1/chargepoints/{NOBODY}/call/Reset", "/api/v1/transactions/remote-start"):
        data = data_of_400(post_raw(api, url, deep), "the request body is nested too deeply")
        assert data == {"_body": [f"Nested deeper than {MAX_DEPTH} levels."]}
    unclosed = data_of_400(post_raw(api, url, opener * 100_000), "the request body is nested too deeply")
    assert unclosed == {"_body": [f"Nested deeper than {MAX_DEPTH} levels."]}


def test_nesting_limit_is_exact_and_ignores_brackets_in_strings(api):
    url = f"/api/v1/chargepoints/{NOBODY}/call/GetConfiguration"

    def key_nested(levels: int, inner: str = '"x"') -> str:
        return '{"key": ' + "[" * (levels - 1) + inner + "]" * (levels - 1) + "}"

    # 32 levels parse, and break the 1.6 schema (key is a list of strings); 33 do not parse.
    data = data_of_400(post_raw(api, url, key_nested(MAX_DEPTH)), "invalid OCPP payload")
    assert data["errorCode"] == "TypeConstraintViolation"
    data_of_400(post_raw(api, url, key_nested(MAX_DEPTH + 1)), "the request body is nested too deeply")
    # Parsed, so it gets as far as the unknown action.
    brackets_in_a_string = json.dumps({"key": ["[" * 1000 + '"{' * 1000]})
    envelope_of(post_raw(api, url.replace("GetConfiguration", "Nope"), brackets_in_a_string), 404)


@pytest.mark.parametrize(
    "text,depth",
    [
        (b"", 0),
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["]]]", "[[[["]', 1),
        (b'["\\"[[[", "\\\\", []]', 2),  # an escaped quote does not end the string; \\ is one backslash
        (b'["\\\\\\"[[", []]', 2),  # \\ then \" : still inside the string
        (b"[" * 5 + b"]" * 5 + b"{}", 5),
    ],
)
def test_depth_counts_brackets_outside_strings(text, depth):
    assert _depth(text) == depth


# -- strings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ['{"status": "Accepted", "parentIdTag": "\\ud800"}', '{"status": "Accepted", "\\udfff": 1}']
)
def test_lone_surrogate_escape_is_not_json(api, text):
    # It parses, but has no UTF-8 form: Redis could not store it (that was a 500).
    response = api.request("PUT", "/api/v1/idtags/SURROGATE", data=text, content_type="application/json")
    assert data_of_400(response, "the request body is not valid JSON") == {"_body": ["Not valid JSON."]}
    envelope_of(api.request("GET", "/api/v1/idtags/SURROGATE"), 404)


def test_surrogate_pair_escape_is_a_character(api):
    text = '{"status": "Accepted", "parentIdTag": "\\ud83d\\udd0c"}'
    tag = ok(api.request("PUT", "/api/v1/idtags/PAIR", data=text, content_type="application/json"), 201)
    assert tag["parentIdTag"] == "\U0001f50c"
    ok(api.request("DELETE", "/api/v1/idtags/PAIR"))


# -- size ----------------------------------------------------------------------------


def test_body_past_max_content_length_is_413_and_not_read(api):
    limit = api.app.config["MAX_CONTENT_LENGTH"]
    assert limit == 1024 * 1024
    url = "/api/v1/transactions/remote-start"
    body = envelope_of(post_raw(api, url, " " * limit + "{}"), 413)
    assert body == {
        "success": False,
        "message": f"the request body is larger than {limit} bytes",
        "data": None,
    }
    claimed = 100 * 1024 * 1024
    stream = io.BytesIO(b"{}")
    # The test client would count the stream's length itself: claim one as a client can.
    claim = {"CONTENT_LENGTH": str(claimed)}
    response = api.request(
        "POST", url, input_stream=stream, content_type="application/json", environ_overrides=claim
    )
    assert envelope_of(response, 413)["message"] == f"the request body is larger than {limit} bytes"
    assert stream.tell() == 0  # refused on the declared length, before reading a byte


@pytest.mark.parametrize("size,status", [(1024 * 1024, 400), (1024 * 1024 + 1, 413), (3 * 1024 * 1024, 413)])
def test_chunked_body_is_not_read_past_max_content_length(api, size, status):
    # Valid JSON however long (trailing spaces), so only the length can refuse it.
    stream = io.BytesIO(b"{}" + b" " * (size - 2))
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}  # as gunicorn has it
    response = api.request(
        "PUT",
        "/api/v1/idtags/CHUNKED",
        input_stream=stream,
        content_type="application/json",
        environ_overrides=chunked,
    )
    envelope_of(response, status)  # 400: {} has no status
    assert stream.tell() <= 1024 * 1024 + 1


def test_body_limit_comes_from_the_environment_through_the_settings(store, monkeypatch):
    monkeypatch.setenv("API_MAX_BODY_BYTES", "64")
    small = Api(create_app(settings=Settings.from_env(), store=store, config={"API_TOKEN": None}))
    url = "/api/v1/idtags/SMALL-BODY"
    too_big = json.dumps({"status": "Accepted", "parentIdTag": "P" * 40})
    assert len(too_big) > 64
    envelope_of(small.request("PUT", url, data=too_big, content_type="application/json"), 413)
    ok(small.request("PUT", url, json={"status": "Accepted"}), 201)
    ok(small.request("DELETE", url))


# -- media type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_body_of_another_media_type_is_415(api, content_type):
    for method, url in (
        ("POST", f"/api/v1/chargepoints/{NOBODY}/call/Reset"),
        ("PUT", "/api/v1/idtags/TEXT-PLAIN"),
        ("POST", "/api/v1/transactions/remote-start"),
    ):
        response = api.request(method, url, data='{"type": "Soft"}', content_type=content_type)
        body = envelope_of(response, 415)
        assert body["message"] == "the request body must be JSON: send Content-Type: application/json"
        assert body["data"] is None


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json", None],
)
def test_json_media_types_and_a_missing_one_are_read_as_json(api, content_type):
    url = "/api/v1/idtags/JSON-TYPES"
    ok(api.request("PUT", url, data='{"status": "Accepted"}', content_type=content_type), 201)
    ok(api.request("DELETE", url))


def test_bodiless_post_needs_no_media_type(api):
    # No body is {}: ClearCache takes none, so it reaches the (unknown) charger.
    url = f"/api/v1/chargepoints/{NOBODY}/call/ClearCache"
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        envelope_of(api.request("POST", url, content_type=content_type), 404)
