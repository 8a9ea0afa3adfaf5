"""One room on the SFU: a peer connection per participant, published sources, per-subscriber forwarding.

No Django here: the worker feeds this class validated protocol messages and delivers what ``send`` produces.
Each participant has ONE peer connection with the SFU. The client is the polite peer: when both sides offer at
once the SFU ignores the client's offer (aiortc cannot roll back) and the client rolls back and answers.

Subscriber m-lines carry ``a=msid:<publisher participant id> <track sid>``, so a client maps an incoming track to
its publisher and published track without another message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci
from aiortc.sdp import candidate_from_sdp

from django_levelchat import protocol, rtpguard
from django_levelchat.protocol import ErrorCode, ProtocolError
from django_levelchat.sfu import egress
from django_levelchat.sfu import sdp as sdp_rules
from django_levelchat.sfu.forward import ForwardTrack
from django_levelchat.sfu.relay import Layer
from django_levelchat.sfu.remb import RembAggregator

logger = logging.getLogger("django_levelchat.sfu")

rtpguard.install()
Send = Callable[[str, dict[str, Any]], Awaitable[None]]
QUALITY_LAYER = {"low": "q", "medium": "h", "high": "f", "auto": "f"}
SILENT_LAYER = 1.0  # s without a frame after which a simulcast layer counts as paused or stalled
RESUME_GRACE = 3.0  # s a layer resumed through layer-demand has to send its first frames before it counts as stalled
MAINTAIN_EVERY = 0.5  # s between re-evaluations of every subscriber's layer
REMB_HEADROOM = 0.85  # share of a subscriber's estimated bandwidth its video layers may use
LAYER_ORDER = {"q": 0, "h": 1, "f": 2, "": 3}
SELECT_EVERY = 0.2  # s between re-rankings of speakers (last-N video, top audio)
FRESH_AUDIO = 0.5  # s: an audio layer that sent nothing for this long counts as silent
SPEAKING_DBOV = 26  # RFC 6464 -dBov at or below which a publisher counts as speaking (0.05 linear, speaker.py)
LOUDNESS_SMOOTHING = 0.5  # share of the way the smoothed loudness moves towards the latest level each ranking
AUDIO_HYSTERESIS = 3.0  # dB a microphone must beat one of the current top ones by to take its place (no flapping)
PINNING_QUALITIES = frozenset({"medium", "high"})  # a per-publisher preference this high pins its video
ALWAYS_FORWARDED = frozenset({"screen", "screen_audio"})  # sources outside last-N and top audio


@dataclass
class SfuConfig:
    """Media settings of the SFU (built from ``LEVELCHAT`` by the worker; defaults in docs/sfu.md)."""

    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    start_bitrate: int = 1000  # kbps, x-google-start-bitrate in answers to publishers
    keyframe_interval: float = 0.5  # s, at most one upstream PLI per layer this often
    allow_private_candidates: bool = False
    announced_address: str | None = None  # replaces the address of the SFU's host candidates (1:1 NAT)
    candidate_addresses: frozenset[str] | None = None  # advertise host candidates only on these local addresses
    last_n: int = 9  # camera videos forwarded to a subscriber: pinned, then the most recent speakers; 0 = all
    audio_top: int = 3  # microphones forwarded to a subscriber: the loudest by RFC 6464 level; 0 = all

    def outbound(self, sdp: str) -> str:
        return sdp_rules.rewrite_local_candidates(sdp, announced=self.announced_address, only=self.candidate_addresses)


class Source:
    """A published track: one layer (mic, screen, single-layer camera) or up to three simulcast layers."""

    def __init__(self, publisher: str, track: dict[str, Any], seq: int = 0) -> None:
        self.publisher = publisher
        self.seq = seq  # publication order: ranks publishers that never spoke
        self.sid: str = track["sid"]
        self.kind: str = track["kind"]
        self.source: str = track["source"]
        names = tuple(track.get("layers") or ()) or ("",)
        self.mids: dict[str, str] = dict(zip(track.get("mids") or (), names, strict=False))
        self.layers: dict[str, Layer] = {}
        self.demand: tuple[str, ...] | None = None  # last layer-demand sent; None = never (all layers on)
        self.resumed_at: dict[str, float] = {}  # layer name -> when a layer-demand last turned it back on

    def bind(self, layer: Layer) -> None:
        layer.name = self.mids[layer.mid]
        layer.source = self
        self.layers[layer.name] = layer

    def pick(self, quality: str, *, budget: float | None = None, now: float | None = None) -> Layer | None:
        """The highest layer at or below the preference that is live (sent a frame within ``SILENT_LAYER`` s) and,
        on ``auto``, fits the subscriber's ``budget`` (bits/s); failing that the lowest live layer, else the lowest.
        """
        if not self.layers:
            return None
        ordered = sorted(self.layers.values(), key=lambda layer: LAYER_ORDER[layer.name])
        if now is not None and len(ordered) > 1:
            live = [layer for layer in ordered if self._available(layer, now)]
            ordered = live or ordered  # all silent (publisher stalled): keep the plan, nothing better to switch to
        ceiling = LAYER_ORDER[QUALITY_LAYER.get(quality, "f")]
        fitting = [layer for layer in ordered if layer.name == "" or LAYER_ORDER[layer.name] <= ceiling]
        if quality == "auto" and budget is not None:
            fitting = [layer for layer in fitting if layer.bitrate <= budget] or fitting[:1]
        return fitting[-1] if fitting else ordered[0]

    def _available(self, layer: Layer, now: float) -> bool:
        """Live, or silent only because dynacast paused it (choosing it resumes it), or resumed moments ago."""
        if layer.live(now, SILENT_LAYER):
            return True
        if self.demand is not None and layer.name not in self.demand:
            return True
        resumed = self.resumed_at.get(layer.name)
        return resumed is not None and now - resumed <= RESUME_GRACE


class Forward:
    def __init__(self, source: Source, track: ForwardTrack) -> None:
        self.source = source
        self.track = track
        self.transceiver: Any = None
        self.negotiated = False


class Peer:
    """One participant's peer connection with the SFU: its published layers and its forwarded tracks."""

    def __init__(self, room: SfuRoom, pid: str, *, subscribe: bool, leg: bool = False) -> None:
        self.room = room
        self.pid = pid
        self.leg = leg  # a mesh room's send-only recording leg (docs/recording.md)
        ice = [RTCIceServer(**server) for server in room.config.ice_servers]
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice))
        self.lock = asyncio.Lock()
        self.subscribe = subscribe
        self.unsubscribed: set[tuple[str, str]] = set()
        self.quality: dict[str | None, str] = {}
        self.layers: dict[str, Layer] = {}  # mid -> ingest layer
        self.forwards: dict[tuple[str, str], Forward] = {}
        self.remb = RembAggregator()
        self.bandwidth: float | None = None  # the subscriber's latest REMB (bits/s) for what we send it
        self.needs_offer = False
        self.closed = False
        self.pc.on("connectionstatechange", self._state_changed)

    def _state_changed(self) -> None:
        # aiortc closes a connection whose ICE consent expired as soon as DTLS notices, often before ICE reports
        # "failed": either state, unless we closed it, means the media path is gone.
        if self.pc.connectionState in ("failed", "closed") and not self.closed:
            self.room.on_failed(self)

    def budget(self) -> float | None:
        """Bits/s one forwarded video track may use: the subscriber's estimate shared by its video tracks."""
        if self.bandwidth is None:
            return None
        videos = sum(1 for f in self.forwards.values() if f.source.kind == "video") or 1
        return self.bandwidth * REMB_HEADROOM / videos

    def _watch_remb(self, sender: Any) -> None:
        """Read the subscriber's REMB on its way into aiortc (which would only retune an encoder we never use)."""
        original = sender._handle_rtcp_packet

        async def handle(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                with contextlib.suppress(ValueError):
                    self.bandwidth = float(unpack_remb_fci(packet.fci)[0])
            await original(packet)

        sender._handle_rtcp_packet = handle

    def quality_for(self, publisher: str) -> str:
        return self.quality.get(publisher) or self.quality.get(None) or "auto"

    # ---------------------------------------------------------------- signaling

    async def on_description(self, description: protocol.SessionDescription) -> None:
        async with self.lock:
            if description.type == "offer":
                if self.pc.signalingState == "have-local-offer":
                    return  # glare: we are the impolite peer; the client rolls back and answers ours
                await self._accept_offer(description.sdp)
            elif description.type == "answer":
                if self.pc.signalingState != "have-local-offer":
                    raise ProtocolError(ErrorCode.BAD_STATE, "the SFU has no offer waiting for an answer")
                await self.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=self._inbound(description.sdp), type="answer")
                )
                for forward in self.forwards.values():
                    if forward.transceiver is not None and not forward.negotiated:
                        forward.negotiated = True
                        self.room.retarget(self, forward)
            else:
                raise ProtocolError(ErrorCode.BAD_SDP, f"the SFU does not accept a {description.type}")
        await self.renegotiate()

    def _inbound(self, sdp: str) -> str:
        return sdp if self.room.config.allow_private_candidates else sdp_rules.drop_private_candidates(sdp)

    async def _accept_offer(self, sdp: str) -> None:
        try:
            pinned = sdp_rules.pin_codecs(sdp)
        except sdp_rules.UnsupportedCodec as exc:
            raise ProtocolError(ErrorCode.BAD_SDP, str(exc), field="description.sdp") from None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=self._inbound(pinned), type="offer"))
        for transceiver in self.pc.getTransceivers():
            mid = transceiver.mid
            if mid is None or mid in self.layers or transceiver.receiver.track is None:
                continue
            layer = Layer(
                transceiver.receiver,
                transceiver.kind,
                mid,
                keyframe_interval=self.room.config.keyframe_interval,
            )
            self.layers[mid] = layer
            if transceiver.kind == "video":
                self.remb.add_receiver(transceiver.receiver)
            self.room.layer_arrived(self, layer)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = sdp_rules.add_start_bitrate(self.pc.localDescription.sdp, self.room.config.start_bitrate)
        answer = self.room.config.outbound(answer)
        await self.room.send(self.pid, protocol.sfu_signal(description={"type": "answer", "sdp": answer}))

    def new_connection(self, description: protocol.SessionDescription) -> bool:
        """An offer with other ICE credentials than the connection we have: the client's new peer connection."""
        remote = self.pc.remoteDescription
        return (
            description.type == "offer"
            and remote is not None
            and sdp_rules.ice_ufrag(description.sdp) != sdp_rules.ice_ufrag(remote.sdp)
        )

    async def on_candidate(self, candidate: protocol.IceCandidate) -> None:
        if not candidate.candidate:
            return  # end of candidates: aiortc needs no marker
        value = candidate.candidate.removeprefix("candidate:")
        address = sdp_rules.candidate_address(value) or ""
        if not self.room.config.allow_private_candidates and sdp_rules.is_private_address(address):
            logger.info("refusing a private/loopback ICE candidate from %s", self.pid)
            return
        ice = candidate_from_sdp(value)
        ice.sdpMid = candidate.sdpMid
        ice.sdpMLineIndex = candidate.sdpMLineIndex
        await self.pc.addIceCandidate(ice)

    async def renegotiate(self) -> None:
        """Offer the current set of forwarded tracks when anything changed (only from the stable state)."""
        async with self.lock:
            if self.closed:
                return
            if self.pc.signalingState != "stable":
                self.needs_offer = True
                return
            changed = self.needs_offer
            self.needs_offer = False
            for forward in self.forwards.values():
                if forward.transceiver is None:
                    self._add_transceiver(forward)
                    changed = True
            if not changed:
                return
            await self.pc.setLocalDescription(RTCSessionDescription(sdp=await self._create_offer(), type="offer"))
            offer = {"type": "offer", "sdp": self.room.config.outbound(self.pc.localDescription.sdp)}
        await self.room.send(self.pid, protocol.sfu_signal(description=offer))

    async def _create_offer(self) -> str:
        """An offer that keeps what earlier negotiations settled.

        aiortc's ``createOffer`` resets every transceiver's codecs to its own defaults (VP8 97, RTX 98, Opus 96),
        also those a browser negotiated with its numbers (Chrome: VP8 96, RTX 97, Opus 111). Two ways that stopped
        a publisher's media at the SFU: a receiver whose connection came up after the re-offer (ICE and DTLS are
        slow on a loaded machine) was started with the default numbers, so it dropped every packet; and the
        re-offer itself told the browser to send VP8 as 97, which the running receiver takes for RTX. So the
        negotiated codecs are put back at once (``createOffer`` does not yield) and the offer keeps their numbers.
        """
        settled = {
            t: (t._codecs, t._headerExtensions) for t in self.pc.getTransceivers() if t.currentDirection is not None
        }
        sdp = (await self.pc.createOffer()).sdp
        for transceiver, (codecs, extensions) in settled.items():
            transceiver._codecs, transceiver._headerExtensions = codecs, extensions
        remote = self.pc.remoteDescription
        return sdp_rules.keep_payload_types(sdp, remote.sdp) if remote is not None else sdp

    def _add_transceiver(self, forward: Forward) -> None:
        """A track-less send-only transceiver whose sender ``sfu.egress`` drives (aiortc never reads a track)."""
        kind = forward.source.kind
        transceiver = self.pc.addTransceiver(kind, direction="sendonly")
        name = sdp_rules.PINNED[kind]
        codecs = RTCRtpSender.getCapabilities(kind).codecs
        pinned = [c for c in codecs if c.name.lower() == name]
        transceiver.setCodecPreferences(pinned + [c for c in codecs if c.name.lower() == "rtx"])
        sender = transceiver.sender
        sender._stream_id = forward.source.publisher  # a=msid:<publisher> <track sid>
        sender._track_id = forward.source.sid
        sender._send_keyframe = forward.track.request_keyframe  # type: ignore[method-assign]
        forward.track.egress = egress.Egress(sender, kind, forward.track.egress_ready)
        self._watch_remb(sender)
        forward.transceiver = transceiver

    def drop_forward(self, key: tuple[str, str]) -> bool:
        forward = self.forwards.pop(key, None)
        if forward is None:
            return False
        forward.track.detach()
        if forward.transceiver is not None:
            forward.transceiver.direction = "inactive"
        return True

    async def close(self) -> None:
        self.closed = True
        for key in list(self.forwards):
            self.drop_forward(key)
        for layer in self.layers.values():
            layer.close()
        await self.remb.close()
        await self.pc.close()


