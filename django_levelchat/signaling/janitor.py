"""Sweeps that no single socket owns: ghosts of dead processes and vanished networks, silence (active speaker),
and rooms that stayed empty past their ``empty_timeout``.

Each process runs one loop per event loop while it has anything to watch. Every tick (``SWEEP_INTERVAL``) it writes
the heartbeats its sockets gathered (``liveness.flush``, one presence call); then the process holding the janitor
lease — one across all processes on Redis, renewed every tick, taken over by another process once it lapses; in
memory, each process for itself — sweeps. A sweep costs O(what changed), not O(rooms): the silent sessions come from
one range query over the cross-room liveness index, the active speaker is recomputed only for rooms where someone
reported a level lately, and the database is checked in bounded batches that walk the tables incrementally. Two
sweepers overlapping for a moment (a lease handed over) stay safe: removals are atomic in presence and lifecycle
transitions are conditional UPDATEs.
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

from django_levelchat import deploy, lifecycle, protocol
from django_levelchat.conf import levelchat_settings
from django_levelchat.models import Participant, Room
from django_levelchat.signaling import clock, liveness, rooms, speaker
from django_levelchat.signaling.presence import get_presence

logger = logging.getLogger("django_levelchat.signaling")

LEASE = "janitor"
DB_SWEEP_EVERY = 5  # sweeps per database sweep while anyone is connected (every sweep otherwise)
DB_BATCH = 500  # open sessions, and empty rooms, looked at per database sweep
SPEAKING_KEEP = 2.0  # seconds past SILENCE_AFTER a room stays on the speaker watch list (the "nobody" update)

#: This process's name as a lease holder (the pid first, for people and tests reading Redis).
HOLDER = liveness.PROCESS

_tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Any]] = weakref.WeakKeyDictionary()


def lease_ttl() -> float:
    """How long a lease outlives its last renewal: three sweeps, at least a second."""
    return max(1.0, 3 * float(levelchat_settings.SWEEP_INTERVAL))


def ensure_running() -> None:
    """Start this event loop's janitor loop unless it is already running."""
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_run(Janitor()))


async def stop() -> None:
    """Stop this event loop's janitor loop (tests; process shutdown)."""
    task = _tasks.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def _flush_heartbeats() -> None:
    """Write this process's heartbeats every SWEEP_INTERVAL, in a task of its own: nothing the sweeps wait for
    (the database above all) may delay them, or another process's janitor would take live sockets for dead.

    With them goes the process's progress: the time this task was due to wake. When it wakes late the event loop
    was busy or stalled, and frames that arrived since then may still wait to be handled; up to then every frame
    was."""
    while True:
        due = clock.now() + float(levelchat_settings.SWEEP_INTERVAL)
        await asyncio.sleep(float(levelchat_settings.SWEEP_INTERVAL))
        try:
            await liveness.flush(progress=min(due, clock.now()))
        except asyncio.CancelledError:
            raise
        except rooms.LAYER_ERRORS as exc:
            logger.warning("heartbeats not written, backend unavailable: %s", rooms.describe(exc))
        except Exception:
            logger.exception("heartbeats not written")
        deploy.collect_after_churn(liveness.local_sessions())  # the garbage of ended sockets (G16)


async def _run(janitor: Janitor) -> None:
    flusher = asyncio.get_running_loop().create_task(_flush_heartbeats())
    try:
        while True:
            await asyncio.sleep(float(levelchat_settings.SWEEP_INTERVAL))
            try:
                busy = await janitor.tick(clock.now())
            except asyncio.CancelledError:
                raise
            except rooms.LAYER_ERRORS as exc:
                logger.warning("janitor sweep skipped, backend unavailable: %s", rooms.describe(exc))
                busy = True
            except Exception:
                logger.exception("janitor sweep failed")
                busy = True
            if not busy:
                return
    finally:
        flusher.cancel()
        if janitor.holding:
            try:
                await get_presence().release_lease(LEASE, janitor.holder)
            except Exception:  # the lease lapses on its own
                logger.info("janitor lease not released", exc_info=True)


class Janitor:
    """One process's janitor: the sweeps, while it holds the lease. The database sweep runs as a task of its own
    (one at a time), so a slow database never holds up the presence sweep or the lease renewal."""

    def __init__(self, holder: str = HOLDER) -> None:
        self.holder = holder
        self.holding = False
        self.ticks = 0
        self.sweeps = 0
        self.db = DatabaseSweep()
        self.db_task: asyncio.Task[Any] | None = None
        self.rooms_active = True  # the last database sweep's answer: active rooms remain to watch

    async def tick(self, now: float) -> bool:
        """One round; True while there is anything left to watch (then the loop keeps going)."""
        presence = get_presence()
        self.holding = await presence.hold_lease(LEASE, self.holder, now, lease_ttl())
        if not self.holding:
            # Another process sweeps; stay ready to take over while it (or a socket of ours) is there.
            return liveness.local_sessions() > 0 or await presence.lease_held(LEASE, now)
        watching = await sweep_presence(now)
        if (not watching or self.ticks % DB_SWEEP_EVERY == 0) and (self.db_task is None or self.db_task.done()):
            self.db_task = rooms.spawn(self._sweep_database())
        watching = watching or self.rooms_active
        self.ticks += 1
        self.sweeps += 1
        if not watching and liveness.local_sessions() == 0:
            await presence.release_lease(LEASE, self.holder)
            self.holding = False
            return False
        return True

    async def _sweep_database(self) -> None:
        try:
            self.rooms_active = await self.db.sweep()
        except rooms.LAYER_ERRORS as exc:
            logger.warning("database sweep skipped, backend unavailable: %s", rooms.describe(exc))
        except Exception:
            logger.exception("database sweep failed")


