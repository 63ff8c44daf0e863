"""The OCPP message log (state/message_log.py) against the real Redis."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime

import pytest

from ocpp_worker.config import Settings
from ocpp_worker.state import message_log
from ocpp_worker.state.message_log import FRAME_MAX, Frame, Retention

RETAIN = Retention(max_entries=1000, days=7)


def write(store, frames, retention=RETAIN):
    pipe = store.redis.pipeline(transaction=False)
    message_log.add(pipe, store.keys, frames, retention)
    pipe.execute()


def call(n, action="Heartbeat", cp="CP1"):
    return Frame(cp, "in", f'[2,"m{n}","{action}",{{}}]')


def test_entries_describe_frames_in_and_out(fresh):
    at = time.time()
    write(
        fresh,
        [
            Frame("CP1", "in", '[2,"a1","BootNotification",{"chargePointVendor":"V"}]', ts=at),
            Frame("CP1", "out", '[3,"a1",{"status":"Accepted"}]', answers="BootNotification", ts=at),
            Frame("CP1", "out", '[2,"c1","Reset",{"type":"Soft"}]', ts=at),
            Frame("CP1", "in", ' [ 4 , "c1" , "NotSupported", "", {}]', answers="Reset", ts=at),
            Frame("CP1", "in", "not json at all", ts=at),
        ],
    )
    newest_first = message_log.page(fresh, fresh.keys, "CP1")
    assert [(m.direction, m.message_type, m.message_id, m.action) for m in newest_first] == [
        ("in", "", "", ""),
        ("in", "CALLERROR", "c1", "Reset"),
        ("out", "CALL", "c1", "Reset"),
        ("out", "CALLRESULT", "a1", "BootNotification"),
        ("in", "CALL", "a1", "BootNotification"),
    ]
    first = newest_first[-1]
    assert first.frame == '[2,"a1","BootNotification",{"chargePointVendor":"V"}]'
    assert not first.truncated and first.size == len(first.frame)
    assert first.at.endswith("Z") and abs(datetime.fromisoformat(first.at).timestamp() - at) < 0.01
    assert message_log.count(fresh, fresh.keys, "CP1") == 5
    assert message_log.page(fresh, fresh.keys, "CP2") == []  # another charger's log is its own


def test_long_frames_are_cut_and_marked(fresh):
    text = '[2,"big","DataTransfer",{"vendorId":"V","data":"' + "x" * 20_000 + '"}]'
    write(fresh, [Frame("CP1", "in", text)])
    (message,) = message_log.page(fresh, fresh.keys, "CP1")
    assert message.truncated and message.size == len(text)
    assert message.frame == text[:FRAME_MAX] and message.action == "DataTransfer"


@pytest.mark.parametrize(
    ("text", "message_id", "action"),
    [
        ('[2,"\\udfff","Heartbeat",{}]', "\\udfff", "Heartbeat"),  # a lone surrogate cannot be stored
        ('[2,"\\u00e9t\\u00e9","Heart\\"beat",{}]', "été", 'Heart"beat'),
        ('[2,"' + "i" * 500 + '","' + "A" * 300 + '",{}]', "i" * 100, ""),
        ("[2,", "", ""),
    ],
)
def test_hostile_heads_are_stored_safely(fresh, text, message_id, action):
    write(fresh, [Frame("CP1", "in", text)])
    (message,) = message_log.page(fresh, fresh.keys, "CP1")
    assert (message.message_id, message.action, message.frame) == (message_id, action, text)


def test_odd_charger_ids_keep_their_own_log(fresh):
    write(fresh, [call(1, cp="VICTIM"), call(2, cp="VICTIM}"), call(3, cp="{VICTIM}")])
    assert [m.message_id for m in message_log.page(fresh, fresh.keys, "VICTIM")] == ["m1"]
    assert [m.message_id for m in message_log.page(fresh, fresh.keys, "{VICTIM}")] == ["m3"]


def test_pages_go_back_with_before(fresh):
    write(fresh, [call(n) for n in range(25)])
    seen: list[str] = []
    before = None
    while True:
        result = message_log.scan(fresh, fresh.keys, "CP1", limit=10, before=before)
        seen += [m.message_id for m in result.items]
        if result.next is None:
            break
        before = result.next
    assert seen == [f"m{n}" for n in reversed(range(25))]
    assert message_log.page(fresh, fresh.keys, "CP1", before="0-0") == []
    with pytest.raises(ValueError):
        message_log.page(fresh, fresh.keys, "CP1", before="+")


def test_action_filter_reads_a_bounded_number_of_entries(fresh):
    frames = [call(n, "Heartbeat") for n in range(300)]
    frames.insert(0, call(-1, "BootNotification"))
    frames.insert(150, call(150, "StatusNotification"))
    write(fresh, frames)
    found = message_log.scan(fresh, fresh.keys, "CP1", limit=5, action="StatusNotification")
    assert [m.message_id for m in found.items] == ["m150"]
    assert found.next is None  # read to the oldest entry
    cut = message_log.scan(fresh, fresh.keys, "CP1", limit=5, action="BootNotification", scan_max=100)
    assert cut.items == [] and cut.next is not None  # gave up after 100 entries, says where to go on
    rest = message_log.scan(fresh, fresh.keys, "CP1", limit=5, action="BootNotification", before=cut.next)
    assert [m.message_id for m in rest.items] == ["m-1"]
    heartbeats = message_log.page(fresh, fresh.keys, "CP1", limit=7, action="Heartbeat")
    assert [m.message_id for m in heartbeats] == [f"m{n}" for n in range(299, 292, -1)]


def test_answers_are_found_by_the_action_of_their_call(fresh):
    write(
        fresh,
        [
            call(1, "Authorize"),
            Frame("CP1", "out", '[3,"m1",{"idTagInfo":{"status":"Accepted"}}]', answers="Authorize"),
            call(2, "Heartbeat"),
        ],
    )
    found = message_log.page(fresh, fresh.keys, "CP1", action="Authorize")
    assert [(m.direction, m.message_type) for m in found] == [("out", "CALLRESULT"), ("in", "CALL")]


def test_count_retention_keeps_about_the_newest(fresh):
    write(fresh, [call(n) for n in range(3000)], Retention(max_entries=500, days=7))
    kept = message_log.count(fresh, fresh.keys, "CP1")
    assert 500 <= kept <= 600  # MAXLEN ~ drops whole stream nodes (100 entries)
    assert message_log.page(fresh, fresh.keys, "CP1", limit=1)[0].message_id == "m2999"


def test_age_retention_trims_old_entries_and_expires_the_key(fresh):
    write(fresh, [call(n) for n in range(250)])
    pipe = fresh.redis.pipeline(transaction=False)
    message_log.trim_age(pipe, fresh.keys, "CP1", RETAIN)  # nothing is a week old yet
    pipe.execute()
    assert message_log.count(fresh, fresh.keys, "CP1") == 250
    assert 6.9 * 86400 < fresh.redis.ttl(fresh.keys.message_log("CP1")) <= 7 * 86400
    pipe = fresh.redis.pipeline(transaction=False)
    message_log.trim_age(pipe, fresh.keys, "CP1", RETAIN, now=time.time() + 8 * 86400)
    pipe.execute()
    assert message_log.count(fresh, fresh.keys, "CP1") == 0


@pytest.mark.parametrize("retention", [Retention(0, 7), Retention(1000, 0)])
def test_zero_turns_the_log_off(fresh, retention):
    assert not retention.enabled
    write(fresh, [call(1)], retention)
    pipe = fresh.redis.pipeline(transaction=False)
    message_log.trim_age(pipe, fresh.keys, "CP1", retention)
    assert len(pipe) == 0
    assert not fresh.redis.exists(fresh.keys.message_log("CP1"))


def test_retention_comes_from_settings():
    settings = Settings.from_env({"OCPP_MESSAGE_LOG_MAX": "50", "OCPP_MESSAGE_LOG_DAYS": "0.5"})
    assert Retention.of(settings) == Retention(50, 0.5)
    assert Retention.of(Settings.from_env({})) == Retention(1000, 7)
    assert not Retention.of(dataclasses.replace(settings, message_log_max=0)).enabled


def test_follow_tails_after_an_id(fresh):
    assert message_log.follow(fresh, fresh.keys, "CP1", after="0-0", block_ms=50) == []
    write(fresh, [call(1), call(2)])
    first = message_log.follow(fresh, fresh.keys, "CP1", after="0-0", block_ms=50)
    assert [m.message_id for m in first] == ["m1", "m2"]
    assert message_log.follow(fresh, fresh.keys, "CP1", after=first[-1].id, block_ms=50) == []
    write(fresh, [call(3)])
    assert [m.message_id for m in message_log.follow(fresh, fresh.keys, "CP1", after=first[-1].id)] == ["m3"]
    with pytest.raises(ValueError):
        message_log.follow(fresh, fresh.keys, "CP1", after="-")


def test_text_beyond_ascii_and_several_chargers_in_one_write(fresh):
    texts = ['[2,"u1","DataTransfer",{"vendorId":"été ✓ 充电"}]', '[3,"u1",{"status":"Accepted"}]']
    write(
        fresh,
        [
            Frame("CP1", "in", texts[0]),
            Frame("CP2", "in", '[2,"x","Heartbeat",{}]'),
            Frame("CP1", "out", texts[1], answers="DataTransfer"),
        ],
    )
    assert [m.frame for m in message_log.page(fresh, fresh.keys, "CP1")] == texts[::-1]
    assert [m.size for m in message_log.page(fresh, fresh.keys, "CP1")] == [len(t) for t in texts[::-1]]
    assert [m.message_id for m in message_log.page(fresh, fresh.keys, "CP2")] == ["x"]
