"""Server-side control of live rooms from synchronous code (REST views, admin, your own code).

Each function reaches the sockets over the channel layer, so it works whichever process holds them. Ending a
room needs nothing here: ``lifecycle.end_room`` sends ``room_ended``, and ``receivers.py`` closes the sockets.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from django_levelchat import capabilities as caps
from django_levelchat import lifecycle, protocol
from django_levelchat.exceptions import IllegalTransition, SfuUnavailable
from django_levelchat.ids import new_message_id
from django_levelchat.models import Recording, Room
from django_levelchat.protocol import ErrorCode
from django_levelchat.signaling import rooms
from django_levelchat.signaling.presence import get_presence

SYSTEM_SENDER = {"id": None, "identity": "system", "name": "System"}
R: Any = Recording.Status  # without Django stubs mypy reads members as (value, label) tuples
RECORD_ANSWER_TIMEOUT = 15.0  # seconds for the SFU worker to start or stop a recording


async def _live_roster(room_id: str) -> list[dict[str, Any]]:
    return rooms.visible_roster(await get_presence().roster(room_id))


def live_roster(room: Room) -> list[dict[str, Any]]:
    """Everyone connected to the room now (hidden participants excluded), with their tracks."""
    return async_to_sync(_live_roster)(room.public_id)


def remove_participant(room: Room, identity: str) -> bool:
    """Close every session of ``identity`` with 4403 ``removed``; its current tokens are refused from now on.

    Returns False when the identity is not connected (its tokens are revoked all the same).
    """
    return async_to_sync(rooms.remove_identity)(room.public_id, identity)


async def _control_identity(room_id: str, identity: str, action: str, **data: Any) -> bool:
    entries = [e for e in await rooms.find_identity(room_id, identity) if e.get("channel")]
    for entry in entries:
        await rooms.control(entry["channel"], action, **data)
    return bool(entries)


def mute_track(room: Room, identity: str, *, track: str | None = None, kind: str | None = None) -> bool:
    """Mute a connected participant's track (one sid, one kind, or all); False when not connected."""
    return async_to_sync(_control_identity)(room.public_id, identity, "mute", track=track, kind=kind, by=None)


def update_capabilities(room: Room, identity: str, capabilities: list[str]) -> bool:
    """Change a connected participant's capabilities now; tracks no longer allowed are unpublished."""
    granted = sorted(caps.parse_capabilities(capabilities))
    return async_to_sync(_control_identity)(room.public_id, identity, "capabilities", capabilities=granted)


async def _send_message(room_id: str, text: str, to: str | None) -> dict[str, Any]:
    ts = int(time.time() * 1000)
    message_id = new_message_id()
    if to is None:
        return await rooms.broadcast_chat(room_id, from_=SYSTEM_SENDER, text=text, ts=ts, message_id=message_id)
    frame = protocol.chat_message(id=message_id, from_=SYSTEM_SENDER, text=text, ts=ts, to=to)
    for entry in await rooms.find_identity(room_id, to):
        if entry.get("channel"):
            await rooms.send_frame(entry["channel"], frame)
    return frame


def send_message(room: Room, text: str, *, to: str | None = None) -> dict[str, Any]:
    """A server-sent chat message to the room (or privately to the identity ``to``); returns the frame."""
    return async_to_sync(_send_message)(room.public_id, text, to)


async def _record_request(room_id: str, op: str, by: str) -> dict[str, Any]:
    """Send a recording request to the room's SFU worker and wait for its answer frame (``ack`` or ``error``).

    Only a worker that is already running is asked: an embedded worker lives on the server's event loop and is
    started by the signaling side, never from here (a synchronous caller may be on a throwaway loop).
    """
    from django_levelchat.sfu.leases import get_leases, worker_channel  # local: the SFU side is optional

    worker = await get_leases().assign(room_id)
    if worker is None:
        raise SfuUnavailable("Recording needs an SFU worker (manage.py runsfu), and none serves this room.")
    layer = get_channel_layer()
    reply = await layer.new_channel()
    message = {"type": "lc.sfu", "op": op, "room": room_id, "reply": reply, "ref": "server", "by": by}
    await layer.send(worker_channel(worker), message)
    try:
        answer = await asyncio.wait_for(layer.receive(reply), RECORD_ANSWER_TIMEOUT)
    except TimeoutError:
        raise SfuUnavailable("The SFU worker serving this room did not answer.") from None
    finally:
        if (forget := getattr(layer, "forget_channel", None)) is not None:
            forget(reply)  # a late answer is dropped, not buffered for the life of the process
    return json.loads(answer["text"])


def start_recording(room: Room, *, by: str = "") -> Recording:
    """Ask the SFU worker serving ``room`` to record it; returns the new ``recording`` row.

    Everyone in the room gets the ``recording`` event. Raises ``SfuUnavailable`` when no SFU worker serves the
    room (``manage.py runsfu``, or the embedded worker), ``IllegalTransition`` for an ended room (``room_ended``)
    or one already being recorded (``recording_active``).
    """
    lifecycle.ensure_joinable(room)
    answer = async_to_sync(_record_request)(room.public_id, "record-start", by)
    if answer["type"] == "error":
        if answer["code"] == ErrorCode.BAD_STATE:
            raise IllegalTransition(answer["message"], code="recording_active")
        raise SfuUnavailable(answer["message"])
    return Recording.objects.select_related("room").get(public_id=answer["recording"])


def stop_recording(recording: Recording, *, by: str = "") -> Recording:
    """Ask the SFU worker writing ``recording`` to stop; the job then finalises and composes it.

    Raises ``IllegalTransition`` (``recording_not_active``) for a recording that already stopped, and
    ``SfuUnavailable`` when no worker answers. When the worker now serving the room is not the one that was
    recording (it died), the recording is failed at once and what was written is kept.
    """
    if recording.status != Recording.Status.RECORDING:
        raise IllegalTransition(f"Recording {recording.public_id} is {recording.status}.", code="recording_not_active")
    answer = async_to_sync(_record_request)(recording.room.public_id, "record-stop", by)
    if answer["type"] == "error":
        if answer["code"] != ErrorCode.BAD_STATE:
            raise SfuUnavailable(answer["message"])
        recording.refresh_from_db()
        if recording.status == Recording.Status.RECORDING:
            lifecycle.set_recording_status(
                recording, R.FAILED, partial=True, error="The SFU worker writing it was lost."
            )
    recording.refresh_from_db()
    return recording
