"""HMAC-SHA256 signatures of webhook requests, and their verification by receivers.

The sender signs ``f"{timestamp}.".encode() + body`` with the endpoint's secret and sends::

    LevelChat-Timestamp: 1795679831
    LevelChat-Signature: v1=<hex HMAC-SHA256>
    LevelChat-Event-Id: EV_01…      (the same id as in the body: dedupe on it)
    LevelChat-Event-Type: participant_joined

A receiver recomputes the HMAC over the raw body, compares in constant time, refuses timestamps outside the
replay window and (optionally) refuses a signature it has already accepted. Nothing here imports Django at
module level: ``verify_signature`` works in any Python receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

TIMESTAMP_HEADER = "LevelChat-Timestamp"
SIGNATURE_HEADER = "LevelChat-Signature"
EVENT_ID_HEADER = "LevelChat-Event-Id"
EVENT_TYPE_HEADER = "LevelChat-Event-Type"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(Exception):
    """The request is not a valid, fresh, first-seen webhook from the holder of the secret."""


def _mac(secret: str, timestamp: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The timestamp and signature headers for ``body`` (the sender's side)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: f"{SCHEME}={_mac(secret, ts, body)}"}


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; HTTP headers are not
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if not value:
        raise WebhookVerificationError(f"missing {name} header")
    return value


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
    seen: Callable[[str, int], bool] | None = None,
) -> dict[str, Any]:
    """Check a webhook request and return its decoded JSON body; raise ``WebhookVerificationError`` otherwise.

    ``body`` is the raw request body (bytes, before any JSON parsing), ``headers`` any case-insensitive or
    plain mapping. ``seen(signature, ttl)`` — optional replay store — must return True when the signature was
    already accepted within ``ttl`` seconds and remember it otherwise (e.g. Redis ``SET NX EX``).
    """
    raw_ts = _header(headers, TIMESTAMP_HEADER)
    if not (raw_ts.isascii() and raw_ts.isdigit()):
        raise WebhookVerificationError("malformed timestamp")
    ts = int(raw_ts)
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise WebhookVerificationError("timestamp outside the replay window")
    expected = _mac(secret, ts, body)
    offered = [
        part.split("=", 1)[1]
        for part in _header(headers, SIGNATURE_HEADER).split(",")
        if part.strip().startswith(f"{SCHEME}=")
    ]
    if not any(hmac.compare_digest(expected, sig.strip()) for sig in offered):
        raise WebhookVerificationError("bad signature")
    if seen is not None and seen(expected, tolerance * 2):
        raise WebhookVerificationError("replayed request")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise WebhookVerificationError("body is not JSON") from exc


def _django_cache_seen(signature: str, ttl: int) -> bool:
    from django.core.cache import cache

    return not cache.add(f"levelchat:webhook:{signature}", 1, timeout=ttl)


def verify(request: Any, secret: str, *, tolerance: int = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """Verify a Django ``HttpRequest`` and return the event; replays are caught with Django's default cache.

    Use a cache shared by all receiving processes (Redis, Memcached, database) so a replay to another process
    is caught too; the local-memory cache only protects one process.
    """
    return verify_signature(request.body, request.headers, secret, tolerance=tolerance, seen=_django_cache_seen)
