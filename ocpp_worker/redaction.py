"""Scrub secrets out of text that is about to be logged: the last line of defence.

No code of ours logs a token, a password, an ``Authorization`` header or an
AuthorizationKey on purpose. But a DEBUG frame log shows a ChangeConfiguration that
carries a new AuthorizationKey, an exception may print a URL with a password in it,
and libraries log what they like. So every line our handlers write passes through
`scrub` first (`logs.RedactSecrets`). What it replaces with ``[REDACTED]``:

* the value of an ``Authorization`` (or ``Proxy-Authorization``) header, and any
  ``Bearer``/``Basic`` credential;
* the ``value`` of an OCPP configuration entry whose ``key`` is ``AuthorizationKey``,
  in a frame as sent or escaped inside another string;
* ``password=``, ``token=``, ``secret=``... (``:`` too) and the password of a URL
  (``redis://user:password@host``);
* the exact secrets this process knows (API_TOKEN, REDIS_PASSWORD).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[REDACTED]"

_Q = r'\\*"'  # a JSON quote, possibly escaped (a frame inside a repr or another JSON string)
# A string's body, up to the quote that closes it (the one followed by , } or ]): an
# escaped quote inside the secret does not end it early. Bounded (an AuthorizationKey
# has at most 40 characters), so a large frame with many "value"s costs linear time.
_STRING = r"[^{}\r\n]{0,256}?"
_END = rf"{_Q}(?=\s*[,}}\]])"
# (words one of which the lowercased text must hold, pattern, replacement): the words
# are a cheap test that spares most lines every regex.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # "key":"AuthorizationKey", ..., "value":"<secret>" (ChangeConfiguration, GetConfiguration)
    (
        ("authorizationkey",),
        re.compile(
            rf"({_Q}key{_Q}\s*:\s*{_Q}AuthorizationKey{_Q}[^{{}}]*?{_Q}value{_Q}\s*:\s*{_Q}){_STRING}({_END})"
        ),
        rf"\1{MASK}\2",
    ),
    # "value":"<secret>", ..., "key":"AuthorizationKey"
    (
        ("authorizationkey",),
        re.compile(
            rf"({_Q}value{_Q}\s*:\s*{_Q}){_STRING}({_END}[^{{}}]*?{_Q}key{_Q}\s*:\s*{_Q}AuthorizationKey{_Q})"
        ),
        rf"\1{MASK}\2",
    ),
    # Authorization: <anything up to the end of the header value>
    (
        ("authorization",),
        re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*['"]?)[^'"\r\n,}]+"""),
        rf"\1{MASK}",
    ),
    # Bearer <token> / Basic <base64> anywhere (a token has a digit, capital or symbol,
    # so the words of "Basic authentication required" stay)
    (
        ("bearer", "basic"),
        re.compile(r"\b((?i:bearer|basic)\s+)(?=[^\s]*[0-9A-Z+/=._~-])[A-Za-z0-9._~+/-]{6,}=*"),
        rf"\1{MASK}",
    ),
    # password=..., token: ..., api_token=..., AuthorizationKey=...
    (
        ("pass", "pwd", "secret", "token", "key", "basic"),
        re.compile(
            r"""(?i)\b((?:password|passwd|pwd|secret|token|api[_-]?token|api[_-]?key|"""
            r"""authorization[_-]?key|requirepass|basic[_-]?auth)['"]?\s*[=:]\s*['"]?)[^\s'",;&}]+"""
        ),
        rf"\1{MASK}",
    ),
    # scheme://user:password@host
    (("://",), re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), rf"\1{MASK}@"),
)

# Any of the words above: most lines hold none and cost one scan.
_ANY_WORD = re.compile("|".join(re.escape(word) for words, _, _ in _PATTERNS for word in words))

# Exact secrets shorter than this are not searched for: they would mask ordinary words.
MIN_SECRET_CHARS = 6


class Scrubber:
    """`scrub(text)` with the patterns above and this process's own secrets."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # longest first, so a secret that contains another is masked whole
        known = {s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}
        self.secrets = sorted(known, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        lowered = text.lower()
        if _ANY_WORD.search(lowered) is None:
            return text
        for words, pattern, replacement in _PATTERNS:
            if any(word in lowered for word in words):
                text = pattern.sub(replacement, text)
        return text
