"""Server-side control of live rooms from synchronous code (REST views, admin, your own code).

Each function reaches the sockets over the channel layer, so it works whichever process holds them. Ending a
room needs nothing here: ``lifecycle.end_room`` sends ``room_ended``, and ``receivers.py`` closes the sockets.
"""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import async_to_sync

from django_levelchat import capabilities as caps
from django_levelchat import lifecycle, protocol
from django_levelchat.exceptions import IllegalTransition, SfuUnavailable
from django_levelchat.ids import new_message_id
from django_levelchat.models import Recording, Room
from django_levelchat.signaling import rooms
from django_levelchat.signaling.presence import get_presence

SYSTEM_SENDER = {"id": None, "identity": "system", "name": "System"}


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


def start_recording(room: Room, *, by: str = "") -> Recording:
    """Ask the SFU worker serving ``room`` to record it; returns the new ``recording`` row.

    Raises ``SfuUnavailable`` when no SFU worker can take the request (none is installed in this version of the
    app yet: recording needs ``manage.py runsfu``), ``IllegalTransition`` for an ended room.
    """
    lifecycle.ensure_joinable(room)
    raise SfuUnavailable("Recording needs an SFU worker (manage.py runsfu), and none serves this room.")


def stop_recording(recording: Recording, *, by: str = "") -> Recording:
    """Ask the SFU worker writing ``recording`` to stop; the job then finalises and composes it.

    Raises ``IllegalTransition`` (``recording_not_active``) for a recording that already stopped, and
    ``SfuUnavailable`` when its worker cannot be reached.
    """
    if recording.status != Recording.Status.RECORDING:
        raise IllegalTransition(f"Recording {recording.public_id} is {recording.status}.", code="recording_not_active")
    raise SfuUnavailable("Recording needs an SFU worker (manage.py runsfu), and none serves this room.")
