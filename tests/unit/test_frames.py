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
        ("[" * 100_000 + "]" * 100_000, None, 1007),
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
