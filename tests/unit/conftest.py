"""Unit tests run against the real Redis, each on an empty key prefix of its own."""

import dataclasses
import uuid

import pytest

from ocpp_worker.config import get_settings
from ocpp_worker.state.store import Store
from tests.conftest import delete_prefix


@pytest.fixture
def fresh():
    """A store on an empty prefix of its own, deleted after the test."""
    prefix = f"ocpptest-unit-{uuid.uuid4().hex[:8]}:"
    store = Store.connect(dataclasses.replace(get_settings(), key_prefix=prefix))
    yield store
    delete_prefix(store, prefix)
