"""Charger registrations, AuthorizationKeys and security events against the real Redis."""

from __future__ import annotations

import json

import pytest

from ocpp_worker.handlers import answer
from ocpp_worker.state import key_hashes, registrations
from ocpp_worker.state.registrations import GatewayEvent

KEY = "correct-horse-battery-1"
NEW_KEY = "Another-Key-0123456789"


def register(store, cp_id="CP1", **fields):
    record, _ = registrations.put(store, store.keys, cp_id, **fields)
    return record


def keys_of(store, cp_id):
    """Every key under the store's prefix that names this charger."""
    tag = store.keys.registration(cp_id).rsplit(":", 1)[-1]
    return sorted(k for k in store.redis.scan_iter(match=f"{store.keys.prefix}*") if tag in k)


# -- records ----------------------------------------------------------------------------


def test_put_creates_then_updates_keeping_creation_time(fresh):
    first, created = registrations.put(fresh, fresh.keys, "CP1", description="hall", security_profile=1)
    assert created
    assert (first.description, first.security_profile, first.enabled, first.boot_status) == (
        "hall",
        1,
        True,
        "Accepted",
    )
    assert first.created_at.endswith("Z") and not first.has_key
    second, created = registrations.put(
        fresh, fresh.keys, "CP1", description="yard", security_profile=2, enabled=False, boot_status="Pending"
    )
    assert not created
    assert second.created_at == first.created_at
    assert (second.description, second.security_profile, second.enabled, second.boot_status) == (
        "yard",
        2,
        False,
        "Pending",
    )
    assert registrations.get(fresh, fresh.keys, "CP1") == second
    assert registrations.get(fresh.redis, fresh.keys, "CP1") == second  # the bare client works too
    assert registrations.get(fresh, fresh.keys, "CP2") is None


@pytest.mark.parametrize(
    "fields",
    [
        {"security_profile": 4},
        {"security_profile": -1},
        {"security_profile": True},
        {"security_profile": "1"},
        {"boot_status": "Rejected"},
        {"enabled": 1},
        {"description": "x" * 501},
        {"description": "\udfff"},
    ],
)
def test_put_refuses_values_out_of_range(fresh, fields):
    with pytest.raises(ValueError):
        registrations.put(fresh, fresh.keys, "CP1", **fields)
    assert registrations.get(fresh, fresh.keys, "CP1") is None


def test_odd_ids_stay_in_their_own_keys(fresh):
    register(fresh, "VICTIM", description="victim")
    for odd in ("VICTIM}", "{VICTIM}", "VICTIM:x", "VICTIM%7D"):
        register(fresh, odd, description=odd)
    assert registrations.get(fresh, fresh.keys, "VICTIM").description == "victim"
    assert [r.cp_id for r in registrations.list_page(fresh, fresh.keys, 10)] == sorted(
        ["VICTIM", "VICTIM}", "{VICTIM}", "VICTIM:x", "VICTIM%7D"]
    )


def test_list_page_is_sorted_and_cursor_paged(fresh):
    ids = [f"CP{i:02d}" for i in range(7)]
    for cp_id in reversed(ids):
        register(fresh, cp_id)
    pages, after = [], None
    while page := registrations.list_page(fresh, fresh.keys, 3, after):
        pages.append([r.cp_id for r in page])
        after = page[-1].cp_id
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    assert registrations.list_page(fresh, fresh.keys, 0) == []


def test_delete_removes_record_keys_and_rotation(fresh):
    register(fresh, "CP1", security_profile=1)
    registrations.set_key(fresh, fresh.keys, "CP1", KEY)
    registrations.stage_rotation(fresh, fresh.keys, "CP1", NEW_KEY)
    assert registrations.delete(fresh, fresh.keys, "CP1")
    assert keys_of(fresh, "CP1") == []
    assert registrations.list_page(fresh, fresh.keys, 10) == []
    assert not registrations.delete(fresh, fresh.keys, "CP1")
    assert not registrations.verify_key(fresh, fresh.keys, "CP1", KEY)


# -- keys -------------------------------------------------------------------------------


def test_generated_keys_are_valid_random_and_the_whitepapers_hex_form():
    generated = {registrations.generate_key() for _ in range(50)}
    assert len(generated) == 50
    for key in generated:
        assert len(key) == 40 and len(bytes.fromhex(key)) == 20  # 20 bytes, 40 hex digits
        assert key_hashes.check_key(key) == key


@pytest.mark.parametrize(
    "key", ["x" * 15, "x" * 41, "sixteen chars ok", "ключ" * 5, "", None, 12345678901234567]
)
def test_keys_outside_the_rules_are_refused(fresh, key):
    register(fresh)
    with pytest.raises(ValueError):
        registrations.set_key(fresh, fresh.keys, "CP1", key)
    assert not registrations.get(fresh, fresh.keys, "CP1").has_key


