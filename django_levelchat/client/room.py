"""The participant API of the Python client: ``join_room`` / ``join_live`` and the Room they return.

It mirrors the browser SDK (docs/sdk.md): the same event names (``participant-joined``, ``track-subscribed``, …),
the same roster and track bookkeeping, and the same resume behaviour (a resumed session keeps its peer
connections and renegotiates them; a session that could not be resumed starts over with a new participant id and
publishes its tracks again). Media goes peer to peer (``mesh.MeshTransport``) in mesh rooms and through the SFU
worker (``sfu.SfuConnection``) in live and webinar rooms and meetings that outgrew the mesh; signaling through
``signaling.Session``. While a mesh room is recorded the published tracks also go to the SFU worker on a
send-only recording leg (an ``SfuConnection`` that receives nothing), since recording happens there.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from django_levelchat import protocol as p
from django_levelchat.client.mesh import LocalMedia, MeshTransport
from django_levelchat.client.sfu import FrameCopies, SfuConnection
from django_levelchat.client.signaling import Backoff, Close, Frame, JoinError, RequestError, Session, SessionState

log = logging.getLogger("django_levelchat.client")

#: The events a Room emits and their arguments (the SDK's names; docs/python-client.md).
EVENTS = frozenset(
    {
        "participant-joined",  # (participant)
        "participant-left",  # (participant, reason)
        "participant-updated",  # (participant)
        "participant-reconnecting",  # (participant)
        "participant-reconnected",  # (participant)
        "track-published",  # (publication, participant)
        "track-unpublished",  # (publication, participant)
        "track-subscribed",  # (track, publication, participant): track is the aiortc remote MediaStreamTrack
        "track-unsubscribed",  # (publication, participant)
        "track-muted",  # (publication, participant, by)
        "local-track-published",  # (publication)
        "local-track-unpublished",  # (publication, reason)
        "active-speaker",  # (participant | None)
        "connection-state",  # (state, close | None)
        "connection-quality",  # (quality, participant)
        "peer-state",  # (participant, RTCPeerConnection.connectionState)
        "chat-message",  # (message dict: id, from, text, to, ts)
        "reaction",  # (reaction dict: emoji, from)
        "recording",  # (state, details)
        "error",  # (frame or exception)
    }
)


@dataclass
class TrackPublication:
    """A published track: ``track`` is the media (local source, or the remote aiortc track once subscribed)."""

    sid: str
    kind: str
    source: str
    participant_id: str
    muted: bool = False
    name: str | None = None
    track: MediaStreamTrack | None = None

    @property
    def subscribed(self) -> bool:
        return self.track is not None


@dataclass
class Participant:
    id: str
    identity: str
    name: str = ""
    role: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    tracks: dict[str, TrackPublication] = field(default_factory=dict)
    reconnecting: bool = False
    is_local: bool = False

    def track_of(self, source: str) -> TrackPublication | None:
        return next((t for t in self.tracks.values() if t.source == source), None)


Listener = Callable[..., Any]


class Room:
    """A joined room. Create it with ``join_room`` or ``join_live``."""

    def __init__(self, token: str, url: str, *, viewer: bool = False, origin: str | None = None) -> None:
        self.token = token
        self.url = url
        self.viewer = viewer
        self.id = ""
        self.name = ""
        self.room_type = ""
        self.metadata: dict[str, Any] = {}
        self.recording: str | None = None
        self.participants: dict[str, Participant] = {}
        self.local_participant = Participant(id="", identity="", is_local=True)
        self.chat_history: list[dict[str, Any]] = []
        self.ice_servers: list[dict[str, Any]] = []
        self.ready: asyncio.Future[Room] = asyncio.get_running_loop().create_future()
        self.transport: MeshTransport | None = None
        self.sfu: SfuConnection | None = None
        # Each SFU connection sends its own proxy of our tracks: aiortc stops the track a sender sends when the
        # sender stops, and the connection that replaces a closed one (failover, a failed connection, glare, a
        # session that could not resume) must still have frames to send.
        self._sfu_relay = MediaRelay()
        self.on_sfu = False  # the room's media goes through the SFU (room.sfu / sfu-state), not the mesh
        self.sfu_state: str | None = None  # room.sfu of the last snapshot, then sfu-state: ready / unavailable
        self._listeners: dict[str, list[Listener]] = {}
        self._local: dict[str, LocalMedia] = {}
        self._unmatched: dict[str, list[MediaStreamTrack]] = {}  # remote media whose sid is not known yet
        self._tasks: set[asyncio.Task[Any]] = set()
        self.session = Session(
            url,
            token,
            on_welcome=self._on_welcome,
            on_frame=self._on_frame,
            on_state=self._on_state,
            origin=origin,
            backoff=Backoff(),
        )

    # -- events

    def on(self, event: str, listener: Listener) -> Listener:
        """Call ``listener(*args)`` on ``event`` (a coroutine function runs as a task). Returns the listener."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; one of {sorted(EVENTS)}")
        self._listeners.setdefault(event, []).append(listener)
        return listener

    def off(self, event: str, listener: Listener) -> None:
        if listener in self._listeners.get(event, []):
            self._listeners[event].remove(listener)

    def emit(self, event: str, *args: Any) -> None:
        for listener in list(self._listeners.get(event, [])):
            try:
                result = listener(*args)
            except Exception:
                log.exception("a %s listener failed", event)
                continue
            if asyncio.iscoroutine(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def wait_for(
        self, event: str, predicate: Callable[..., bool] = lambda *a: True, timeout: float = 30
    ) -> tuple:
        """The arguments of the next ``event`` for which ``predicate(*args)`` holds (TimeoutError after ``timeout``)."""
        future: asyncio.Future[tuple] = asyncio.get_running_loop().create_future()

        def check(*args: Any) -> None:
            if not future.done() and predicate(*args):
                future.set_result(args)

        self.on(event, check)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self.off(event, check)

    # -- state

    @property
    def state(self) -> str:
        return self.session.state

    async def connect(self) -> Room:
        try:
            await self.session.start()
        except JoinError as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
                self.ready.exception()  # retrieved: the caller gets the raise below
            raise
        return self

    # -- actions

    async def publish_track(
        self, track: MediaStreamTrack, source: str = "camera", *, name: str | None = None
    ) -> TrackPublication:
        """Publish any aiortc MediaStreamTrack as ``source`` (camera, microphone, screen, screen_audio)."""
        if self.viewer:
            raise PermissionError("a join_live viewer cannot publish")
        kind = p.SOURCE_KINDS.get(source)
        if kind is None:
            raise ValueError(f"source must be one of {sorted(p.SOURCE_KINDS)}")
        if track.kind != kind:
            raise ValueError(f"a {source} track is {kind}, this one is {track.kind}")
        sid = f"TR_{source}-{secrets.token_hex(6)}"
        info = {"sid": sid, "kind": kind, "source": source, "muted": False, **({"name": name} if name else {})}
        await self.session.request({"type": "publish", "track": info})
        media = LocalMedia(sid=sid, kind=kind, source=source, track=track)
        self._local[sid] = media
        publication = TrackPublication(sid, kind, source, self.local_participant.id, name=name, track=track)
        self.local_participant.tracks[sid] = publication
        if self.transport is not None:
            self.transport.publish(media)
        self._sync_sfu()
        self.emit("local-track-published", publication)
        return publication

    async def unpublish_track(self, sid: str) -> None:
        """Withdraw a published track and stop it (the room owns a track once it is published)."""
        media = self._local.pop(sid, None)
        if media is not None:
            media.track.stop()
        publication = self.local_participant.tracks.pop(sid, None)
        if self.transport is not None:
            self.transport.unpublish(sid)
        if self.sfu is not None:
            await self.sfu.unpublish(sid)
        await self.session.request({"type": "unpublish", "track": sid})
        if publication is not None:
            self.emit("local-track-unpublished", publication, None)

    async def send_chat(self, text: str, *, to: str | None = None) -> Frame:
        """Send a chat message (to the room, or privately ``to`` a participant id); returns the ack (id, ts)."""
        return await self.session.request({"type": "chat", "text": text, **({"to": to} if to else {})})

    async def react(self, emoji: str) -> Frame:
        return await self.session.request({"type": "reaction", "emoji": emoji})

    async def set_preferred_quality(self, quality: str, *, participant: str | None = None) -> Frame:
        """The video quality to receive (low, medium, high, auto), from everyone or from one participant."""
        if quality not in p.PREFERRED_QUALITIES:
            raise ValueError(f"quality must be one of {sorted(p.PREFERRED_QUALITIES)}")
        frame = {"type": "set-preferred-quality", "quality": quality}
        return await self.session.request({**frame, **({"participant": participant} if participant else {})})

    def drop_connection(self) -> None:
        """Drop the signaling socket as a network failure would; the room reconnects and resumes."""
        self.session.drop()

    async def leave(self) -> None:
        """Leave on purpose: others see ``client_initiated``; the peer connections close and the published
        tracks are stopped."""
        await self.session.leave()
        await self._close_media()
        for media in self._local.values():
            media.track.stop()

    async def _close_media(self) -> None:
        await self._close_sfu()
        if self.transport is not None:
            await self.transport.close()
        for task in list(self._tasks):
            task.cancel()

    # -- signaling callbacks

    def _on_state(self, state: str, close: Close | None) -> None:
        self.emit("connection-state", state, close)
        if state in (SessionState.FAILED, SessionState.DISCONNECTED) and self.transport is not None:
            task = asyncio.ensure_future(self._close_media())
            self._tasks.add(task)

    async def _on_welcome(self, welcome: Frame, resumed: bool) -> None:
        self._apply_room(welcome["room"])
        you = welcome["you"]
        local = self.local_participant
        first = not local.id
        local.id, local.identity = you["id"], you["identity"]
        local.name, local.role = you.get("name") or you["identity"], you.get("role", "")
        local.metadata, local.capabilities = you.get("metadata") or {}, list(you.get("capabilities", []))
        self.ice_servers = list(welcome.get("ice_servers") or [])
        if not resumed:
            if not first:
                log.info("the session could not be resumed; joined again as %s", local.id)
            await self._close_sfu()  # it belonged to the old participant id; the worker dropped it
            if self.transport is not None:
                await self.transport.close()
            self.transport = None if self.on_sfu else self._new_transport()
            for publication in local.tracks.values():
                publication.participant_id = local.id
        self._apply_roster(welcome["roster"], announce=not first, new_session=not first and not resumed)
        self.chat_history = list(welcome.get("chat") or [])
        if not first and not resumed:
            for media in self._local.values():
                info = {"sid": media.sid, "kind": media.kind, "source": media.source, "muted": False}
                await self.session.send({"type": "publish", "track": info})
        elif resumed and self.transport is not None:
            self.transport.restart_ice()
        self._sync_sfu()
        if not self.ready.done():
            self.ready.set_result(self)

    # -- the SFU connection (SFU rooms, and the recording leg of mesh rooms)

    @property
    def leg(self) -> SfuConnection | None:
        """The recording leg while one is open (a mesh room being recorded)."""
        return self.sfu if self.sfu is not None and not self.sfu.receiving else None

    def _sync_sfu(self) -> None:
        """Have the SFU connection the room needs now: sending and receiving in an SFU room while its worker is
        ready; the send-only recording leg while a mesh room is recorded and we publish; otherwise none."""
        receive = self.on_sfu
        if receive:
            wanted = self.sfu_state != "unavailable"
            if self.transport is not None:  # a meeting that moved to the SFU: the mesh goes
                transport, self.transport = self.transport, None
                self._spawn(transport.close())
                for participant in self.participants.values():
                    self._unsubscribe(participant)
        else:
            wanted = self.recording is not None and not self.viewer and self.transport is not None and bool(self._local)
        if self.sfu is not None and (not wanted or self.sfu.receiving != receive):
            self._drop_sfu()
        if not wanted:
            return
        if self.sfu is None:
            self.sfu = self._new_sfu(receive)
        if self._local and not self.viewer:
            self._spawn(self._publish_on_sfu(self.sfu, list(self._local.values())))

    def _new_sfu(self, receive: bool) -> SfuConnection:
        if receive:
            return SfuConnection(
                ice=self.ice_servers,
                request=self.session.request,
                share=lambda track: self._sfu_relay.subscribe(track, buffered=False),
                on_remote_track=self._on_remote_track,
            )
        assert self.transport is not None
        relay = self.transport.relay  # the leg sends copies of what the mesh sends
        return SfuConnection(
            ice=self.ice_servers,
            request=self.session.request,
            share=lambda track: FrameCopies(relay.subscribe(track, buffered=False)),
        )

    async def _publish_on_sfu(self, sfu: SfuConnection, media: list[LocalMedia]) -> None:
        try:
            await sfu.publish(media)
        except (RequestError, TimeoutError) as exc:  # no worker, or the recording ended meanwhile
            log.warning("could not send our tracks to the SFU: %s", exc)
            if self.sfu is sfu and not sfu.receiving:
                await self._close_sfu()

    async def _close_sfu(self) -> None:
        sfu, self.sfu = self.sfu, None
        if sfu is not None:
            await sfu.close()

    def _drop_sfu(self) -> None:
        """Forget the SFU connection now (a new one may open at once) and close it in the background."""
        sfu, self.sfu = self.sfu, None
        if sfu is not None:
            self._spawn(sfu.close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _new_transport(self) -> MeshTransport:
        transport = MeshTransport(
            self.local_participant.id,
            ice=self.ice_servers,
            send_signal=self.session.send,
            on_remote_track=self._on_remote_track,
            on_peer_state=lambda pid, state: self.emit("peer-state", self.participants.get(pid), state),
        )
        for media in self._local.values():
            transport.publish(media)
        return transport

    def _apply_room(self, room: Mapping[str, Any]) -> None:
        self.id = room.get("id", self.id)
        self.name = room.get("name") or self.name
        self.room_type = room.get("room_type") or self.room_type
        self.metadata = room.get("metadata") or {}
        self.recording = room.get("recording")
        self.on_sfu = room.get("sfu") is not None
        self.sfu_state = room.get("sfu")

    def _apply_roster(self, roster: list[Mapping[str, Any]], *, announce: bool, new_session: bool = False) -> None:
        ids = {info["id"] for info in roster}
        for participant in list(self.participants.values()):
            if participant.id not in ids:
                self._remove_participant(participant, "connection_lost")
            elif new_session:
                self._unsubscribe(participant)
        for info in roster:
            if info["id"] == self.local_participant.id:
                continue
            member = self.participants.get(info["id"])
            if member is None:
                self._add_participant(info, announce)
            else:
                member.reconnecting = info.get("state") == "reconnecting"
                known = set(member.tracks)
                for track in info.get("tracks") or []:
                    if track["sid"] not in known:
                        self._add_publication(member, track, announce)
            if self.transport is not None:
                self.transport.add_participant(info["id"])

    def _unsubscribe(self, participant: Participant) -> None:
        """Their media is gone (they left, our connection carrying it closed): it comes again as a new track."""
        for publication in participant.tracks.values():
            if publication.track is not None:
                publication.track = None
                self.emit("track-unsubscribed", publication, participant)

    def _add_participant(self, info: Mapping[str, Any], announce: bool) -> Participant:
        participant = Participant(
            id=info["id"],
            identity=info.get("identity", ""),
            name=info.get("name") or info.get("identity", ""),
            role=info.get("role", ""),
            metadata=dict(info.get("metadata") or {}),
            reconnecting=info.get("state") == "reconnecting",
        )
        self.participants[participant.id] = participant
        if announce:
            self.emit("participant-joined", participant)
        for track in info.get("tracks") or []:
            self._add_publication(participant, track, announce)
        return participant

    def _remove_participant(self, participant: Participant, reason: str) -> None:
        self.participants.pop(participant.id, None)
        self._unmatched.pop(participant.id, None)
        self._unsubscribe(participant)
        if self.transport is not None:
            task = asyncio.ensure_future(self.transport.remove_participant(participant.id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.emit("participant-left", participant, reason)

    def _add_publication(self, participant: Participant, info: Mapping[str, Any], announce: bool) -> None:
        publication = TrackPublication(
            sid=info["sid"],
            kind=info["kind"],
            source=info["source"],
            participant_id=participant.id,
            muted=bool(info.get("muted", False)),
            name=info.get("name"),
        )
        participant.tracks[publication.sid] = publication
        if announce:
            self.emit("track-published", publication, participant)
        waiting = self._unmatched.get(participant.id, [])
        for track in waiting:
            if track.kind == publication.kind:
                waiting.remove(track)
                self._subscribed(track, publication, participant)
                break

    def _on_remote_track(self, participant_id: str, sid: str | None, track: MediaStreamTrack) -> None:
        participant = self.participants.get(participant_id)
        if participant is None:
            return
        publication = participant.tracks.get(sid) if sid else None
        if publication is None and sid is None:
            # The remote did not say which track this is: the only unsubscribed one of that kind, if any.
            candidates = [t for t in participant.tracks.values() if t.kind == track.kind and t.track is None]
            publication = candidates[0] if len(candidates) == 1 else None
        if publication is None:
            self._unmatched.setdefault(participant_id, []).append(track)
            return
        self._subscribed(track, publication, participant)

    def _subscribed(self, track: MediaStreamTrack, publication: TrackPublication, participant: Participant) -> None:
        publication.track = track
        self.emit("track-subscribed", track, publication, participant)

    async def _on_frame(self, frame: Frame) -> None:
        type_ = str(frame.get("type"))
        handler = getattr(self, "_frame_" + type_.replace("-", "_"), None)
        if handler is not None:
            handler(frame)
        elif type_ == "sfu-signal" and self.sfu is not None:
            await self.sfu.handle_signal(frame)

    def _frame_signal(self, frame: Frame) -> None:
        if self.transport is not None:
            self.transport.handle_signal(frame)

    def _frame_participant_joined(self, frame: Frame) -> None:
        info = frame["participant"]
        if info["id"] == self.local_participant.id:
            return
        participant = self.participants.get(info["id"])
        if participant is None:
            self._add_participant(info, True)
        else:  # already known (a snapshot had them): add what is new
            for track in info.get("tracks") or []:
                if track["sid"] not in participant.tracks:
                    self._add_publication(participant, track, True)
        if self.transport is not None:
            self.transport.add_participant(info["id"])

    def _frame_participant_left(self, frame: Frame) -> None:
        participant = self.participants.get(frame["participant"]["id"])
        if participant is not None:
            self._remove_participant(participant, frame["reason"])

    def _frame_participant_updated(self, frame: Frame) -> None:
        info = frame["participant"]
        target = (
            self.local_participant if info["id"] == self.local_participant.id else self.participants.get(info["id"])
        )
        if target is None:
            return
        target.name = info.get("name") or target.name
        target.role = info.get("role", target.role)
        if "metadata" in info:
            target.metadata = dict(info["metadata"] or {})
        if "capabilities" in info:
            target.capabilities = list(info["capabilities"])
        self.emit("participant-updated", target)

    def _frame_participant_reconnecting(self, frame: Frame) -> None:
        if participant := self.participants.get(frame["participant"]["id"]):
            participant.reconnecting = True
            self.emit("participant-reconnecting", participant)

    def _frame_participant_reconnected(self, frame: Frame) -> None:
        if participant := self.participants.get(frame["participant"]["id"]):
            participant.reconnecting = False
            self.emit("participant-reconnected", participant)

    def _frame_track_published(self, frame: Frame) -> None:
        participant = self.participants.get(frame["participant"])
        if participant is not None and frame["track"]["sid"] not in participant.tracks:
            self._add_publication(participant, frame["track"], True)

    def _frame_track_unpublished(self, frame: Frame) -> None:
        if frame["participant"] == self.local_participant.id:
            publication = self.local_participant.tracks.pop(frame["track"], None)
            self._local.pop(frame["track"], None)
            if self.transport is not None:
                self.transport.unpublish(frame["track"])
            if self.sfu is not None:
                self._spawn(self.sfu.unpublish(frame["track"]))
            if publication is not None:
                self.emit("local-track-unpublished", publication, frame.get("reason"))
            return
        participant = self.participants.get(frame["participant"])
        publication = participant.tracks.pop(frame["track"], None) if participant else None
        if participant is None or publication is None:
            return
        if publication.track is not None:
            publication.track = None
            self.emit("track-unsubscribed", publication, participant)
        self.emit("track-unpublished", publication, participant)

    def _frame_track_muted(self, frame: Frame) -> None:
        pid = frame["participant"]
        participant = self.local_participant if pid == self.local_participant.id else self.participants.get(pid)
        publication = participant.tracks.get(frame["track"]) if participant else None
        if publication is not None:
            publication.muted = bool(frame["muted"])
            self.emit("track-muted", publication, participant, frame.get("by"))

    def _frame_chat_message(self, frame: Frame) -> None:
        message = {k: frame.get(k) for k in ("id", "from", "text", "to", "ts")}
        self.chat_history.append(message)
        self.emit("chat-message", message)

    def _frame_reaction(self, frame: Frame) -> None:
        self.emit("reaction", {"emoji": frame["emoji"], "from": frame["from"]})

    def _frame_active_speaker(self, frame: Frame) -> None:
        self.emit("active-speaker", self.participants.get(frame["participant"] or ""))

    def _frame_connection_quality(self, frame: Frame) -> None:
        pid = frame["participant"]
        participant = self.local_participant if pid == self.local_participant.id else self.participants.get(pid)
        self.emit("connection-quality", frame["quality"], participant)

    def _frame_recording(self, frame: Frame) -> None:
        self.recording = frame.get("recording") if frame["state"] == "started" else None
        self._sync_sfu()
        self.emit("recording", frame["state"], {k: v for k, v in frame.items() if k in ("recording", "reason")})

    def _frame_resync(self, frame: Frame) -> None:
        self._apply_room(frame["room"])
        self._apply_roster(frame["roster"], announce=True)
        self._sync_sfu()

    def _frame_sfu_state(self, frame: Frame) -> None:
        """``unavailable``: the worker is gone or our connection to it failed; ``ready``: connect (again). In a
        mesh room ``ready`` means the meeting moved to the SFU: the resync's ``room.sfu`` says so."""
        self.sfu_state = frame["state"]
        if frame["state"] == "unavailable":
            self._drop_sfu()
            if self.on_sfu:
                for participant in self.participants.values():
                    self._unsubscribe(participant)
        elif not self.on_sfu:
            self._spawn(self.session.send({"type": "resync"}))
        self._sync_sfu()

    def _frame_error(self, frame: Frame) -> None:
        self.emit("error", frame)


async def join_room(token: str, *, url: str, origin: str | None = None) -> Room:
    """Join the room the token names, at ``url`` (the site, ``https://example.org``, or the signaling URL).

    Returns once the ``welcome`` is in (``room.participants`` holds the roster); raises JoinError when the
    server refuses the token or cannot be reached within 15 s.
    """
    return await Room(token, url, origin=origin).connect()


async def join_live(token: str, *, url: str, role: str = "viewer", origin: str | None = None) -> Room:
    """Join a live room as a ``viewer`` (receive only; publishing raises) or a ``broadcaster``."""
    if role not in ("viewer", "broadcaster"):
        raise ValueError("role must be 'viewer' or 'broadcaster'")
    return await Room(token, url, viewer=role == "viewer", origin=origin).connect()