async def sweep_presence(now: float) -> bool:
    """Remove sessions silent for PING_TIMEOUT, update the speaker of rooms that had audio lately; True while
    anyone is present anywhere."""
    await liveness.flush()
    presence = get_presence()
    timeout = float(levelchat_settings.PING_TIMEOUT)
    for room_id, pid in await presence.expired(now, timeout):
        # Only if still silent: a session resumed between the read and here keeps its fresh socket.
        entry = await rooms.depart(room_id, pid, protocol.LeaveReason.CONNECTION_LOST, silent_before=now - timeout)
        if entry and entry.get("state") == "connected" and entry.get("channel"):
            await rooms.close_channel(entry["channel"], protocol.CloseReason.PING_TIMEOUT)
    for room_id in await presence.speaking_rooms(now - speaker.SILENCE_AFTER - SPEAKING_KEEP):
        await rooms.update_active_speaker(room_id, now)
    return await presence.anyone()


class DatabaseSweep:
    """Closes sessions no process holds any more and ends rooms empty past their timeout, a bounded batch at a
    time: each call looks at the next ``DB_BATCH`` open sessions and empty active rooms (by primary key, wrapping
    around), so its cost does not grow with the number of rooms."""

    def __init__(self) -> None:
        self.session_cursor = 0
        self.room_cursor = 0
        self.passes = 0
        self.absent_since: dict[str, tuple[Any, int]] = {}  # participant id -> (first found absent, pass seen)

    async def sweep(self) -> bool:
        """One batch of each; True while an active room remains to watch."""
        now = timezone.now()
        sessions = await self._open_sessions(now)
        present = await get_presence().present([(room, pid) for _, room, pid in sessions])
        ghosts = self._ghosts(sessions, present, now)
        candidates = await self._close_and_find_empty(ghosts, now)
        presence = get_presence()
        empty = [room for room in candidates if not await presence.occupied(room.public_id)]
        return await self._end(empty)

    @database_sync_to_async
    def _open_sessions(self, now: Any) -> list[tuple[int, str, str]]:
        grace = timedelta(seconds=2 * float(levelchat_settings.PING_TIMEOUT))
        rows = list(
            Participant.objects.filter(left_at__isnull=True, joined_at__lt=now - grace, pk__gt=self.session_cursor)
            .order_by("pk")
            .values_list("pk", "room__public_id", "public_id")[:DB_BATCH]
        )
        if len(rows) < DB_BATCH:
            self.session_cursor = 0
            self.passes += 1
            self.absent_since = {k: v for k, v in self.absent_since.items() if v[1] >= self.passes - 1}
        else:
            self.session_cursor = rows[-1][0]
        return rows

    def _ghosts(self, sessions: list[tuple[int, str, str]], present: list[bool], now: Any) -> list[str]:
        """Sessions missing from presence for a whole grace period (a live consumer restores a lost entry within a
        heartbeat)."""
        grace = timedelta(seconds=2 * float(levelchat_settings.PING_TIMEOUT))
        ghosts = []
        for (_, _, pid), here in zip(sessions, present, strict=True):
            if here:
                self.absent_since.pop(pid, None)
                continue
            since, _ = self.absent_since.get(pid, (now, 0))
            if now - since >= grace:
                ghosts.append(pid)
                self.absent_since.pop(pid, None)
            else:
                self.absent_since[pid] = (since, self.passes)
        return ghosts

    @database_sync_to_async
    def _close_and_find_empty(self, ghosts: list[str], now: Any) -> list[Room]:
        for participant in Participant.objects.filter(public_id__in=ghosts, left_at__isnull=True):
            lifecycle.leave(participant, protocol.LeaveReason.CONNECTION_LOST)
        batch = list(
            Room.objects.filter(status=Room.Status.ACTIVE, pk__gt=self.room_cursor)
            .exclude(participants__left_at__isnull=True)
            .annotate(last_left=Max("participants__left_at"))
            .order_by("pk")[:DB_BATCH]
        )
        self.room_cursor = batch[-1].pk if len(batch) == DB_BATCH else 0
        due = []
        for room in batch:
            last = room.last_left or room.started_at or now
            if last + timedelta(seconds=room.empty_timeout) <= now:
                due.append(room)
        return due

    @database_sync_to_async
    def _end(self, empty: list[Room]) -> bool:
        for room in empty:
            lifecycle.end_room(room, "empty_timeout")  # receivers.py tells any socket still there
        return Room.objects.filter(status=Room.Status.ACTIVE).exists()
