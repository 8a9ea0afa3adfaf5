"""Media routing behind one interface: a mesh router (relays to publishers) and an SFU router (the room's worker).

The consumer keeps connection and session handling, validation and capability checks, then hands media requests
here. ``sfu-signal`` and the ``mids`` of a publish always go to the room's SFU worker;
``subscribe``/``unsubscribe``/``set-preferred-quality`` go to publishers in a mesh room and to the worker in an
SFU room. In a mesh room the SFU connection is a send-only *recording leg*: the worker takes it only while the
room is recorded (requests carry ``mesh: true``) and closes it when the recording ends (docs/recording.md).
The SFU side is reached only over the channel layer (``sfu.leases`` says which worker holds the room).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer

from django_levelchat import protocol
from django_levelchat.conf import levelchat_settings
from django_levelchat.models import Room
from django_levelchat.protocol import ErrorCode, ProtocolError
from django_levelchat.sfu.leases import RedisLeases, get_leases, worker_channel
from django_levelchat.signaling import rooms
from django_levelchat.signaling.presence import Entry, RedisPresence, get_presence

logger = logging.getLogger("django_levelchat.signaling")

SFU_ROOM_TYPES = frozenset({Room.RoomType.LIVE, Room.RoomType.WEBINAR})
SFU_MESSAGE_TYPE = "lc.sfu"


async def uses_sfu(room: Room, promoted: bool | None = None) -> bool:
    """Live and webinar rooms always use the SFU; a meeting once it outgrew the mesh (``SFU_MESH_LIMIT``).
    ``promoted``: whether the meeting moved, when the caller already read it (``promotion_set``)."""
    if room.room_type in SFU_ROOM_TYPES:
        return True
    return promoted if promoted is not None else await get_leases().promoted(room.public_id)


def promotion_set(room: Room) -> str | None:
    """The Redis set that says whether this meeting moved to the SFU, when presence can read it in a round trip
    it makes anyway (a join's snapshot; the same Redis server); None otherwise (not a meeting, or no Redis)."""
    if room.room_type in SFU_ROOM_TYPES:
        return None
    leases, presence = get_leases(), get_presence()
    if isinstance(leases, RedisLeases) and isinstance(presence, RedisPresence) and leases.url == presence.url:
        return leases.meetings_key
    return None


async def outgrew_mesh(room: Room, members: int) -> bool:
    """True exactly once, for the join that takes a meeting past ``SFU_MESH_LIMIT`` (0 = never), and only when an
    SFU can take the room: moved to no SFU, a newcomer would get neither a mesh nor an SFU connection."""
    limit = int(levelchat_settings.SFU_MESH_LIMIT)
    if not limit or room.room_type in SFU_ROOM_TYPES or members <= limit:
        return False
    if not await sfu_can_serve():
        logger.info("meeting %s is past SFU_MESH_LIMIT but no SFU worker runs: it stays on the mesh", room.public_id)
        return False
    return await get_leases().promote(room.public_id)


async def sfu_can_serve() -> bool:
    """A worker heartbeats (``runsfu``), or the embedded one runs or starts now."""
    from django_levelchat.sfu.embedded import embedded_enabled, ensure_worker  # loads aiortc: only when needed
    from django_levelchat.sfu.selfcheck import SfuUnsupported

    if await get_leases().live_workers():
        return True
    if not embedded_enabled():
        return False
    try:
        await ensure_worker()
    except SfuUnsupported:
        return False
    return True


class SfuLink:
    """Requests from one participant to the worker holding its room."""

    def __init__(
        self, room_id: str, pid: str, reply: Callable[[], str], *, subscribe: bool, mesh: bool = False
    ) -> None:
        self.room_id = room_id
        self.pid = pid
        self.reply = reply
        self.subscribe = subscribe and not mesh  # a recording leg only sends: mesh media reaches the others
        self.mesh = mesh
        self.used = False

    async def worker(self, ref: str | None = None) -> str | None:
        # Imported here: it loads aiortc, which a server that never needs the SFU should not pay for.
        from django_levelchat.sfu.embedded import embedded_enabled, ensure_worker
        from django_levelchat.sfu.selfcheck import SfuUnsupported

        leases = get_leases()
        worker = await leases.assign(self.room_id)
        if worker is None and embedded_enabled():
            try:
                await ensure_worker()
            except SfuUnsupported as exc:
                raise ProtocolError(ErrorCode.SFU_UNAVAILABLE, str(exc), ref=ref) from None
            worker = await leases.assign(self.room_id)
        return worker

    async def request(self, op: str, ref: str | None = None, **fields: Any) -> None:
        worker = await self.worker(ref)
        if worker is None:
            raise ProtocolError(
                ErrorCode.SFU_UNAVAILABLE, "no SFU worker serves this room (start manage.py runsfu)", ref=ref
            )
        self.used = True
        message = {
            "type": SFU_MESSAGE_TYPE,
            "op": op,
            "room": self.room_id,
            "participant": self.pid,
            "reply": self.reply(),
            "ref": ref,
            "subscribe": self.subscribe,
            "mesh": self.mesh,
            **fields,
        }
        await get_channel_layer().send(worker_channel(worker), message)


class MeshRouter:
    """Mesh rooms: preferences and subscriptions are relayed to the publishers, who adapt their own senders."""

    def __init__(self, room_id: str, pid: str, sfu: SfuLink) -> None:
        self.room_id = room_id
        self.pid = pid
        self.sfu = sfu

    async def target(self, pid: str, ref: str | None) -> Entry:
        entry = await get_presence().get(self.room_id, pid)
        if entry is None:
            raise ProtocolError(ErrorCode.UNKNOWN_PARTICIPANT, f"no participant {pid} in this room", ref=ref)
        return entry

    async def sfu_signal(self, msg: protocol.SfuSignal) -> None:
        """Answered by the worker (``ack`` or ``error`` with ``ref``)."""
        fields: dict[str, Any] = (
            {"description": msg.description.to_wire()}
            if msg.description is not None
            else {"candidate": msg.candidate.to_wire() if msg.candidate is not None else None}
        )
        await self.sfu.request("signal", ref=msg.id, **fields)

    async def published(self, track: protocol.TrackInfo) -> None:
        """Hand the track's transceiver mids to the worker (the publish itself was already acked)."""
        if not track.mids:
            return
        try:
            await self.sfu.request("publish", track=track.to_wire())
        except ProtocolError as exc:
            logger.info("track %s of %s not on the SFU: %s", track.sid, self.pid, exc.message)

    async def sfu_leg(self, track: protocol.TrackInfo, ref: str | None) -> None:
        """A track already published gets (new) SFU transceivers: a mesh room's recording leg, or a new SFU
        connection after failover. Only the worker hears of it, and answers (``ack`` or ``error`` with ``ref``)."""
        await self.sfu.request("publish", ref=ref, track=track.to_wire())

    async def joined(self) -> None:
        """Nothing to do in a mesh room: peers connect to each other."""

    async def sfu_state(self) -> str | None:
        """``room.sfu`` of snapshots: None in a mesh room."""
        return None

    async def subscription(self, msg: protocol.Subscribe | protocol.Unsubscribe, *, subscribed: bool) -> None:
        build = protocol.subscribe if subscribed else protocol.unsubscribe
        target = await self.target(msg.participant, msg.id)
        if target.get("channel"):
            await rooms.send_frame(target["channel"], build(from_=self.pid, kind=msg.kind, track=msg.track))

    async def preferred_quality(self, msg: protocol.SetPreferredQuality) -> None:
        frame = protocol.set_preferred_quality(from_=self.pid, quality=msg.quality)
        if msg.participant is not None:
            target = await self.target(msg.participant, msg.id)
            if target.get("channel"):
                await rooms.send_frame(target["channel"], frame)
            return
        await rooms.send_to_publishers(self.room_id, frame, exclude=self.pid)


class SfuRouter(MeshRouter):
    """SFU rooms: the worker forwards every published track; preferences pick layers there.

    Subscriptions and preferences also still reach the publishers as mesh relays: until every client speaks
    the SFU path (the browser SDK does not yet), a live room's browsers keep meshing and adapt their senders.
    """

    async def joined(self) -> None:
        """Connect to the worker now, so it offers this participant the room's tracks."""
        await self.sfu.request("join")

    async def sfu_state(self) -> str | None:
        try:
            return "ready" if await self.sfu.worker() is not None else "unavailable"
        except ProtocolError:
            return "unavailable"

    async def subscription(self, msg: protocol.Subscribe | protocol.Unsubscribe, *, subscribed: bool) -> None:
        await super().subscription(msg, subscribed=subscribed)
        await self.sfu.request(
            "subscription", publisher=msg.participant, subscribed=subscribed, kind=msg.kind, track=msg.track
        )

    async def preferred_quality(self, msg: protocol.SetPreferredQuality) -> None:
        await super().preferred_quality(msg)
        await self.sfu.request("quality", quality=msg.quality, publisher=msg.participant)


async def router_for(
    room: Room, pid: str, reply: Callable[[], str], *, subscribe: bool, promoted: bool | None = None
) -> MeshRouter:
    sfu = await uses_sfu(room, promoted)
    link = SfuLink(room.public_id, pid, reply, subscribe=subscribe, mesh=not sfu)
    return (SfuRouter if sfu else MeshRouter)(room.public_id, pid, link)
