"""Recording control inside the SFU worker: ``record-start`` / ``record-stop`` requests, the row, the events.

Requests arrive on the worker's channel like every SFU request (``{"type": "lc.sfu", "op": "record-start", "room",
"reply", "ref", "by"}``), from the signaling consumer (a client's frame) or from ``signaling.control`` (REST,
admin, server code). The answer is an ``ack`` with the recording id or an ``error`` frame, sent to ``reply``;
everyone in the room gets the ``recording`` event. While it records, the worker heartbeats the row, so the
recording job fails it (keeping what was written) if this process dies; a room that empties, ends or is dropped
stops its recording cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import timezone

from django_levelchat import lifecycle, protocol
from django_levelchat.conf import levelchat_settings
from django_levelchat.exceptions import IllegalTransition
from django_levelchat.models import Recording, Room
from django_levelchat.protocol import ErrorCode, ProtocolError
from django_levelchat.recording.jobs import fail_worker
from django_levelchat.recording.spool import recording_dir
from django_levelchat.recording.storage import spool_dir
from django_levelchat.sfu.recorder import RoomRecorder
from django_levelchat.signaling import rooms

logger = logging.getLogger("django_levelchat.sfu")

OPS = frozenset({"record-start", "record-stop"})
R: Any = Recording.Status  # without Django stubs mypy reads members as (value, label) tuples
T = TypeVar("T")


def _db(fn: Callable[..., T]) -> Callable[..., Any]:
    """Run ORM work in a thread of its own, not the thread-sensitive one: in embedded mode a synchronous caller
    (a REST view calling ``signaling.control``) holds that thread while it waits for this worker's answer."""

    def run(*args: Any) -> T:
        close_old_connections()
        try:
            return fn(*args)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


@_db
def _create(room_id: str, by: str, worker: str) -> Recording:
    room = Room.objects.get(public_id=room_id)
    lifecycle.ensure_joinable(room)
    return lifecycle.create_recording(room, started_by=by, worker=worker)


@_db
def _stopped(recording: Recording, error: str) -> None:
    with contextlib.suppress(IllegalTransition):  # the reaper got there first: it keeps the files all the same
        if error:
            lifecycle.set_recording_status(recording, R.FAILED, partial=True, error=error)
        else:
            lifecycle.set_recording_status(recording, R.PROCESSING)


@_db
def _heartbeat(recording: Recording) -> None:
    Recording.objects.filter(pk=recording.pk, status=Recording.Status.RECORDING).update(heartbeat_at=timezone.now())


async def fail_leftovers(worker_id: str) -> None:
    """At start: recordings this worker id left behind in a previous life (``runsfu --worker-id``) are failed,
    keeping what they wrote; the recording job finalises them. A database outage only delays this to the reaper."""
    try:
        failed = await _db(fail_worker)(worker_id)
    except Exception:
        logger.warning("could not check for recordings left by worker %s", worker_id, exc_info=True)
        return
    for recording in failed:
        logger.warning("recording %s was cut off by a restart of worker %s", recording.public_id, worker_id)


@_db
def _fail_lost(room_id: str, dead_worker: str) -> list[Recording]:
    lost = []
    for recording in Recording.objects.filter(room__public_id=room_id, worker=dead_worker, status=R.RECORDING):
        with contextlib.suppress(IllegalTransition):
            lifecycle.set_recording_status(recording, R.FAILED, partial=True, error="The SFU worker was lost.")
            lost.append(recording)
    return lost


async def recover(room_id: str, dead_worker: str) -> None:
    """Taking over a dead worker's room: its recording is failed now (what it wrote is kept and finalised) and
    everyone is told, so no one keeps seeing a recording badge for a recording that stopped."""
    try:
        lost = await _fail_lost(room_id, dead_worker)
    except Exception:  # the reaper fails it later; the room must be taken over regardless
        logger.warning("could not settle the recording of room %s", room_id, exc_info=True)
        return
    for recording in lost:
        with contextlib.suppress(*rooms.LAYER_ERRORS):
            await rooms.broadcast(
                room_id, protocol.recording, state="failed", recording=recording.public_id, reason="worker_lost"
            )


class RoomRecording:
    """At most one live recording of one served room."""

    def __init__(self, room_id: str, media: Any, worker_id: str) -> None:
        self.room_id = room_id
        self.media = media
        self.worker_id = worker_id
        self.recording: Recording | None = None
        self.recorder: RoomRecorder | None = None
        self._heartbeats: asyncio.Task[Any] | None = None

    async def handle(self, message: dict[str, Any]) -> None:
        ref = message.get("ref")
        try:
            if message["op"] == "record-start":
                recording = await self.start(str(message.get("by") or ""))
            else:
                recording = await self.stop()
            frame = protocol.ack(ref, recording=recording.public_id) if ref is not None else None
        except ProtocolError as exc:
            frame = exc.to_frame()
        except IllegalTransition as exc:
            frame = protocol.error(ErrorCode.BAD_STATE, exc.detail, ref=ref)
        if frame is not None and message.get("reply"):
            if ref is not None:
                frame = {**frame, "ref": ref}
            with contextlib.suppress(*rooms.LAYER_ERRORS):
                await rooms.send_frame(message["reply"], frame)

    async def start(self, by: str) -> Recording:
        if self.recording is not None:
            raise ProtocolError(ErrorCode.BAD_STATE, "the room is already being recorded")
        recording = await _create(self.room_id, by, self.worker_id)
        self.recording = recording
        self.recorder = RoomRecorder(self.media, recording_dir(spool_dir(), recording.public_id))
        self.recorder.start()
        self._heartbeats = asyncio.ensure_future(self._beat(recording))
        logger.info("recording %s of %s started by %s", recording.public_id, self.room_id, by or "?")
        await self._announce("started", recording)
        return recording

    async def stop(self, error: str = "") -> Recording:
        recording, recorder = self.recording, self.recorder
        if recording is None or recorder is None:
            raise ProtocolError(ErrorCode.BAD_STATE, "nothing is being recorded")
        self.recording = self.recorder = None
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        await recorder.stop()
        await _stopped(recording, error)
        logger.info("recording %s of %s stopped (%d frames)", recording.public_id, self.room_id, recorder.frames)
        await self._announce("failed" if error else "stopped", recording, reason=error or None)
        return recording

    def sync(self) -> None:
        """Published tracks changed: new ones join the recording now."""
        if self.recorder is not None:
            self.recorder.sync()

    async def close(self) -> None:
        """The worker lets the room go (empty, ended, shutting down): a running recording stops cleanly."""
        if self.recording is not None:
            with contextlib.suppress(ProtocolError, *rooms.LAYER_ERRORS):
                await self.stop()

    async def _beat(self, recording: Recording) -> None:
        interval = float(levelchat_settings.RECORDING_HEARTBEAT_TIMEOUT) / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await _heartbeat(recording)
            except Exception:  # the database may be briefly away; the next beat tries again
                logger.warning("could not heartbeat recording %s", recording.public_id, exc_info=True)

    async def _announce(self, state: str, recording: Recording, reason: str | None = None) -> None:
        with contextlib.suppress(*rooms.LAYER_ERRORS):
            await rooms.broadcast(
                self.room_id, protocol.recording, state=state, recording=recording.public_id, reason=reason
            )
