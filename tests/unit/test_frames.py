import json

import pytest

from ocpp_worker.protocol import frames


def test_call_round_trip_is_compact_json():
    text = frames.call("id-1", "Heartbeat", {})
    assert text == '[2,"id-1","Heartbeat",{}]'
    assert frames.parse(text) == frames.Call("id-1", "Heartbeat", {})


def test_result_and_error_frames():
    assert frames.call_result("a", {"status": "Accepted"}) == '[3,"a",{"status":"Accepted"}]'
    assert frames.call_error("b", "NotImplemented", "nope") == '[4,"b","NotImplemented","nope",{}]'
    assert frames.parse('[4,"b","GenericError","x",{"k":1}]') == frames.CallError(
        "b", "GenericError", "x", {"k": 1}
    )


@pytest.mark.parametrize(
    ("text", "unique_id", "close_code"),
    [
        ("nope", None, 1007),
        ("[" * 50_000 + "]" * 50_000, None, 1007),
        ("[" * 70_000 + "]" * 70_000, None, 1009),
        ("2" * 5000, None, 1007),
        ("[2]", None, 1002),
        ('[2, 5, "Heartbeat", {}]', None, 1002),
        ('[2, "", "Heartbeat", {}]', None, 1002),
        ('[2, "' + "x" * 37 + '", "Heartbeat", {}]', None, 1002),
        ('[2, "ok", "Heartbeat"]', "ok", None),
        ('[9, "ok"]', "ok", None),
        ('[2, "ok", "Heartbeat", "payload"]', "ok", None),
    ],
)
def test_unreadable_frames(text, unique_id, close_code):
    with pytest.raises(frames.FrameError) as failure:
        frames.parse(text)
    assert failure.value.unique_id == unique_id
    if close_code is not None:
        assert failure.value.close_code == close_code


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("text", "code", "reason"),
    [
        # the poison frame of the hostile-input issue: 500 levels inside a DataTransfer
        (
            json.dumps([2, "a", "DataTransfer", {"vendorId": "v", "data": nested(500)}]),
            "FormationViolation",
            "deeper",
        ),
        (
            json.dumps([2, "a", "DataTransfer", {"vendorId": "v", "data": nested(9)}]),
            "FormationViolation",
            "deeper",
        ),
        ('[2,"a","Heartbeat",{"x":"\\udfff"}]', "FormationViolation", "surrogate"),
        ('[2,"a","Heartbeat",{"\\udfff":1}]', "FormationViolation", "surrogate"),
        ('[2,"a","\\udfff",{}]', "FormationViolation", "surrogate"),
        ('[2,"a","MeterValues",{"connectorId":1e400}]', "FormationViolation", "finite"),
        ('[2,"a","MeterValues",{"connectorId":NaN}]', "FormationViolation", "finite"),
        ('[2,"a","MeterValues",{"connectorId":99999999999999999999}]', "FormationViolation", "64 bits"),
        ('[2.0,"a","Heartbeat",{}]', "ProtocolError", "message type"),
        ('[true,"a","Heartbeat",{}]', "ProtocolError", "message type"),
    ],
)
def test_hostile_content_is_answered_with_the_id(text, code, reason):
    with pytest.raises(frames.FrameError) as failure:
        frames.parse(text)
    assert failure.value.unique_id == "a"
    assert failure.value.error_code == code
    assert reason in failure.value.reason


def test_depth_up_to_the_limit_passes():
    # frame (1) > payload (2) > data: 7 more levels = 9 <= MAX_DEPTH
    text = json.dumps([2, "a", "DataTransfer", {"vendorId": "v", "data": nested(7)}])
    assert isinstance(frames.parse(text), frames.Call)


def test_lone_surrogate_in_the_id_is_still_answerable():
    with pytest.raises(frames.FrameError) as failure:
        frames.parse('[2,"\\udfff","Heartbeat",{}]')
    assert failure.value.unique_id == "\udfff"
    reply = frames.call_error(failure.value.unique_id, failure.value.error_code)
    assert reply.isascii() and json.loads(reply)[1] == "\udfff"


def test_built_frames_are_ascii():
    assert frames.call_result("é", {"data": "ü€"}) == '[3,"\\u00e9",{"data":"\\u00fc\\u20ac"}]'
