"""`ocpp-csms`, the one CLI: click's CliRunner in this process against the real Redis
(this run's key prefix), real chargers over the real stack, and `messages --follow` as
a real subprocess stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from click.testing import CliRunner, Result

from ocpp_worker.cli import main
from ocpp_worker.state import chargepoints, idtags, message_log
from ocpp_worker.state.message_log import Frame, Retention
from tests.support.stack import FROM_A_TERMINAL, ROOT

RETAIN = Retention(1000, 7)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def log_frames(store, cp_id: str, *frames: tuple[str, str, str]) -> None:
    """Write frames into a charger's message log as the gateway does (state.message_log)."""
    pipe = store.redis.pipeline(transaction=False)
    message_log.add(pipe, store.keys, [Frame(cp_id, d, text, answers) for d, text, answers in frames], RETAIN)
    pipe.execute()


def test_help_prints_help_and_starts_nothing():
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("run", "idtag", "chargers", "messages", "simulate"):
        assert command in result.output
    result = cli("run", "--help")
    assert result.exit_code == 0 and "gateway|bridge" in result.output
    started = cli("run", "gateway", "--help")  # a gateway started here would never return
    assert started.exit_code == 0 and "Usage: main run" in started.output
    refused = cli("run", "worker")
    assert refused.exit_code == 2 and "gateway" in refused.output


def test_simulate_takes_the_simulators_own_options():
    result = cli("simulate", "--help")
    assert result.exit_code == 0
    assert "usage: ocpp-csms simulate" in result.output and "--meter-interval" in result.output
    assert cli("simulate", "--no-such-option").exit_code == 2


def test_simulate_boots_a_real_charger(stack, store, cp_id):
    result = cli("simulate", "--id", cp_id, "--url", stack.ws_url, "--exit")
    assert result.exit_code == 0, result.output
    info = chargepoints.get(store, cp_id)
    assert info is not None and info["registrationStatus"] == "Accepted"


def test_idtag_add_list_show_remove(store):
    tag = f"T-{uuid.uuid4().hex[:8]}"
    added = cli("idtag", "add", tag, "--status", "Blocked", "--expiry", "2031-01-01T01:00:00+01:00")
    assert added.exit_code == 0 and added.output == f"added {tag}: Blocked\n"
    assert idtags.get(store, tag) == {"status": "Blocked", "expiryDate": "2031-01-01T00:00:00.000Z"}
    assert tag in cli("idtag", "list").output.split()
    assert json.loads(cli("idtag", "show", tag).output)["status"] == "Blocked"
    assert cli("idtag", "add", tag).output == f"updated {tag}: Accepted\n"
    assert cli("idtag", "remove", tag).output == f"removed {tag}\n"
    assert idtags.get(store, tag) is None
    gone = cli("idtag", "remove", tag)
    assert gone.exit_code == 1 and "no such idTag" in gone.output
    assert cli("idtag", "add", "X" * 21).exit_code == 2
    assert cli("idtag", "add", tag, "--expiry", "next tuesday").exit_code == 2
    assert idtags.get(store, tag) is None


async def test_chargers_lists_connection_state(chargers, store, cp_id):
    await chargers.connect(cp_id)
    gone = f"{cp_id}-gone"
    cp = await chargers.connect(gone)
    await cp._connection.close()
    deadline = time.monotonic() + 10
    while gone in chargepoints.connected_ids(store) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)

    table = cli("chargers", "--limit", "10000")
    assert table.exit_code == 0
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert rows[cp_id][1] == "yes" and rows[gone][1] == "no"
    assert rows[cp_id][2] == "no"  # not stale: it just spoke
    assert rows[cp_id][3].endswith("Z")  # last seen
    listed = cli("chargers", "--json", "--connected", "--limit", "10000").stdout
    lines = [json.loads(line) for line in listed.splitlines()]
    ids = {line["id"] for line in lines}
    assert cp_id in ids and gone not in ids
    assert all(line["connected"] for line in lines)
    assert {"lastSeen", "stale", "staleSince"} <= set(lines[0])


def test_messages_prints_the_log_newest_last_and_filters_by_action(store, cp_id):
    log_frames(
        store,
        cp_id,
        ("in", '[2,"b1","BootNotification",{}]', ""),
        ("out", '[3,"b1",{"status":"Accepted"}]', "BootNotification"),
        ("in", '[2,"h1","Heartbeat",{}]', ""),
        ("out", '[3,"h1",{"currentTime":"x"}]', "Heartbeat"),
    )
    lines = cli("messages", cp_id).output.splitlines()
    assert [line.split()[1:4] for line in lines] == [
        ["in", "CALL", "BootNotification"],
        ["out", "CALLRESULT", "BootNotification"],
        ["in", "CALL", "Heartbeat"],
        ["out", "CALLRESULT", "Heartbeat"],
    ]
    assert lines[0].endswith('[2,"b1","BootNotification",{}]')
    assert len(cli("messages", cp_id, "--limit", "1").output.splitlines()) == 1
    heartbeats = cli("messages", cp_id, "--action", "Heartbeat").output.splitlines()
    assert [line.split()[1] for line in heartbeats] == ["in", "out"]
    assert cli("messages", "CP-never-seen").output == ""


@pytest.mark.timeout(30)
def test_messages_follow_tails_until_ctrl_c(store, cp_id):
    log_frames(store, cp_id, ("in", '[2,"old","Heartbeat",{}]', ""))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [*FROM_A_TERMINAL, sys.executable, "-m", "ocpp_worker.cli", "messages", cp_id, "--follow"]
    args += ["--action", "Heartbeat"]
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        assert '"old"' in process.stdout.readline()  # the log so far
        log_frames(
            store,
            cp_id,
            ("in", '[2,"s1","StatusNotification",{}]', ""),  # another action: left out
            ("in", '[2,"new","Heartbeat",{}]', ""),
        )
        followed = process.stdout.readline()  # blocks until the tail prints it (test timeout bounds it)
        assert '"new"' in followed and "Heartbeat" in followed
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
        rest, errors = process.communicate(timeout=5)
        assert "StatusNotification" not in rest
        assert "Traceback" not in errors and "Aborted" not in errors
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