def test_a_key_needs_a_registration(fresh):
    with pytest.raises(LookupError):
        registrations.set_key(fresh, fresh.keys, "NOBODY", KEY)
    with pytest.raises(LookupError):
        registrations.stage_rotation(fresh, fresh.keys, "NOBODY", KEY)
    assert keys_of(fresh, "NOBODY") == []


def test_only_a_salted_scrypt_hash_is_stored(fresh):
    register(fresh, "A")
    register(fresh, "B")
    registrations.set_key(fresh, fresh.keys, "A", KEY)
    registrations.set_key(fresh, fresh.keys, "B", KEY)
    stored_a = fresh.redis.hget(fresh.keys.credentials("A"), "key")
    stored_b = fresh.redis.hget(fresh.keys.credentials("B"), "key")
    assert stored_a.startswith("scrypt$16384$8$1$") and stored_a != stored_b  # salted
    for key in fresh.redis.scan_iter(match=f"{fresh.keys.prefix}*"):
        kind = fresh.redis.type(key)
        dump = json.dumps(fresh.redis.hgetall(key) if kind == "hash" else fresh.redis.zrange(key, 0, -1))
        assert KEY not in dump


def test_verify_key(fresh):
    register(fresh, security_profile=1)
    assert not registrations.verify_key(fresh, fresh.keys, "CP1", KEY)  # no key yet
    registrations.set_key(fresh, fresh.keys, "CP1", KEY)
    record = registrations.get(fresh, fresh.keys, "CP1")
    assert record.has_key and record.key_version
    assert registrations.verify_key(fresh, fresh.keys, "CP1", KEY)
    assert registrations.verify_key(fresh, fresh.keys, "CP1", KEY.encode())
    for wrong in (KEY.upper(), KEY[:-1], KEY + "x", "", "\udfff" * 20, b"\xff" * 20):
        assert not registrations.verify_key(fresh, fresh.keys, "CP1", wrong)
    assert not registrations.verify_key(fresh, fresh.keys, "CP2", KEY)


def test_rotation_old_key_valid_until_the_new_one_is_used(fresh):
    register(fresh, security_profile=1)
    registrations.set_key(fresh, fresh.keys, "CP1", KEY)
    version = registrations.get(fresh, fresh.keys, "CP1").key_version
    registrations.stage_rotation(fresh, fresh.keys, "CP1", NEW_KEY)
    staged_version = registrations.get(fresh, fresh.keys, "CP1").key_version
    assert staged_version != version  # caches of refusals must not outlive the staging
    assert registrations.verify_key(fresh, fresh.keys, "CP1", KEY)  # old key still good
    assert registrations.verify_key(fresh, fresh.keys, "CP1", KEY)
    assert registrations.verify_key(fresh, fresh.keys, "CP1", NEW_KEY)  # promotes it
    assert registrations.get(fresh, fresh.keys, "CP1").key_version not in (version, staged_version)
    assert not registrations.verify_key(fresh, fresh.keys, "CP1", KEY)  # the old key is gone
    assert registrations.verify_key(fresh, fresh.keys, "CP1", NEW_KEY)
    assert fresh.redis.hget(fresh.keys.credentials("CP1"), "staged") is None
    kinds = [e.kind for e in registrations.events_page(fresh, fresh.keys, "CP1", 10)]
    assert kinds == [GatewayEvent.AUTHORIZATION_KEY_ROTATED]


def test_setting_a_key_drops_a_pending_rotation(fresh):
    register(fresh)
    registrations.set_key(fresh, fresh.keys, "CP1", KEY)
    registrations.stage_rotation(fresh, fresh.keys, "CP1", NEW_KEY)
    registrations.set_key(fresh, fresh.keys, "CP1", "third-key-abcdefgh")
    assert not registrations.verify_key(fresh, fresh.keys, "CP1", NEW_KEY)
    assert not registrations.verify_key(fresh, fresh.keys, "CP1", KEY)
    assert registrations.verify_key(fresh, fresh.keys, "CP1", "third-key-abcdefgh")


def test_staging_without_a_key_sets_the_key(fresh):
    register(fresh)
    registrations.stage_rotation(fresh, fresh.keys, "CP1", NEW_KEY)
    assert registrations.get(fresh, fresh.keys, "CP1").has_key
    assert fresh.redis.hget(fresh.keys.credentials("CP1"), "staged") is None
    assert registrations.verify_key(fresh, fresh.keys, "CP1", NEW_KEY)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text-key-1234",
        "scrypt$16384$8$1$bad base64$AAAA",
        "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,  # n = 2**30: refused, not run
        "scrypt$16385$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,  # not a power of two
        "scrypt$16384$8$1$$" + "A" * 44,  # no salt
        "md5$1$2$3$4$5",
    ],
)
def test_malformed_stored_hashes_never_match(stored):
    assert not key_hashes.matches(stored, "plain-text-key-1234")


