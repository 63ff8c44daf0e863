"""SignCertificate with a CSMS CA configured, end to end: a charger sends a CSR made
here; the worker checks and signs it; the charger gets SignCertificate.conf Accepted,
then CertificateSigned carrying a certificate that verifies against the CA. A CSR in
another charger's name is Rejected and a security event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import websockets
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ocpp.v16 import call

from ocpp_worker.handlers.security import CSR_REJECTED
from ocpp_worker.simulate import SimulatedChargePoint, connect_options
from ocpp_worker.state import registrations
from ocpp_worker.state.store import Store
from tests.support import pki
from tests.support.stack import Stack, private_stack


class RecordingChargePoint(SimulatedChargePoint):
    """Notes every frame it receives, in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: list[list[Any]] = []

    async def route_message(self, raw: str) -> None:
        self.frames.append(json.loads(raw))
        await super().route_message(raw)


@pytest.fixture(scope="module")
def ca() -> pki.Ca:
    return pki.Ca.create("CSMS test CA")


@pytest.fixture(scope="module")
def ca_stack(ca: pki.Ca, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Store]]:
    """Gateway, bridge and a worker whose settings name the CA."""
    directory = tmp_path_factory.mktemp("csms-ca")
    cert, key = pki.Files(directory).cert_and_key("ca", ca.key, ca.cert)
    with private_stack(directory, {"OCPP_CA_CERT": cert, "OCPP_CA_KEY": key}) as stack_and_store:
        yield stack_and_store


@contextlib.asynccontextmanager
async def charger(stack: Stack, cp_id: str) -> AsyncIterator[RecordingChargePoint]:
    url = f"{stack.ws_url}/{cp_id}"
    async with websockets.connect(url, **connect_options(url, cp_id)) as ws:
        cp = RecordingChargePoint(cp_id, ws, response_timeout=15)
        listener = asyncio.create_task(cp.start())
        try:
            await cp.boot()
            yield cp
        finally:
            listener.cancel()


async def certificate_signed(cp: SimulatedChargePoint, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for action, fields in cp.received:
            if action == "CertificateSigned":
                return str(fields["certificate_chain"])
        await asyncio.sleep(0.05)
    return None


@pytest.mark.timeout(60)
async def test_a_good_csr_comes_back_signed_by_the_ca(ca, ca_stack):
    stack, store = ca_stack
    cp_id = f"CP-sign-{uuid.uuid4().hex[:6]}"
    key = pki.ec_key()
    async with charger(stack, cp_id) as cp:
        reply = await cp.call(call.SignCertificate(csr=pki.csr_pem(cp_id, key)))
        assert reply.status == "Accepted"
        chain_pem = await certificate_signed(cp, timeout=10)
        assert chain_pem is not None, "no CertificateSigned within 10 s"
        # the SignCertificate reply (the charger's last CALL's CALLRESULT) first, then our CALL
        assert [frame[0] for frame in cp.frames][-2:] == [3, 2]
        assert cp.frames[-1][2] == "CertificateSigned"
    leaf, ca_cert = x509.load_pem_x509_certificates(chain_pem.encode())
    assert ca_cert == ca.cert
    leaf.verify_directly_issued_by(ca.cert)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cp_id
    assert leaf.public_key() == key.public_key()
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    record = json.loads(store.redis.lindex(store.keys.csrs(cp_id), -1) or "{}")
    assert record["status"] == "Signed" and record["serialNumber"] == f"{leaf.serial_number:x}"


@pytest.mark.timeout(60)
async def test_a_csr_in_another_name_is_rejected(ca_stack):
    stack, store = ca_stack
    cp_id = f"CP-sign-{uuid.uuid4().hex[:6]}"
    async with charger(stack, cp_id) as cp:
        reply = await cp.call(call.SignCertificate(csr=pki.csr_pem("CP-someone-else")))
        assert reply.status == "Rejected"
        assert await certificate_signed(cp, timeout=1.5) is None
    (event,) = registrations.events_page(store, store.keys, cp_id, 10)
    assert event.kind == CSR_REJECTED and "CP-someone-else" in event.detail
    assert registrations.event_counts(store, store.keys, cp_id) == {"CsrRejected": 1}  # named, not "Other"
    record = json.loads(store.redis.lindex(store.keys.csrs(cp_id), -1) or "{}")
    assert record["status"] == "Rejected"
