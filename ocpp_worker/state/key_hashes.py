"""AuthorizationKeys as salted, slow hashes: what we keep instead of the key.

A charger's AuthorizationKey is its HTTP Basic password (OCPP 1.6 security whitepaper,
profiles 1 and 2). We keep only ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash
in base64): a leaked Redis dump then costs an attacker one scrypt per guess per
charger. The parameters travel with each hash, so they can be raised later without
invalidating the keys already stored; `matches` bounds what it accepts, so a damaged
or planted record cannot make a gateway allocate gigabytes.

scrypt with n=2**14, r=8 takes 16 MiB and 50-130 ms of CPU: callers on an event loop run
`matches` in a thread (`gateway/admission.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets

N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
# What a stored hash may ask for (OpenSSL needs 128 * r * n bytes).
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
_MAXMEM = 256 * 1024 * 1024

# The whitepaper's AuthorizationKey is a password of at least 16 bytes; OCPP 2.0.1's
# passwordString, which the 1.6 security extension's chargers commonly share, is 16-40
# printable ASCII characters. We take 16-40 printable ASCII characters without space
# (a space at either end does not survive most configuration screens).
KEY_MIN, KEY_MAX = 16, 40
_KEY = re.compile(rf"[\x21-\x7e]{{{KEY_MIN},{KEY_MAX}}}")
# Generated keys are 20 random bytes written as 40 hexadecimal digits: the whitepaper's
# AuthorizationKey is "hexadecimal represented (20 bytes maximum, a string of up to 40
# hexadecimal digits)", so a strict charger accepts it in ChangeConfiguration, and it is
# printable ASCII for the chargers that use the configured string itself as password.
GENERATED_BYTES = 20


def check_key(key: object) -> str:
    """`key` if it is a valid AuthorizationKey, else ValueError saying why."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(
            f"an AuthorizationKey is {KEY_MIN}-{KEY_MAX} printable ASCII characters without spaces"
        )
    return key


def generate_key() -> str:
    """A random key that every charger accepts: 40 hexadecimal digits (160 bits)."""
    return secrets.token_hex(GENERATED_BYTES).upper()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAXMEM)


def hash_key(key: str) -> str:
    """The stored form of a (checked) key, with a fresh random salt."""
    salt = os.urandom(SALT_BYTES)
    digest = _derive(check_key(key).encode("ascii"), salt, N, R, P, HASH_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def matches(stored: str, password: str | bytes) -> bool:
    """Whether `password` is the key `stored` was made from (constant-time compare).
    False, never an exception, for a malformed or out-of-bounds `stored`."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return False
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
        return False
    if not salt or not 16 <= len(expected) <= 64:
        return False
    secret = password.encode("utf-8", "surrogatepass") if isinstance(password, str) else password
    return hmac.compare_digest(_derive(secret, salt, n, r, p, len(expected)), expected)
