"""Sweeps that no single socket owns: ghosts of dead processes and vanished networks, silence (active speaker),
and rooms that stayed empty past their ``empty_timeout``.

One sweeper runs per event loop while there is anything to watch; several processes may sweep the same rooms,
which is safe because removals are atomic in presence and lifecycle transitions are conditional UPDATEs.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.db.models import Max
from django.utils import timezone

from django_levelchat import lifecycle, protocol
from django_levelchat.conf import levelchat_settings
from django_levelchat.models import Participant, Room
from django_levelchat.signaling import clock, rooms
from django_levelchat.signaling.presence import get_presence

logger = logging.getLogger("django_levelchat.signaling")

DB_SWEEP_EVERY = 5  # presence sweeps per database sweep while anyone is connected (every sweep otherwise)

_absent_since: dict[str, Any] = {}  # participant id -> when a DB sweep first found it missing from presence
_tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Any]] = weakref.WeakKeyDictionary()


def ensure_running() -> None:
    """Start this event loop's sweeper unless it is already running."""
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_run())


async def stop() -> None:
    """Stop this event loop's sweeper (tests; process shutdown)."""
    task = _tasks.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def _run() -> None:
    tick = 0
    while True:
        await asyncio.sleep(float(levelchat_settings.SWEEP_INTERVAL))
        busy = True
        try:
            live = await sweep_presence(clock.now())
            busy = bool(live)
            if not busy or tick % DB_SWEEP_EVERY == 0:
                busy = await sweep_database(live) or busy
        except asyncio.CancelledError:
            raise
        except rooms.LAYER_ERRORS as exc:
            logger.warning("janitor sweep skipped, backend unavailable: %r", exc)
        except Exception:
            logger.exception("janitor sweep failed")
        tick += 1
        if not busy:
            return


async def sweep_presence(now: float) -> dict[str, set[str]]:
    """Remove participants silent for PING_TIMEOUT, recompute speakers; returns the live ids per room."""
    presence = get_presence()
    cutoff = now - float(levelchat_settings.PING_TIMEOUT)
    live: dict[str, set[str]] = {}
    for room_id in await presence.rooms():
        for pid in await presence.stale(room_id, cutoff):
            entry = await rooms.depart(room_id, pid, protocol.LeaveReason.CONNECTION_LOST)
            if entry and entry.get("state") == "connected" and entry.get("channel"):
                await rooms.close_channel(entry["channel"], protocol.CloseReason.PING_TIMEOUT)
        await rooms.update_active_speaker(room_id, now)
        live[room_id] = {e["id"] for e in await presence.roster(room_id)}
    return {room_id: ids for room_id, ids in live.items() if ids}


@database_sync_to_async
def sweep_database(live: dict[str, set[str]]) -> bool:
    """Close sessions no process holds any more, end rooms empty past their timeout; True while an active
    room remains to watch."""
    now = timezone.now()
    grace = timedelta(seconds=2 * float(levelchat_settings.PING_TIMEOUT))
    open_sessions = Participant.objects.filter(left_at__isnull=True, joined_at__lt=now - grace)
    absent_now: dict[str, Any] = {}
    for participant in open_sessions.select_related("room"):
        if participant.public_id in live.get(participant.room.public_id, ()):
            continue
        # Missing from presence for a whole grace period: a live consumer restores a lost entry within a ping.
        since = absent_now[participant.public_id] = _absent_since.get(participant.public_id, now)
        if now - since >= grace:
            lifecycle.leave(participant, protocol.LeaveReason.CONNECTION_LOST)
            absent_now.pop(participant.public_id)
    _absent_since.clear()
    _absent_since.update(absent_now)
    empty = (
        Room.objects.filter(status=Room.Status.ACTIVE)
        .exclude(participants__left_at__isnull=True)
        .annotate(last_left=Max("participants__left_at"))
    )
    for room in empty:
        if room.public_id in live:
            continue
        last = room.last_left or room.started_at or now
        if last + timedelta(seconds=room.empty_timeout) <= now:
            lifecycle.end_room(room, "empty_timeout")  # receivers.py tells any socket still there
    return Room.objects.filter(status=Room.Status.ACTIVE).exists()
