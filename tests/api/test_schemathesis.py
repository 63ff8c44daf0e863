"""Schemathesis over the app's own OpenAPI document: no generated request gets a 5xx.

Every operation gets valid (positive) and schema-breaking (negative) requests from a
fixed seed, through the WSGI app on a store of its own. Operations on a charger or a
transaction run twice: with generated ids (almost all unknown: 404) and with the ids of
a charger and a transaction seeded here, so the views behind the lookups are reached
too. No charger is connected, so calls answer 404 or 503 at once; a 5xx the operation
does not document (all but that 503) fails the test.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode

from api import create_app
from ocpp_worker import timeutil
from ocpp_worker.state import chargepoints, transactions
from ocpp_worker.state.store import Store
from tests.conftest import delete_prefix

SEED = 20261123
EXAMPLES = 12  # per operation, mode and set of ids: 53 operations, ~2,300 requests, 46 s here (20: 92 s)
KNOWN_CHARGER = "ST:known|charger@1"
SKIPPED = {"/health"}  # no input to vary, and each call waits 0.5 s for a worker ping


@pytest.fixture
def seeded_app(store: Store) -> Iterator[tuple[Flask, dict[str, Any]]]:
    """An app on a prefix of its own, with one known (offline) charger and one
    transaction with a meter sample."""
    prefix = f"{store.keys.prefix}schemathesis:"
    own = Store(store.redis, dataclasses.replace(store.settings, key_prefix=prefix))
    now = timeutil.iso(timeutil.utc_now())
    tx_id, _ = transactions.allocate_id(own, KNOWN_CHARGER, "schemathesis-start")
    pipe = own.redis.pipeline(transaction=True)
    chargepoints.touch(pipe, own.keys, KNOWN_CHARGER, now)
    transactions.start(own, pipe, tx_id, KNOWN_CHARGER, 1, {"idTag": "ST", "meterStart": 0, "startTime": now})
    pipe.execute()
    pipe = own.redis.pipeline(transaction=True)
    samples = transactions.flatten([{"timestamp": now, "sampledValue": [{"value": "10"}]}], now)
    transactions.add_samples(own, pipe, KNOWN_CHARGER, 1, tx_id, samples)
    pipe.execute()
    try:
        yield create_app(store=own, config={"API_TOKEN": None}), {"cp_id": KNOWN_CHARGER, "tx_id": tx_id}
    finally:
        delete_prefix(store, prefix)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_no_generated_request_gets_a_5xx(seeded_app):
    app, known = seeded_app
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    operations = 0
    started = time.monotonic()

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED:
            continue
        operations += 1
        seeded = {p.name: known[p.name] for p in operation.path_parameters if p.name in known}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for ids in [None, seeded] if seeded else [None]:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=ids)

                @seed(SEED)
                @settings(
                    max_examples=EXAMPLES,
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def send(case: schemathesis.Case) -> None:
                    response = case.call()
                    statuses[response.status_code] += 1
                    documented = case.operation.definition.raw["responses"]  # 503: a charger offline
                    if response.status_code >= 500 and str(response.status_code) not in documented:
                        server_errors.append(
                            f"{case.method} {case.formatted_path} {case.query} {case.body!r}"
                        )

                send()

    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    print(f"schemathesis: {operations} operations, {total} requests in {elapsed:.1f} s: {dict(statuses)}")
    assert operations >= 20 and total >= 800
    assert not server_errors, server_errors[:20]
