"""Firmware, diagnostics and log jobs through the API with real chargers: the call, the
charger's answer, the status notifications that move the job, and every failure."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import envelope_of, eventually, ok

FIRMWARE = {"location": "https://fw.example/cp-2.0.bin", "retrieveDate": "2030-01-01T00:00:00Z", "retries": 2}
SIGNED = {
    "location": "https://fw.example/cp-2.1.bin",
    "retrieveDateTime": "2030-01-01T00:00:00Z",
    "signingCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "signature": "c2lnbmF0dXJl",
}


def url(cp_id: str, tail: str) -> str:
    return f"/api/v1/chargepoints/{cp_id}/{tail}"


async def job_reaches(api: Any, cp_id: str, job_id: int, status: str) -> dict[str, Any]:
    """The job once its status is `status` (the notifications come after the answer)."""

    async def reached() -> dict[str, Any] | None:
        [job] = [j for j in ok(await api.get(url(cp_id, "jobs")))["items"] if j["id"] == job_id]
        return job if job["status"] == status else None

    job = await eventually(reached, timeout=10)
    assert job, f"job {job_id} never reached {status}"
    return job


async def test_firmware_job_follows_the_status_notifications(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    job = ok(await api.post(url(cp_id, "firmware"), json=FIRMWARE), 201)
    assert job["kind"] == "firmware"
    assert job["request"] == {
        "location": FIRMWARE["location"],
        "retrieveDate": "2030-01-01T00:00:00.000Z",  # as every time we send: UTC, ms
        "retries": 2,
    }
    assert job["answer"] == {}
    sent = {"location": FIRMWARE["location"], "retrieve_date": "2030-01-01T00:00:00.000Z"}
    assert ("UpdateFirmware", sent) in cp.received
    done = await job_reaches(api, cp_id, job["id"], "Installed")
    statuses = [h["status"] for h in done["history"]]
    assert statuses == ["Requested", "Accepted", "Downloading", "Downloaded", "Installing", "Installed"]
    assert all(h["at"].endswith("Z") for h in done["history"])
    # the latest-status record keeps working beside the job
    assert ok(await api.get(url(cp_id, "firmware")))["status"] == "Installed"


async def test_diagnostics_job_keeps_the_file_name_and_jobs_list_newest_first(api, chargers, cp_id):
    await chargers.connect(cp_id, connectors=0)
    first = ok(await api.post(url(cp_id, "diagnostics"), json={"location": "ftp://logs.example/"}), 201)
    assert first["answer"] == {"fileName": f"diagnostics-{cp_id}.zip"}
    await job_reaches(api, cp_id, first["id"], "Uploaded")
    second = ok(await api.post(url(cp_id, "firmware"), json=FIRMWARE), 201)
    await job_reaches(api, cp_id, second["id"], "Installed")

    listed = ok(await api.get(url(cp_id, "jobs")))
    assert [j["id"] for j in listed["items"]] == [second["id"], first["id"]] and listed["total"] == 2
    only = ok(await api.get(url(cp_id, "jobs?kind=diagnostics")))
    assert [j["id"] for j in only["items"]] == [first["id"]]
    # the firmware notifications went to the firmware job only
    assert [h["status"] for h in only["items"][0]["history"]] == [
        "Requested",
        "Accepted",
        "Uploading",
        "Uploaded",
    ]
    envelope_of(await api.get(url(cp_id, "jobs?kind=reboot")), 400)


async def test_signed_firmware_and_log_jobs_are_followed_by_request_id(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    signed = ok(await api.post(url(cp_id, "signed-firmware"), json=SIGNED), 201)
    assert signed["request"]["requestId"] == signed["id"]
    assert signed["request"]["firmware"]["location"] == SIGNED["location"]
    log = ok(
        await api.post(
            url(cp_id, "logs"), json={"logType": "SecurityLog", "remoteLocation": "https://up.example/"}
        ),
        201,
    )
    assert log["request"] == {
        "logType": "SecurityLog",
        "requestId": log["id"],
        "log": {"remoteLocation": "https://up.example/"},
    }
    assert log["answer"] == {"status": "Accepted", "filename": f"SecurityLog-{log['id']}.log"}
    done = await job_reaches(api, cp_id, signed["id"], "Installed")
    assert "SignatureVerified" in [h["status"] for h in done["history"]]
    await job_reaches(api, cp_id, log["id"], "Uploaded")

    cp.answers["GetLog"] = "Rejected"
    refused = ok(
        await api.post(
            url(cp_id, "logs"), json={"logType": "DiagnosticsLog", "remoteLocation": "https://up.example/"}
        ),
        201,
    )
    assert refused["status"] == "Rejected" and refused["answer"] == {"status": "Rejected"}


async def test_callerror_is_502_and_offline_is_503_without_a_job(api, chargers, cp_id):
    cp = await chargers.connect(cp_id, connectors=0)
    kept = ok(await api.post(url(cp_id, "firmware"), json=FIRMWARE), 201)
    await job_reaches(api, cp_id, kept["id"], "Installed")

    cp.answers["UpdateFirmware"] = "CALLERROR"
    envelope_of(await api.post(url(cp_id, "firmware"), json=FIRMWARE), 502)
    cp.answers["GetDiagnostics"] = "CALLERROR"
    envelope_of(await api.post(url(cp_id, "diagnostics"), json={"location": "ftp://logs.example/"}), 502)
    assert [j["id"] for j in ok(await api.get(url(cp_id, "jobs")))["items"]] == [kept["id"]]

    await cp._connection.close()

    async def offline() -> bool:
        return not ok(await api.get(f"/api/v1/chargepoints/{cp_id}"))["connected"]

    assert await eventually(offline)
    envelope_of(
        await api.post(url(cp_id, "logs"), json={"logType": "SecurityLog", "remoteLocation": "x:y"}), 503
    )
    envelope_of(await api.post(url(cp_id, "signed-firmware"), json=SIGNED), 503)
    assert [j["id"] for j in ok(await api.get(url(cp_id, "jobs")))["items"]] == [kept["id"]]


async def test_bad_bodies_and_unknown_chargers(api, chargers, cp_id):
    await chargers.connect(cp_id, connectors=0)
    envelope_of(await api.post(url(cp_id, "firmware"), json={"location": "x:y"}), 400)
    envelope_of(await api.post(url(cp_id, "firmware"), json={**FIRMWARE, "retries": -1}), 400)
    envelope_of(await api.post(url(cp_id, "logs"), json={"logType": "Other", "remoteLocation": "x:y"}), 400)
    assert ok(await api.get(url(cp_id, "jobs")))["items"] == []
    envelope_of(await api.post(url("NO-SUCH-CP", "firmware"), json=FIRMWARE), 404)
    envelope_of(await api.get(url("NO-SUCH-CP", "jobs")), 404)
