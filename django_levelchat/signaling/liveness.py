"""Heartbeats of this process's sockets, written to presence in batches.

A socket that is heard from (any frame) is marked here, at most once per ``PING_TIMEOUT / 3``; the janitor's
loop writes every mark of the process in one presence call per ``SWEEP_INTERVAL`` (one Redis round trip however
many sockets pinged). A live socket's recorded time therefore trails by at most a ping interval plus one sweep
interval, well inside ``PING_TIMEOUT``. A session whose entry turned out to be gone (Redis restarted empty) is
handed back to its consumer to restore.

Each flush also writes the process's *progress* mark: the time up to which its event loop has handled every frame
its sockets sent. Silence is judged against it (``presence.overdue``), so a loop seconds behind its sockets makes
the janitor wait for it instead of timing out sockets whose pings are still unread.
"""

from __future__ import annotations

import logging
import os
import uuid
import weakref
from typing import Any, Protocol

from django_levelchat import deploy
from django_levelchat.conf import levelchat_settings
from django_levelchat.signaling import rooms
from django_levelchat.signaling.presence import get_presence

logger = logging.getLogger("django_levelchat.signaling")

Session = tuple[str, str]  # (room public id, participant id)

#: This process, as the owner of its sessions' presence entries (the pid first, for people reading Redis).
PROCESS = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


class Owner(Protocol):
    async def restore_presence(self) -> None: ...


_pending: dict[Session, float] = {}
_owners: weakref.WeakValueDictionary[Session, Any] = weakref.WeakValueDictionary()


def interval() -> float:
    """The least time between two heartbeat writes of one socket."""
    return float(levelchat_settings.PING_TIMEOUT) / 3


def joined(room: str, pid: str, owner: Owner) -> None:
    """A session of this process, to be told if its presence entry vanishes."""
    _owners[(room, pid)] = owner


def left(room: str, pid: str, owner: Owner) -> None:
    if _owners.get((room, pid)) is owner:
        del _owners[(room, pid)]
    _pending.pop((room, pid), None)
    deploy.session_ended()


def heard(room: str, pid: str, at: float) -> None:
    """Record that a session was heard from at ``at`` (written at the next flush)."""
    _pending[(room, pid)] = at


def local_sessions() -> int:
    return len(_owners)


async def flush(progress: float | None = None) -> int:
    """Write the marks gathered since the last flush, with this process's ``progress`` when given; restore sessions
    whose entry is gone. Returns the count of marks.

    On a backend failure the marks are kept for the next flush (and the error propagates to the caller)."""
    if not _pending and progress is None:
        return 0
    beats = dict(_pending)
    _pending.clear()
    try:
        missing = await get_presence().touch_many(beats, (PROCESS, progress) if progress is not None else None)
    except BaseException:
        for key, at in beats.items():
            _pending[key] = max(at, _pending.get(key, at))
        raise
    for key in missing:
        owner = _owners.get(key)
        if owner is not None:
            rooms.spawn(owner.restore_presence())
    return len(beats)