def test_hash_parameters_travel_with_the_hash():
    stored = "scrypt$1024$1$1$c2FsdHNhbHRzYWx0c2FsdA==$"
    import base64
    import hashlib

    digest = hashlib.scrypt(KEY.encode(), salt=b"saltsaltsaltsalt", n=1024, r=1, p=1, dklen=32)
    assert key_hashes.matches(stored + base64.b64encode(digest).decode(), KEY)


# -- security events --------------------------------------------------------------------


def test_events_newest_first_cursor_paged_and_counted(fresh):
    for i in range(5):
        registrations.record_event(fresh, fresh.keys, "CP1", "InvalidBasicAuth", f"try {i}", f"t{i}")
    registrations.record_event(fresh, fresh.keys, "CP1", "VendorSpecificThing", "x" * 5000, "t5")
    first = registrations.events_page(fresh, fresh.keys, "CP1", 4)
    assert [e.detail for e in first][1:] == ["try 4", "try 3", "try 2"]
    assert first[0].kind == "VendorSpecificThing" and len(first[0].detail) == registrations.DETAIL_MAX
    assert first[0].source == "gateway" and first[0].received_at.endswith("Z")
    rest = registrations.events_page(fresh, fresh.keys, "CP1", 4, before=first[-1].id)
    assert [e.detail for e in rest] == ["try 1", "try 0"]
    assert registrations.event_counts(fresh, fresh.keys, "CP1") == {"InvalidBasicAuth": 5, "Other": 1}
    assert registrations.events_page(fresh, fresh.keys, "CP2", 10) == []
    with pytest.raises(ValueError):
        registrations.events_page(fresh, fresh.keys, "CP1", 10, before="+")


def test_events_are_capped_but_counts_are_not(fresh):
    pipe = fresh.redis.pipeline(transaction=False)
    total = registrations.EVENTS_KEPT + 20
    for i in range(total):
        registrations.queue_event(pipe, fresh.keys, "CP1", "ResetOrReboot", str(i), "t")
    pipe.execute()
    assert fresh.redis.xlen(fresh.keys.security_events("CP1")) == registrations.EVENTS_KEPT
    newest = registrations.events_page(fresh, fresh.keys, "CP1", 1)
    assert newest[0].detail == str(total - 1)
    assert registrations.event_counts(fresh, fresh.keys, "CP1") == {"ResetOrReboot": total}


def test_events_of_unregistered_ids_expire(fresh):
    registrations.record_event(
        fresh,
        fresh.keys,
        "STRANGER",
        "UnknownChargePoint",
        "",
        "t",
        expire_after=registrations.UNREGISTERED_EVENTS_TTL_S,
    )
    for key in (fresh.keys.security_events("STRANGER"), fresh.keys.security_event_counts("STRANGER")):
        assert 0 < fresh.redis.ttl(key) <= registrations.UNREGISTERED_EVENTS_TTL_S


def test_security_event_notification_is_recorded_with_ours(fresh):
    payload = {
        "type": "TamperDetectionActivated",
        "timestamp": "2026-01-01T01:00:00+01:00",
        "techInfo": "lid",
    }
    answer(fresh, "CP1", "m1", "SecurityEventNotification", payload)
    (event,) = registrations.events_page(fresh, fresh.keys, "CP1", 10)
    assert (event.kind, event.detail, event.at, event.source) == (
        "TamperDetectionActivated",
        "lid",
        "2026-01-01T00:00:00.000Z",
        "charger",
    )
    assert registrations.event_counts(fresh, fresh.keys, "CP1") == {"TamperDetectionActivated": 1}


def test_a_withdrawn_rotation_leaves_only_the_current_key(fresh):
    register(fresh, security_profile=1)
    registrations.set_key(fresh, fresh.keys, "CP1", KEY)
    registrations.stage_rotation(fresh, fresh.keys, "CP1", NEW_KEY)
    assert not registrations.withdraw_rotation(fresh, fresh.keys, "CP1", "another-key-0123456")
    assert registrations.withdraw_rotation(fresh, fresh.keys, "CP1", NEW_KEY)
    assert not registrations.verify_key(fresh, fresh.keys, "CP1", NEW_KEY)
    assert registrations.verify_key(fresh, fresh.keys, "CP1", KEY)
    assert not registrations.withdraw_rotation(fresh, fresh.keys, "CP1", NEW_KEY)  # nothing staged
