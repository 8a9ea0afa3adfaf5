"""Public identifiers: prefixed random strings, never database integers.

Participant ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32) so they sort by
creation time across processes and machines: the mesh uses "lower id offers".
"""

from __future__ import annotations

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def ulid(now_ms: int | None = None) -> str:
    """A 26-character ULID; lexicographic order follows creation time (ms resolution)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def random_id(prefix: str, length: int = 20) -> str:
    """``prefix`` + ``length`` random base62 characters (~119 bits for 20)."""
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(length))


def new_room_id() -> str:
    return random_id("RM_")


def new_participant_id() -> str:
    return "PA_" + ulid()


def new_recording_id() -> str:
    return random_id("RC_")


def new_recording_file_id() -> str:
    return random_id("RF_")


def new_message_id() -> str:
    return "CM_" + ulid()


def new_webhook_id() -> str:
    return random_id("WH_")


def new_event_id() -> str:
    """Event ids sort by creation time, so a receiver can order and dedupe by them."""
    return "EV_" + ulid()
