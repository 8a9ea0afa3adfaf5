"""Room operations shared by the consumer, the janitor and the server-side control API.

Everything here talks to other sockets only through the channel layer, so it works the same with one process
and with many. Events that change room state get a per-room ``seq`` from presence before they are sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.db import DatabaseError
from redis.exceptions import RedisError

from django_levelchat import lifecycle, protocol
from django_levelchat.conf import levelchat_settings
from django_levelchat.models import Participant, Recording, Room
from django_levelchat.signaling.orm import db_call
from django_levelchat.signaling.presence import Entry, get_presence
from django_levelchat.signaling.speaker import choose_dominant

logger = logging.getLogger("django_levelchat.signaling")

#: Channel-layer message types the consumer handles (``lc.event`` → ``lc_event``).
EVENT = "lc.event"
CLOSE = "lc.close"
CONTROL = "lc.control"

#: What a channel-layer or presence call raises while its backend (Redis) is down or restarting, or while the
#: receiving process is so far behind that its backlog reached the layer's bound (``ChannelFull``).
LAYER_ERRORS = (ConnectionError, OSError, asyncio.TimeoutError, RedisError, ChannelFull)

_background: set[asyncio.Task[Any]] = set()


def describe(exc: BaseException) -> str:
    """``Type: message`` for a log line (redis-py 8's ``repr`` of its errors drops the message)."""
    return f"{type(exc).__name__}: {exc}"


def room_group(room_id: str) -> str:
    return f"lc.room.{room_id}"


def public_participant(entry: Entry) -> dict[str, Any]:
    """The roster view of a presence entry: what other participants may see."""
    view = {
        "id": entry["id"],
        "identity": entry["identity"],
        "name": entry.get("name", ""),
        "role": entry.get("role", ""),
        "tracks": list(entry.get("tracks", [])),
        "metadata": entry.get("metadata") or {},
    }
    if entry.get("state", "connected") != "connected":
        view["state"] = entry["state"]
    if entry.get("quality"):
        view["quality"] = entry["quality"]
    if entry.get("hand"):
        view["hand"] = entry["hand"]
    return view


def visible_roster(entries: list[Entry], *, exclude: str | None = None) -> list[dict[str, Any]]:
    """Public views of every non-hidden participant but ``exclude``, sorted by id (= join order)."""
    return [
        public_participant(e)
        for e in sorted(entries, key=lambda e: e["id"])
        if not e.get("hidden") and e["id"] != exclude
    ]


def room_view(room: Room) -> dict[str, Any]:
    return {
        "id": room.public_id,
        "name": room.name,
        "room_type": room.room_type,
        "status": room.status,
        "metadata": room.metadata or {},
        "max_participants": room.max_participants,
    }


def recording_of(room: Room) -> str | None:
    """The id of the room's running recording (``welcome`` snapshot ``room.recording``), or None.

    Without a database (an outage) the snapshot says None; the ``recording`` events still reach everyone.
    """
    try:
        live = Recording.objects.filter(room=room, status=Recording.Status.RECORDING)
        return live.values_list("public_id", flat=True).first()
    except DatabaseError:
        logger.warning("recording state unavailable for the welcome of %s", room.public_id)
        return None


live_recording = db_call(recording_of)


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run a coroutine detached from the consumer that started it (it may outlive the socket). Its failure is
    logged here (it used to surface as asyncio's "Task exception was never retrieved")."""
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if isinstance(exc, LAYER_ERRORS):
        logger.warning("background task %s: signaling backend unavailable: %s", task.get_coro(), describe(exc))
    elif exc is not None:
        logger.error("background task %s failed", task.get_coro(), exc_info=exc)


def _event_message(frame: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message carrying a frame: encoded once here, not once per receiver."""
    return {"type": EVENT, "event": frame["type"], "seq": frame.get("seq"), "text": protocol.encode(frame)}


async def broadcast(room_id: str, build: Callable[..., dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """Stamp the next room ``seq`` on a frame and send it to every socket of the room."""
    seq = await get_presence().next_seq(room_id)
    frame = build(**fields, seq=seq)
    await publish(room_id, frame)
    return frame


async def publish(room_id: str, frame: dict[str, Any]) -> None:
    """Send a frame that already has its ``seq`` (or needs none) to every socket of the room."""
    await get_channel_layer().group_send(room_group(room_id), _event_message(frame))


async def broadcast_chat(room_id: str, *, from_: dict[str, Any], text: str, ts: int, message_id: str) -> dict[str, Any]:
    """A public chat message: to every socket of the room, and into the history replayed in ``welcome``."""
    frame = await broadcast(room_id, protocol.chat_message, id=message_id, from_=from_, text=text, ts=ts)
    await get_presence().push_chat(room_id, frame, int(levelchat_settings.CHAT_HISTORY))
    return frame


async def send_frame(channel: str, frame: dict[str, Any]) -> None:
    """Send one frame to one socket (by channel name), e.g. a relayed ``signal`` or a private chat."""
    await get_channel_layer().send(channel, _event_message(frame))


async def close_channel(channel: str, reason: str) -> None:
    """Ask the socket behind ``channel`` to close with the code that ``reason`` maps to."""
    await get_channel_layer().send(channel, {"type": CLOSE, "reason": reason})


async def control(channel: str, action: str, **data: Any) -> None:
    """A server-side instruction to the consumer that owns a participant (mute, capabilities, …)."""
    await get_channel_layer().send(channel, {"type": CONTROL, "action": action, **data})


async def policy_changed(room_id: str) -> None:
    """Every live session of the room recomputes its effective capabilities against the room's current policy."""
    await get_channel_layer().group_send(room_group(room_id), {"type": CONTROL, "action": "policy"})


async def grant_changed(room_id: str, pid: str, role: str, capabilities: list[str]) -> None:
    """One session's role or granted capabilities changed: it recomputes (and tells the room) if it is live."""
    entry = await get_presence().get(room_id, pid)
    if entry is not None and entry.get("channel"):
        await control(entry["channel"], "capabilities", capabilities=capabilities, role=role)


@db_call
def _close_session(pid: str, reason: str) -> None:
    participant = Participant.objects.filter(public_id=pid).first()
    if participant is not None:
        lifecycle.leave(participant, reason)


async def close_session(pid: str, reason: str) -> None:
    """Close a participant's DB session (``left_at``); a failure is logged, never raised."""
    try:
        await _close_session(pid, reason)
    except Exception:
        logger.exception("could not close participant session %s", pid)


async def depart(
    room_id: str, pid: str, reason: str, *, close: str | None = None, silent_before: float | None = None
) -> Entry | None:
    """Remove a participant from the room once (whichever process wins), tell the room, close the DB session.

    ``close`` names a close reason to send to the participant's own socket (e.g. ``removed``); ``silent_before``
    departs it only if it was not heard from since (see ``Presence.remove``).
    """
    # The tombstone's close reason: what a socket of the session still open somewhere is closed with.
    tombstone = close or (
        protocol.CloseReason.PING_TIMEOUT
        if reason == protocol.LeaveReason.CONNECTION_LOST
        else protocol.CloseReason.LEFT
    )
    entry = await get_presence().remove(room_id, pid, silent_before=silent_before, close=tombstone)
    if entry is None:
        return None
    if close and entry.get("channel"):
        await close_channel(entry["channel"], close)
    if not entry.get("hidden"):
        await broadcast(
            room_id,
            protocol.participant_left,
            participant={"id": entry["id"], "identity": entry["identity"]},
            reason=reason,
        )
    await close_session(pid, reason)
    return entry


async def find_identity(room_id: str, identity: str) -> list[Entry]:
    return [e for e in await get_presence().roster(room_id) if e["identity"] == identity]


async def end_room_live(room_id: str, reason: str) -> None:
    """Tell everyone the room ended and close their sockets 4403 ``room_ended`` (DB already updated): one group
    send each, however many sockets; the presence of the room goes in one transaction."""
    await broadcast(room_id, protocol.room_ended, reason=reason)
    await get_channel_layer().group_send(
        room_group(room_id), {"type": CLOSE, "reason": protocol.CloseReason.ROOM_ENDED}
    )
    await get_presence().forget_room(room_id)


async def send_to_publishers(room_id: str, frame: dict[str, Any], *, exclude: str) -> None:
    """One group send of ``frame`` that only sockets publishing at least one track pass on (``exclude`` not)."""
    message = {**_event_message(frame), "publishers_only": True, "exclude": exclude}
    await get_channel_layer().group_send(room_group(room_id), message)


async def remove_identity(room_id: str, identity: str) -> bool:
    """Remove every session of ``identity`` (closed 4403 ``removed``); its current tokens stop working."""
    await get_presence().revoke(room_id, identity, time.time())
    removed = False
    for entry in await find_identity(room_id, identity):
        if await depart(room_id, entry["id"], protocol.LeaveReason.REMOVED, close=protocol.CloseReason.REMOVED):
            removed = True
    return removed


async def update_active_speaker(
    room_id: str, now: float, view: tuple[dict[str, tuple[float, float]], str | None] | None = None
) -> None:
    """Recompute the dominant speaker and broadcast ``active-speaker`` only when it changed.

    ``view`` is the room's (levels, current dominant) when the caller has just read them."""
    presence = get_presence()
    states, current = view if view is not None else await presence.speaker_view(room_id)
    dominant = choose_dominant(states, current, now)
    if dominant != current and await presence.swap_dominant(room_id, dominant):
        await broadcast(room_id, protocol.active_speaker, participant=dominant)
