"""Settings: one place reads the environment; Redis URLs survive any password."""

import shutil
import subprocess
import time

import pytest
import redis
from kombu import Connection

from ocpp_worker.config import Settings
from ocpp_worker.state.store import Store
from tests.support.stack import free_port

PASSWORD = "p@ss/w:rd#?%"


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.redis_url == "redis://localhost:6379/0"


def test_password_and_user_are_quoted_and_tls_is_rediss():
    settings = Settings.from_env(
        {
            "REDIS_ADDR": "redis.example:6380",
            "REDIS_USERNAME": "csms",
            "REDIS_PASSWORD": PASSWORD,
            "REDIS_TLS": "1",
        }
    )
    url = settings.redis_url
    assert url.startswith("rediss://csms:") and url.endswith("@redis.example:6380/0?ssl_cert_reqs=required")
    kwargs = redis.connection.parse_url(url)
    assert (kwargs["username"], kwargs["password"], kwargs["host"], kwargs["port"]) == (
        "csms",
        PASSWORD,
        "redis.example",
        6380,
    )
    kombu = Connection(url)
    assert (kombu.userid, kombu.password, kombu.hostname, kombu.port) == (
        "csms",
        PASSWORD,
        "redis.example",
        6380,
    )


@pytest.mark.parametrize(
    ("given", "addr"),
    [("redis://h:7000/3", "h:7000"), ("h", "h:6379"), ("[::1]:7001", "[::1]:7001")],
)
def test_redis_addr_forms(given, addr):
    assert Settings.from_env({"REDIS_ADDR": given}).redis_addr == addr


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
@pytest.mark.timeout(20)
def test_connects_with_a_password_holding_at_slash_colon():
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--requirepass", PASSWORD],
        stdout=subprocess.DEVNULL,
    )
    try:
        settings = Settings(redis_addr=f"127.0.0.1:{port}", redis_password=PASSWORD)
        store = Store.connect(settings)
        deadline = time.monotonic() + 10
        while True:
            try:
                assert store.redis.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not come up"
                time.sleep(0.05)
        store.redis.set("k", "v")
        with Connection(settings.redis_url) as broker:  # what Celery's broker does with it
            broker.ensure_connection(max_retries=1)
        wrong = Settings(redis_addr=f"127.0.0.1:{port}", redis_password="p")
        with pytest.raises(redis.AuthenticationError):
            Store.connect(wrong).redis.ping()
    finally:
        server.terminate()
        server.wait(5)


def test_registration_policy_is_open_or_closed() -> None:
    assert Settings.from_env({}).registration == "open"
    assert Settings.from_env({"OCPP_REGISTRATION": " Closed "}).registration == "closed"
    with pytest.raises(ValueError, match="OCPP_REGISTRATION"):
        Settings.from_env({"OCPP_REGISTRATION": "maybe"})


def test_tls_and_ca_files_are_read() -> None:
    env = {"OCPP_TLS_CERT": "/c.pem", "OCPP_TLS_KEY": "/k.pem", "OCPP_TLS_CA": "/ca.pem"}
    settings = Settings.from_env({**env, "OCPP_CA_CERT": "/csms-ca.pem", "OCPP_CA_KEY": "/csms-ca.key"})
    assert (settings.tls_cert, settings.tls_key, settings.tls_ca) == ("/c.pem", "/k.pem", "/ca.pem")
    assert (settings.ca_cert, settings.ca_key) == ("/csms-ca.pem", "/csms-ca.key")
    assert Settings.from_env({}).tls_cert is None