class SfuRoom:
    """The media state of one room on one worker."""

    def __init__(
        self,
        room_id: str,
        send: Send,
        config: SfuConfig | None = None,
        on_failed: Callable[[Peer], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.send = send
        #: Told when a peer's connection failed (ICE consent expired, the path is gone): the worker restarts it.
        self.on_failed: Callable[[Peer], None] = on_failed or (lambda peer: None)
        self.config = config or SfuConfig()
        self.peers: dict[str, Peer] = {}
        self.sources: dict[tuple[str, str], Source] = {}
        self._maintainer: asyncio.Task[None] | None = None
        self._selector: asyncio.Task[None] | None = None
        self._published = 0
        self.loudness: dict[tuple[str, str], float] = {}  # audio source -> smoothed 127 - level (0 = silence)
        self.spoke_at: dict[str, float] = {}  # publisher -> when its level last said it was speaking
        self.video_rank: list[tuple[str, str]] = []  # camera sources, most recent speaker first
        self.audio_rank: list[tuple[str, str]] = []  # microphones, loudest first

    # ---------------------------------------------------------------- membership

    async def join(self, pid: str, *, subscribe: bool = True, leg: bool = False) -> Peer:
        """The participant's peer, created on first need; a recording leg that became a full SFU connection (the
        meeting moved to the SFU) starts receiving."""
        if self._maintainer is None:
            self._maintainer = asyncio.ensure_future(self._maintain())
            self._selector = asyncio.ensure_future(self._select())
        peer = self.peers.get(pid)
        if peer is None:
            peer = self.peers[pid] = Peer(self, pid, subscribe=subscribe, leg=leg)
            if self._sync(peer):
                await peer.renegotiate()
        elif (peer.leg, peer.subscribe) != (leg, subscribe):
            peer.leg, peer.subscribe = leg, subscribe
            if self._sync(peer) or peer.needs_offer:
                await peer.renegotiate()
        return peer

    async def restart(self, peer: Peer) -> Peer | None:
        """Replace a failed peer connection with a fresh one (aiortc has no ICE restart), keeping what the
        participant asked for. Its published tracks are dropped: the client announces them again on its new
        connection, as after a worker failover. The caller tells the client, then ``offer``s. None when the
        peer was already gone or replaced."""
        pid = peer.pid
        if self.peers.get(pid) is not peer:
            return None
        await self.leave(pid)
        fresh = Peer(self, pid, subscribe=peer.subscribe, leg=peer.leg)
        fresh.quality, fresh.unsubscribed = dict(peer.quality), set(peer.unsubscribed)
        self.peers[pid] = fresh
        return fresh

    async def offer(self, peer: Peer) -> None:
        """Offer a (fresh) peer what it should receive."""
        if self._sync(peer) or peer.needs_offer:
            await peer.renegotiate()

    async def leave(self, pid: str) -> None:
        peer = self.peers.pop(pid, None)
        self.spoke_at.pop(pid, None)
        for key in [k for k in self.sources if k[0] == pid]:
            await self.unpublish(pid, key[1])
        if peer is not None:
            await peer.close()

    async def close(self) -> None:
        for task in (self._maintainer, self._selector):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._maintainer = self._selector = None
        for pid in list(self.peers):
            await self.leave(pid)

    def peer(self, pid: str) -> Peer:
        peer = self.peers.get(pid)
        if peer is None:
            raise ProtocolError(ErrorCode.BAD_STATE, "not connected to the SFU")
        return peer

    # ---------------------------------------------------------------- client messages

    async def signal(
        self,
        pid: str,
        description: protocol.SessionDescription | None = None,
        candidate: protocol.IceCandidate | None = None,
    ) -> None:
        peer = await self.join(pid) if pid not in self.peers else self.peers[pid]
        if description is not None and peer.new_connection(description):
            # The client started over on a new connection (its old one failed, or it closed it): aiortc cannot
            # restart ICE, so the peer is replaced; the client announces its tracks again once negotiated.
            fresh = await self.restart(peer)
            if fresh is not None:
                await fresh.on_description(description)
                await self.offer(fresh)
                return
        if description is not None:
            await peer.on_description(description)
        elif candidate is not None:
            await peer.on_candidate(candidate)

    async def publish(self, pid: str, track: dict[str, Any]) -> None:
        """A track announced by ``publish``; its layers bind as their transceivers' mids appear."""
        peer = await self.join(pid) if pid not in self.peers else self.peers[pid]
        if (pid, track["sid"]) in self.sources:  # announced again, on new transceivers: the old ones are gone
            await self.unpublish(pid, track["sid"])
        self._published += 1
        source = Source(pid, track, self._published)
        self.sources[(pid, source.sid)] = source
        for mid in source.mids:
            if mid in peer.layers and peer.layers[mid].source is None:
                source.bind(peer.layers[mid])
        await self._source_changed(source)

    async def unpublish(self, pid: str, sid: str) -> None:
        source = self.sources.pop((pid, sid), None)
        if source is None:
            return
        self.loudness.pop((pid, sid), None)
        self.rank()
        for layer in source.layers.values():
            layer.source = None
            layer.sinks.clear()
        for peer in list(self.peers.values()):
            if peer.drop_forward((pid, sid)):
                await peer.renegotiate()

    def layer_arrived(self, peer: Peer, layer: Layer) -> None:
        for source in self.sources.values():
            if source.publisher == peer.pid and layer.mid in source.mids and layer.source is None:
                source.bind(layer)
                asyncio.ensure_future(self._source_changed(source))

    async def set_quality(self, pid: str, quality: str, publisher: str | None = None) -> None:
        peer = self.peer(pid)
        if publisher is None:
            peer.quality = {None: quality}
        else:
            peer.quality[publisher] = quality
        for forward in peer.forwards.values():
            if publisher is None or forward.source.publisher == publisher:
                self.retarget(peer, forward)
        self._send_demand()

    async def set_subscribed(
        self, pid: str, publisher: str, *, subscribed: bool, kind: str | None = None, sid: str | None = None
    ) -> None:
        peer = self.peer(pid)
        for source in list(self.sources.values()):
            if source.publisher != publisher or (kind and source.kind != kind) or (sid and source.sid != sid):
                continue
            key = (publisher, source.sid)
            if subscribed:
                peer.unsubscribed.discard(key)
            else:
                peer.unsubscribed.add(key)
        self._sync(peer)
        await peer.renegotiate()

    # ---------------------------------------------------------------- forwarding

    async def _source_changed(self, source: Source) -> None:
        if not source.layers:
            return
        self.rank()
        for peer in list(self.peers.values()):
            forward = peer.forwards.get((source.publisher, source.sid))
            if forward is None:
                if self._sync(peer):
                    await peer.renegotiate()
            elif forward.negotiated:
                self.retarget(peer, forward)
        self._send_demand()

    def _sync(self, peer: Peer) -> bool:
        """Create a forward for every bound source this peer should receive; True if one was added."""
        added = False
        for key, source in self.sources.items():
            wanted = peer.subscribe and source.publisher != peer.pid and key not in peer.unsubscribed
            if wanted and source.layers and key not in peer.forwards:
                peer.forwards[key] = Forward(source, ForwardTrack(source.kind, source.sid, self._send_demand))
                added = True
            elif not wanted and key in peer.forwards:
                peer.drop_forward(key)
                peer.needs_offer = True
        return added

    def _choice(self, peer: Peer, forward: Forward) -> Layer | None:
        quality = peer.quality_for(forward.source.publisher)
        return forward.source.pick(quality, budget=peer.budget(), now=time.monotonic())

    def retarget(self, peer: Peer, forward: Forward) -> None:
        key = (forward.source.publisher, forward.source.sid)
        if key in self.selected(peer):
            forward.track.set_layer(self._choice(peer, forward))
        else:
            forward.track.pause()
        self._send_demand()

    async def _maintain(self) -> None:
        """Follow bandwidth (``auto``) and silent layers: move subscribers whose best layer changed."""
        while True:
            await asyncio.sleep(MAINTAIN_EVERY)
            changed = False
            for peer in list(self.peers.values()):
                for forward in list(peer.forwards.values()):
                    if not forward.negotiated or len(forward.source.layers) < 2 or forward.track.paused:
                        continue
                    choice = self._choice(peer, forward)
                    if choice is not None and choice is not forward.track.target:
                        forward.track.set_layer(choice)
                        changed = True
            if changed:
                self._send_demand()

    # ---------------------------------------------------------------- last-N video, top audio

    async def _select(self) -> None:
        """Re-rank speakers from the RFC 6464 levels publishers send, and pause or resume forwards to match."""
        while True:
            await asyncio.sleep(SELECT_EVERY)
            self.observe_levels(time.monotonic())
            self.rank()
            if self.apply_selection():
                self._send_demand()

    def observe_levels(self, now: float) -> None:
        """Smooth each microphone's loudness and note who is speaking (no decoding: the level is in the header)."""
        for key, source in self.sources.items():
            if source.kind != "audio" or source.source in ALWAYS_FORWARDED:
                continue
            level = None
            for layer in source.layers.values():
                if layer.audio_level is not None and layer.live(now, FRESH_AUDIO):
                    level = layer.audio_level
            loud = 127 - level if level is not None else 0.0
            previous = self.loudness.get(key, 0.0)
            self.loudness[key] = previous + (loud - previous) * LOUDNESS_SMOOTHING
            if level is not None and level <= SPEAKING_DBOV:
                self.spoke_at[source.publisher] = now

    def rank(self) -> None:
        """Order cameras by the latest speech of their publisher (then publication order) and microphones by
        smoothed loudness, the current top ones with a head start (``AUDIO_HYSTERESIS``); ties keep the previous
        order, so equal speakers do not swap places."""
        previous = {key: n for n, key in enumerate(self.audio_rank)}
        top = self.config.audio_top or len(previous)
        cameras = [k for k, s in self.sources.items() if s.kind == "video" and s.source not in ALWAYS_FORWARDED]
        cameras.sort(key=lambda k: (-self.spoke_at.get(k[0], float("-inf")), self.sources[k].seq))
        self.video_rank = cameras
        microphones = [k for k, s in self.sources.items() if s.kind == "audio" and s.source not in ALWAYS_FORWARDED]

        def loudness(key: tuple[str, str]) -> float:
            bonus = AUDIO_HYSTERESIS if previous.get(key, top) < top else 0.0
            return -round(self.loudness.get(key, 0.0) + bonus)

        microphones.sort(key=lambda k: (loudness(k), previous.get(k, len(previous)), self.sources[k].seq))
        self.audio_rank = microphones

    def selected(self, peer: Peer) -> set[tuple[str, str]]:
        """The sources ``peer`` gets media from: every screen share (and its audio), the cameras it pins (a per-publisher
        ``medium``/``high`` preference) and the most recent speakers' up to ``last_n``, the ``audio_top``
        loudest microphones. Its own sources are never forwarded to it, so they take no place."""
        chosen = {k for k, s in self.sources.items() if s.source in ALWAYS_FORWARDED}
        cameras = [k for k in self.video_rank if k[0] != peer.pid]
        limit = self.config.last_n or len(cameras)
        pinned = [k for k in cameras if peer.quality.get(k[0]) in PINNING_QUALITIES]
        chosen.update(pinned)
        chosen.update([k for k in cameras if k not in pinned][: max(0, limit - len(pinned))])
        microphones = [k for k in self.audio_rank if k[0] != peer.pid]
        chosen.update(microphones[: self.config.audio_top or len(microphones)])
        return chosen

    def apply_selection(self) -> bool:
        """Pause forwards that left a subscriber's selection and resume those that entered it; True if any did."""
        changed = False
        for peer in list(self.peers.values()):
            chosen = self.selected(peer)
            for key, forward in peer.forwards.items():
                if not forward.negotiated:
                    continue
                if key in chosen and forward.track.paused:
                    forward.track.set_layer(self._choice(peer, forward))
                    changed = True
                elif key not in chosen and not forward.track.paused:
                    forward.track.pause()
                    changed = True
        return changed

    def _send_demand(self) -> None:
        """Dynacast: tell each simulcast publisher which of its layers someone watches."""
        for source in self.sources.values():
            if len(source.layers) < 2 and len(source.mids) < 2:
                continue
            watched: set[str] = set()
            for peer in self.peers.values():
                forward = peer.forwards.get((source.publisher, source.sid))
                if forward is not None:
                    for layer in (forward.track.target, forward.track.current):
                        if layer is not None and layer.name:
                            watched.add(layer.name)
            demand = tuple(name for name in protocol.SIMULCAST_LAYERS if name in watched)
            if demand != source.demand and (source.demand is not None or len(demand) < len(source.mids)):
                if source.demand is not None:
                    now = time.monotonic()
                    for name in set(demand) - set(source.demand):
                        source.resumed_at[name] = now
                source.demand = demand
                frame = protocol.layer_demand(track=source.sid, layers=demand)
                asyncio.ensure_future(self.send(source.publisher, frame))

    # ---------------------------------------------------------------- observations

    def audio_levels(self, within: float = 1.0) -> dict[str, int]:
        """RFC 6464 level (-dBov, 0 = loudest) per publisher whose microphone sent a frame in the last ``within`` s."""
        now = time.monotonic()
        levels: dict[str, int] = {}
        for source in self.sources.values():
            for layer in source.layers.values():
                fresh = layer.last_frame_at is not None and now - layer.last_frame_at <= within
                if layer.kind == "audio" and layer.audio_level is not None and fresh:
                    levels[source.publisher] = min(levels.get(source.publisher, 127), layer.audio_level)
        return levels

    def stats(self) -> dict[str, Any]:
        return {
            "peers": len(self.peers),
            "sources": len(self.sources),
            "forwards": sum(len(p.forwards) for p in self.peers.values()),
            "paused": sum(f.track.paused for p in self.peers.values() for f in p.forwards.values()),
            "plis": sum(layer.keyframes.sent for p in self.peers.values() for layer in p.layers.values()),
        }
