"""The SFU worker: one asyncio process (or task, embedded) serving rooms, reached only over the channel layer.

It listens on its own channel (``sfu.<worker id>``) for requests the signaling consumers forward
(``{"type": "lc.sfu", "op": ..., "room", "participant", "reply", "ref", ...}``, see docs/sfu.md), joins each served
room's group to see departures and unpublished tracks, heartbeats its lease, and claims the rooms of workers whose
heartbeat expired. Media never touches the channel layer: it flows over the peer connections of ``SfuRoom``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from channels.layers import get_channel_layer

from django_levelchat import protocol
from django_levelchat.conf import levelchat_settings
from django_levelchat.protocol import ErrorCode, ProtocolError
from django_levelchat.sfu import recording
from django_levelchat.sfu.leases import Leases, get_leases, worker_channel
from django_levelchat.sfu.room import Peer, SfuConfig, SfuRoom
from django_levelchat.sfu.selfcheck import check_aiortc
from django_levelchat.signaling import rooms
from django_levelchat.signaling.presence import get_presence
from django_levelchat.signaling.speaker import REPORT_RATE, LevelSmoother

logger = logging.getLogger("django_levelchat.sfu")

MESSAGE_TYPE = "lc.sfu"


def config_from_settings() -> SfuConfig:
    return SfuConfig(
        ice_servers=list(levelchat_settings.SFU_ICE_SERVERS),
        start_bitrate=int(levelchat_settings.SFU_START_BITRATE),
        keyframe_interval=float(levelchat_settings.SFU_KEYFRAME_INTERVAL),
        last_n=int(levelchat_settings.SFU_LAST_N),
        audio_top=int(levelchat_settings.SFU_AUDIO_TOP),
        allow_private_candidates=bool(levelchat_settings.SFU_ALLOW_PRIVATE_CANDIDATES),
        announced_address=levelchat_settings.SFU_ANNOUNCED_ADDRESS,
        candidate_addresses=frozenset(addresses) if (addresses := levelchat_settings.SFU_CANDIDATE_ADDRESSES) else None,
    )


class ServedRoom:
    """A room this worker serves: its media state, its members' reply channels, and one queue of work."""

    def __init__(self, worker: SfuWorker, room_id: str) -> None:
        self.worker = worker
        self.room_id = room_id
        self.replies: dict[str, str] = {}
        self.media = SfuRoom(room_id, self.deliver, worker.config, on_failed=self._failed)
        self.recording = recording.RoomRecording(room_id, self.media, worker.worker_id)
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.events_channel = ""
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        layer = self.worker.layer
        self.events_channel = await layer.new_channel()
        await layer.group_add(rooms.room_group(self.room_id), self.events_channel)
        self.tasks = [
            asyncio.ensure_future(self._work()),
            asyncio.ensure_future(self._events()),
            asyncio.ensure_future(self._speakers()),
        ]

    async def _speakers(self) -> None:
        """Active speaker from the RFC 6464 level publishers put on their audio packets (no decoding), fed to
        the same detection as client ``audio-level`` reports (signaling/speaker.py)."""
        smoothers: dict[str, LevelSmoother] = {}
        talking: set[str] = set()
        presence = get_presence()
        while True:
            await asyncio.sleep(1 / REPORT_RATE)
            now = time.time()
            heard = self.media.audio_levels(within=0.5)
            updated = False
            for pid in set(heard) | talking:
                level = 10 ** (-heard[pid] / 20) if pid in heard else 0.0
                smoothed = smoothers.setdefault(pid, LevelSmoother()).observe(level, now)
                if smoothed > 0 or pid in talking:
                    (talking.add if smoothed > 0 else talking.discard)(pid)
                    with contextlib.suppress(*rooms.LAYER_ERRORS):
                        await presence.set_speaker_state(self.room_id, pid, smoothed, now)
                    updated = True
            if updated:
                with contextlib.suppress(*rooms.LAYER_ERRORS):
                    await rooms.update_active_speaker(self.room_id, now)

    async def deliver(self, pid: str, frame: dict[str, Any]) -> None:
        reply = self.replies.get(pid)
        if reply:
            with contextlib.suppress(*rooms.LAYER_ERRORS):
                await rooms.send_frame(reply, frame)

    def _failed(self, peer: Peer) -> None:
        self.queue.put_nowait({"op": "failed", "peer": peer})

    async def _restart(self, peer: Peer) -> None:
        """A member's connection failed (ICE consent expired on a loaded or changing network): its client is told
        ``unavailable`` then ``ready``, exactly as after a failover, and gets a fresh connection."""
        if await get_presence().get(self.room_id, peer.pid) is None:
            return  # it left the room (its client closed the connection): participant-left follows
        fresh = await self.media.restart(peer)
        if fresh is None:
            return
        logger.warning("SFU connection of %s in %s failed: starting it over", peer.pid, self.room_id)
        await self.deliver(peer.pid, protocol.sfu_state(state="unavailable", reason="connection_failed"))
        await self.deliver(peer.pid, protocol.sfu_state(state="ready"))
        await self.media.offer(fresh)

    async def _events(self) -> None:
        while True:
            try:
                message = await self.worker.layer.receive(self.events_channel)
            except rooms.LAYER_ERRORS:
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == rooms.EVENT and message.get("event") in (
                "participant-left",
                "track-unpublished",
                "room-ended",
            ):
                await self.queue.put({"op": "event", "frame": json.loads(message["text"])})

    async def _work(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self.handle(message)
            except ProtocolError as exc:
                await self._answer(message, exc.to_frame())
            except Exception as exc:  # aiortc refusing a description, a transport that failed mid-way
                logger.warning("SFU request %s in %s failed: %r", message.get("op"), self.room_id, exc)
                error = protocol.error(ErrorCode.BAD_SDP, f"the SFU could not apply this request: {exc}")
                await self._answer(message, error)
            else:
                if message.get("ref") is not None and message["op"] in ("signal", "join", "publish"):
                    await self._answer(message, protocol.ack(message["ref"]))
            if not self.media.peers and not self.replies and self.recording.recording is None:
                await self.worker.drop_room(self.room_id)
                return

    async def _answer(self, message: dict[str, Any], frame: dict[str, Any]) -> None:
        reply = message.get("reply")
        if not reply:
            return
        if message.get("ref") is not None:
            frame = {**frame, "ref": message["ref"]}
        with contextlib.suppress(*rooms.LAYER_ERRORS):
            await rooms.send_frame(reply, frame)

    async def handle(self, message: dict[str, Any]) -> None:
        op = message["op"]
        media = self.media
        if op == "event":
            await self._on_event(message["frame"])
            return
        if op == "failed":
            await self._restart(message["peer"])
            return
        if op in recording.OPS:  # from a client's frame or from server code (no participant, maybe no peer)
            await self.recording.handle(message)
            if self.recording.recording is None:
                await self._close_legs()
            return
        pid = message["participant"]
        leg = bool(message.get("mesh"))
        if leg and op in ("join", "signal", "publish") and self.recording.recording is None:
            raise ProtocolError(
                ErrorCode.BAD_STATE,
                "this room's media is peer to peer: the SFU takes it only while the room is recorded",
                ref=message.get("ref"),
            )
        self.replies[pid] = message["reply"]
        subscribe = bool(message.get("subscribe", True))
        if op == "join":
            await media.join(pid, subscribe=subscribe, leg=leg)
        elif op == "signal":
            await media.join(pid, subscribe=subscribe, leg=leg)
            if message.get("description") is not None:
                description = protocol.SessionDescription.parse(
                    message["description"], "description", max_mlines=protocol.MAX_SFU_SDP_MLINES
                )
                await media.signal(pid, description=description)
            elif message.get("candidate") is not None:
                await media.signal(pid, candidate=protocol.IceCandidate.parse(message["candidate"], "candidate"))
        elif op == "publish":
            await media.join(pid, subscribe=subscribe, leg=leg)
            await media.publish(pid, message["track"])
            self.recording.sync()
        elif op == "quality" and pid in media.peers:
            await media.set_quality(pid, message["quality"], message.get("publisher"))
        elif op == "subscription" and pid in media.peers:
            await media.set_subscribed(
                pid,
                message["publisher"],
                subscribed=bool(message["subscribed"]),
                kind=message.get("kind"),
                sid=message.get("track"),
            )
        elif op == "leave":
            await self._leave(pid)

    async def _on_event(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "participant-left":
            await self._leave(frame["participant"]["id"])
        elif kind == "track-unpublished":
            await self.media.unpublish(frame["participant"], frame["track"])
        elif kind == "room-ended":
            await self.recording.close()
            for pid in list(self.replies):
                await self._leave(pid)

    async def _close_legs(self) -> None:
        """The recording ended: a mesh room's recording legs have nothing left to carry (their clients close
        them too on the ``recording`` event)."""
        for pid in [pid for pid, peer in self.media.peers.items() if peer.leg]:
            await self._leave(pid)

    async def _leave(self, pid: str) -> None:
        self.replies.pop(pid, None)
        await self.media.leave(pid)

    async def close(self) -> None:
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(*rooms.LAYER_ERRORS):
            await self.worker.layer.group_discard(rooms.room_group(self.room_id), self.events_channel)
        await self.recording.close()
        await self.media.close()


class SfuWorker:
    """Serves the rooms assigned to it. ``run()`` until cancelled; ``stop()`` hands its rooms back."""

    def __init__(self, worker_id: str | None = None, *, config: SfuConfig | None = None) -> None:
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.channel = worker_channel(self.worker_id)
        self.config = config or config_from_settings()
        self.layer: Any = get_channel_layer()
        self.leases: Leases = get_leases()
        self.rooms: dict[str, ServedRoom] = {}
        self.heartbeat = float(levelchat_settings.SFU_HEARTBEAT)
        self.lease_ttl = float(levelchat_settings.SFU_LEASE_TTL)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        check_aiortc()
        await recording.fail_leftovers(self.worker_id)
        await self.leases.heartbeat(self.worker_id, self.lease_ttl)
        tasks = [asyncio.ensure_future(self._heartbeats()), asyncio.ensure_future(self._receive())]
        self.ready.set()
        logger.info("SFU worker %s listening on %s", self.worker_id, self.channel)
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await self.stop()

    async def stop(self) -> None:
        with contextlib.suppress(*rooms.LAYER_ERRORS):
            await self.leases.retire(self.worker_id)
        for room_id in list(self.rooms):
            await self.drop_room(room_id)

    async def _heartbeats(self) -> None:
        while True:
            try:
                await self.leases.heartbeat(self.worker_id, self.lease_ttl)
                await self._take_over_orphans()
            except rooms.LAYER_ERRORS as exc:
                logger.warning("SFU worker %s cannot reach the lease store: %r", self.worker_id, exc)
            await asyncio.sleep(self.heartbeat)

    async def _take_over_orphans(self) -> None:
        """Claim rooms whose worker stopped heartbeating; their clients renegotiate with us on ``ready``."""
        for room_id, dead in await self.leases.orphaned():
            if not await self.leases.claim(room_id, dead, self.worker_id):
                continue
            logger.warning("SFU worker %s took over room %s from %s", self.worker_id, room_id, dead)
            await rooms.broadcast(room_id, protocol.sfu_state, state="unavailable", reason="worker_lost")
            await recording.recover(room_id, dead)
            await self._room(room_id)
            await rooms.broadcast(room_id, protocol.sfu_state, state="ready")

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except rooms.LAYER_ERRORS as exc:
                logger.warning("SFU worker %s: channel layer receive failed: %r", self.worker_id, exc)
                await asyncio.sleep(1.0)
                continue
            if message.get("type") != MESSAGE_TYPE or not isinstance(message.get("room"), str):
                continue
            served = await self._room(message["room"])
            await served.queue.put(message)

    async def _room(self, room_id: str) -> ServedRoom:
        served = self.rooms.get(room_id)
        if served is None:
            served = self.rooms[room_id] = ServedRoom(self, room_id)
            await served.start()
        return served

    async def drop_room(self, room_id: str) -> None:
        served = self.rooms.pop(room_id, None)
        if served is None:
            return
        await served.close()
        with contextlib.suppress(*rooms.LAYER_ERRORS):
            await self.leases.release(room_id, self.worker_id)
            await self.leases.demote(room_id)  # everyone left: a meeting starts over on the mesh
