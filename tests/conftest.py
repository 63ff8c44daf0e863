"""Test fixtures: everything real.

* Redis: the server at REDIS_ADDR (default localhost:6379); this run's keys live under
  a fresh prefix, deleted at the end.
* Celery: pytest-celery's `celery_session_worker` (an in-process worker thread on the
  real Redis broker) running our real app and tasks.
* Gateway and bridge: real subprocesses (`python -m ocpp_worker.gateway|bridge`).
* Chargers: `ocpp` package ChargePoints over WebSockets.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, free_port

# Settings are read once per process, so set this run's before anything imports them.
PREFIX = f"ocpptest-{uuid.uuid4().hex[:10]}:"
os.environ["OCPP_KEY_PREFIX"] = PREFIX
os.environ["OCPP_WS_PORT"] = str(free_port())
os.environ.setdefault("REDIS_ADDR", "localhost:6379")
# No GetConfiguration after a charger's first boot: the tests set stored configuration
# right after connecting. tests/api/test_configuration_sync.py runs a stack with it on.
os.environ.setdefault("OCPP_SYNC_CONFIG_ON_BOOT", "0")
# This run's session archive: a SQLite file of its own (tests/support/archive.py has
# PostgreSQL for the tests that run on both).
ARCHIVE_DIR = tempfile.mkdtemp(prefix="ocpptest-archive-")
atexit.register(shutil.rmtree, ARCHIVE_DIR, True)
os.environ["DATABASE_URL"] = f"sqlite:///{ARCHIVE_DIR}/archive.sqlite3"

from ocpp_worker.celery_app import app as ocpp_app  # noqa: E402
from ocpp_worker.config import get_settings  # noqa: E402
from ocpp_worker.state.store import Store  # noqa: E402
from tests.support.chargers import ChargerFactory  # noqa: E402


def delete_prefix(store: Store, prefix: str) -> None:
    keys = list(store.redis.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        store.redis.delete(*keys[i : i + 500])


@pytest.fixture(scope="session")
def store() -> Iterator[Store]:
    s = Store.connect(get_settings())
    s.redis.ping()
    yield s
    delete_prefix(s, PREFIX)


@pytest.fixture(scope="session")
def celery_session_app():  # type: ignore[no-untyped-def]
    """Our real app (not a test app), so the worker runs the real ocpp.v16.* tasks."""
    import ocpp_worker.tasks  # noqa: F401  (registers the tasks)

    return ocpp_app


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict[str, object]:
    return {
        "queues": ["ocpp", "ocpp.metering", "ocpp.archive"],
        "perform_ping_check": False,
        "concurrency": 1,
    }


@pytest.fixture(scope="session", autouse=True)
def archive_schema() -> Iterator[None]:
    """This run's archive (`ARCHIVE_DIR`), migrated to the newest schema."""
    from ocpp_worker.archive import migrate

    migrate.upgrade(get_settings())
    yield


@pytest.fixture(scope="session")
def stack(store: Store, celery_session_worker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """Gateway + bridge subprocesses on this run's prefix, served by the session worker."""
    s = Stack(PREFIX, Path(tmp_path_factory.mktemp("stack")), ws_port=int(os.environ["OCPP_WS_PORT"]))
    try:
        s.start_gateway()
        s.start_bridge()
        yield s
    finally:
        s.stop()


@pytest.fixture
async def chargers(stack: Stack) -> AsyncIterator[ChargerFactory]:
    factory = ChargerFactory(stack.ws_url)
    yield factory
    await factory.close_all()


@pytest.fixture
def cp_id(request: pytest.FixtureRequest) -> str:
    """A charger id unique to the test (only characters a charger id may hold)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name[5:25])
    return f"CP-{name}-{uuid.uuid4().hex[:6]}"
