"""Capabilities: what a participant may do in a room.

A token carries a list of capability names; the signaling server enforces them on every message. Names are
``<namespace>:<action>``; ``<namespace>:*`` grants every action of the namespace (only ``publish:*`` is part
of the vocabulary today). The vocabulary is closed: an unknown name is an error, never silently ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from django_levelchat.exceptions import CapabilityError
from django_levelchat.protocol import (  # the wire vocabulary lives with the protocol
    CHAT_SEND,
    HAND_RAISE,
    PRESENCE_HIDDEN,
    PUBLISH_ALL,
    REACT_SEND,
    RECORD_CONTROL,
    ROOM_ADMIN,
    SOURCE_CAPABILITY,
    SUBSCRIBE_ALL,
    VOCABULARY,
)

HOST = "host"
PARTICIPANT = "participant"
VIEWER = "viewer"
BROADCASTER = "broadcaster"
RECORDER = "recorder"
ROLES = (HOST, PARTICIPANT, VIEWER, BROADCASTER, RECORDER)

DEFAULT_ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    HOST: frozenset({PUBLISH_ALL, SUBSCRIBE_ALL, CHAT_SEND, REACT_SEND, HAND_RAISE, RECORD_CONTROL, ROOM_ADMIN}),
    PARTICIPANT: frozenset({PUBLISH_ALL, SUBSCRIBE_ALL, CHAT_SEND, REACT_SEND, HAND_RAISE}),
    VIEWER: frozenset({SUBSCRIBE_ALL, CHAT_SEND}),
    BROADCASTER: frozenset({PUBLISH_ALL, SUBSCRIBE_ALL, CHAT_SEND, REACT_SEND, HAND_RAISE}),
    RECORDER: frozenset({SUBSCRIBE_ALL, PRESENCE_HIDDEN}),
}


def parse_capabilities(values: Iterable[str] | str) -> frozenset[str]:
    """Validate capability names (a list or a space/comma separated string) against the vocabulary."""
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    result: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise CapabilityError(f"Capability names are strings, got {type(value).__name__}.")
        name = value.strip()
        if name not in VOCABULARY:
            raise CapabilityError(f"Unknown capability {name!r}; known: {', '.join(sorted(VOCABULARY))}.")
        result.add(name)
    return _shared(frozenset(result))


@functools.lru_cache(maxsize=256)
def _shared(capabilities: frozenset[str]) -> frozenset[str]:
    """The first equal set seen: every token of a role carries the same set, held once per process, not once per
    socket (472 bytes each)."""
    return capabilities


def _matches(granted: str, required: str) -> bool:
    if granted == required:
        return True
    namespace, _, action = granted.partition(":")
    return action == "*" and required.startswith(namespace + ":")


def has_capability(granted: Iterable[str], required: str) -> bool:
    """True when ``required`` is granted directly or through a ``namespace:*`` wildcard."""
    return any(_matches(g, required) for g in granted)


def can_publish(granted: Iterable[str], source: str) -> bool:
    """True when the capabilities allow publishing a track of this source."""
    needed = SOURCE_CAPABILITY.get(source)
    return needed is not None and has_capability(granted, needed)


def expand(granted: Iterable[str]) -> frozenset[str]:
    """Every concrete (non-wildcard) capability that ``granted`` allows."""
    granted = tuple(granted)
    return frozenset(c for c in VOCABULARY if not c.endswith(":*") and has_capability(granted, c))


def within(requested: Iterable[str], ceiling: Iterable[str]) -> bool:
    """True when every requested capability is allowed by the ceiling (wildcards on both sides)."""
    return expand(requested) <= expand(ceiling)


def intersect(granted: Iterable[str], ceiling: Iterable[str]) -> frozenset[str]:
    """What ``granted`` allows that ``ceiling`` also allows, keeping a wildcard only where both sides allow all
    of it (``publish:*`` ∩ ``publish:mic`` = ``publish:mic``). The effective capabilities of a session are its
    token's (or the REST override's) intersected with its role's current ceiling."""
    return _intersect(frozenset(granted), frozenset(ceiling))


@functools.lru_cache(maxsize=1024)
def _intersect(granted: frozenset[str], ceiling: frozenset[str]) -> frozenset[str]:
    """Cached: every join computes it, sessions share a handful of (token, role) sets, and it costs ~0.3 ms."""
    return frozenset(c for c in granted if within([c], ceiling)) | frozenset(c for c in ceiling if within([c], granted))


def ensure_within(requested: Iterable[str], ceiling: Iterable[str], role: str) -> None:
    """Raise CapabilityError(``capability_ceiling``) naming what ``role`` may not be granted."""
    requested, ceiling = tuple(requested), tuple(ceiling)
    if not within(requested, ceiling):
        extra = sorted(expand(requested) - expand(ceiling))
        raise CapabilityError(f"Role {role!r} may not be granted: {', '.join(extra)}.", code="capability_ceiling")


def role_capabilities(role: str, overrides: Mapping[str, Iterable[str]] | None = None) -> frozenset[str]:
    """The capability set of a role: a policy/settings override if present, else the built-in default."""
    if overrides and role in overrides:
        return parse_capabilities(overrides[role])
    from django_levelchat.conf import levelchat_settings

    configured = levelchat_settings.ROLE_CAPABILITIES
    if role in configured:
        return parse_capabilities(configured[role])
    if role not in DEFAULT_ROLE_CAPABILITIES:
        raise CapabilityError(f"Unknown role {role!r}; known: {', '.join(ROLES)}.", code="bad_role")
    return DEFAULT_ROLE_CAPABILITIES[role]
