"""The mesh media path on aiortc: one RTCPeerConnection per remote participant, perfect negotiation on each.

The roles are the SDK's (sdk/mesh.js, sdk/negotiation.js), so a Python peer and a browser agree without talking
about it: the lower participant id (the earlier joiner) is the *initiator* and makes the first offer as soon as
it learns of the other (``participant-joined``); the newcomer waits for that offer and answers, and may offer only
after it. On glare the higher id is *polite* and yields. aiortc has no ``rollback``: as the impolite side it
never needs one; as the polite side it drops its own unanswered offer by hand (``_drop_local_offer``), which is
what a rollback does, then answers. aiortc fires no ``negotiationneeded`` either: local track changes call
``negotiate()`` explicitly. All incoming descriptions and outgoing offers of one peer run one at a time.

Which of our m-lines carries which published track is written into every description we send as
``a=x-levelchat-sid:<sid>`` after the section's ``a=mid:``; the remote's lines are read (and stripped) the same
way. aiortc gathers all its candidates before a description is set, so it sends none separately; it accepts the
remote's trickled ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from django_levelchat import rtpguard

rtpguard.install()
log = logging.getLogger("django_levelchat.client.mesh")

SID_ATTRIBUTE = "x-levelchat-sid"


def annotate_sdp(sdp: str, mid_to_sid: Mapping[str, str]) -> str:
    """Add ``a=x-levelchat-sid:<sid>`` after the ``a=mid:`` line of each section in ``mid_to_sid``."""
    if not mid_to_sid:
        return sdp
    eol = "\r\n" if "\r\n" in sdp else "\n"
    out = []
    for line in sdp.split(eol):
        out.append(line)
        if line.startswith("a=mid:") and (sid := mid_to_sid.get(line[6:].strip())):
            out.append(f"a={SID_ATTRIBUTE}:{sid}")
    return eol.join(out)


def read_sdp_annotations(sdp: str) -> dict[str, str]:
    """mid → track sid, from a remote description's annotations."""
    found: dict[str, str] = {}
    mid = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line.startswith(f"a={SID_ATTRIBUTE}:") and mid is not None:
            found[mid] = line[len(SID_ATTRIBUTE) + 3 :].strip()
    return found


def strip_sdp_annotations(sdp: str) -> str:
    eol = "\r\n" if "\r\n" in sdp else "\n"
    return eol.join(line for line in sdp.split(eol) if not line.startswith(f"a={SID_ATTRIBUTE}:"))


def keep_extension_ids(offer_sdp: str, negotiated_sdp: str) -> str:
    """Our re-offer with the RTP header-extension ids the session already negotiated.

    aiortc writes its default ids into every offer; after answering a browser's offer that chose other ids the
    browser refuses the re-offer ("RTP extension ID reassignment not supported"). Ids are per session under
    BUNDLE, so each ``a=extmap`` line takes the id the negotiated description gave its URI, and an extension
    that description does not have is left out.
    """
    ids: dict[str, str] = {}
    for line in negotiated_sdp.splitlines():
        if line.startswith("a=extmap:"):
            ext_id, _, uri = line[9:].partition(" ")
            ids.setdefault(uri.split(" ")[0], ext_id.split("/")[0])
    eol = "\r\n" if "\r\n" in offer_sdp else "\n"
    out = []
    for line in offer_sdp.split(eol):
        if line.startswith("a=extmap:"):
            uri = line[9:].partition(" ")[2].split(" ")[0]
            if uri not in ids:
                continue
            line = f"a=extmap:{ids[uri]} {uri}"
        out.append(line)
    return eol.join(out)


def is_initiator(local_id: str, remote_id: str) -> bool:
    """The lower participant id makes the first offer (ids are ``PA_`` + ULID: the earlier joiner)."""
    return local_id < remote_id


def is_polite(local_id: str, remote_id: str) -> bool:
    """On glare the higher id yields."""
    return local_id > remote_id


def ice_servers(servers: Sequence[Mapping[str, Any]]) -> list[RTCIceServer]:
    """``welcome.ice_servers`` as aiortc's RTCIceServer list."""
    return [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in servers]


@dataclass
class LocalMedia:
    """One of our published tracks: the source track and a relay so every peer gets its own copy of the frames."""

    sid: str
    kind: str
    source: str
    track: MediaStreamTrack


SendSignal = Callable[[dict[str, Any]], Any]
OnRemoteTrack = Callable[[str, "str | None", MediaStreamTrack], None]


class MeshTransport:
    """Every peer connection of one participant; the Room talks to media only through this class.

    The SFU path will be a second class with the same methods (add/remove participant, publish/unpublish,
    handle_signal, restart_ice, close) behind the same Room.
    """

    def __init__(
        self,
        local_id: str,
        *,
        ice: Sequence[Mapping[str, Any]],
        send_signal: SendSignal,
        on_remote_track: OnRemoteTrack,
        on_peer_state: Callable[[str, str], None] = lambda pid, state: None,
    ) -> None:
        self.local_id = local_id
        self.ice = list(ice)
        self.send_signal = send_signal
        self.on_remote_track = on_remote_track
        self.on_peer_state = on_peer_state
        self.peers: dict[str, PeerSession] = {}
        self.local: dict[str, LocalMedia] = {}
        self.relay = MediaRelay()
        self.closed = False

    def add_participant(self, remote_id: str) -> None:
        """Someone is in the room: the initiator connects now; the other side waits for the first offer."""
        if self.closed or remote_id == self.local_id or remote_id in self.peers:
            return
        if is_initiator(self.local_id, remote_id):
            self._session(remote_id).start()

    async def remove_participant(self, remote_id: str) -> None:
        peer = self.peers.pop(remote_id, None)
        if peer is not None:
            await peer.close()

    def publish(self, media: LocalMedia) -> None:
        self.local[media.sid] = media
        for peer in self.peers.values():
            peer.add_local(media)

    def unpublish(self, sid: str) -> None:
        self.local.pop(sid, None)
        for peer in self.peers.values():
            peer.remove_local(sid)

    def handle_signal(self, frame: Mapping[str, Any]) -> None:
        if self.closed or frame["from"] == self.local_id:
            return
        peer = self._session(frame["from"])
        if frame.get("description") is not None:
            peer.enqueue(peer.apply_description(frame["description"]))
        elif frame.get("candidate") is not None:
            peer.enqueue(peer.apply_candidate(frame["candidate"]))

    def restart_ice(self) -> None:
        """After a signaling resume: renegotiate every connected peer (see PeerSession.restart_ice)."""
        for peer in self.peers.values():
            peer.restart_ice()

    def peer_connections(self) -> dict[str, RTCPeerConnection]:
        return {pid: peer.pc for pid, peer in self.peers.items()}

    async def close(self) -> None:
        self.closed = True
        peers, self.peers = list(self.peers.values()), {}
        await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)

    def _session(self, remote_id: str) -> PeerSession:
        peer = self.peers.get(remote_id)
        if peer is None:
            peer = self.peers[remote_id] = PeerSession(self, remote_id)
        return peer


class PeerSession:
    """One remote participant's peer connection and its perfect negotiation."""

    def __init__(self, mesh: MeshTransport, remote_id: str) -> None:
        self.mesh = mesh
        self.remote_id = remote_id
        self.initiator = is_initiator(mesh.local_id, remote_id)
        self.polite = is_polite(mesh.local_id, remote_id)
        self.can_offer = self.initiator
        self.offer_wanted = False
        self.force_offer = False
        self.offers_sent = 0
        self.ignored_offers = 0
        self.remote_sids: dict[str, str] = {}
        self.senders: dict[str, Any] = {}
        self._pending_candidates: list[Mapping[str, Any]] = []
        self._chain: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # BALANCED, not MAX_BUNDLE: under MAX_BUNDLE aiortc stops the shared transport when a track was added
        # before the first offer arrived and its section is not the first (no candidates, no media). The
        # descriptions still BUNDLE everything, so the browser side sees one transport either way.
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=ice_servers(mesh.ice), bundlePolicy=RTCBundlePolicy.BALANCED)
        )
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)
        for media in mesh.local.values():
            self.add_local(media, negotiate=False)

    # -- tasks run one at a time per peer

    def enqueue(self, step: Any) -> None:
        previous = self._chain

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            if self._closed:
                step.close()
                return
            try:
                await step
            except Exception:
                log.warning("negotiation step with %s failed", self.remote_id, exc_info=True)

        task = asyncio.ensure_future(run())
        self._chain = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self) -> None:
        """The initiator's first offer, with receive-only sections for kinds we do not send (media can flow back)."""
        sending = {t.kind for t in self.pc.getTransceivers()}
        for kind in ("audio", "video"):
            if kind not in sending:
                self.pc.addTransceiver(kind, direction="recvonly")
        self.negotiate()

    def negotiate(self, *, force: bool = False) -> None:
        """Offer when allowed, stable and needed (``force``: even when nothing changed); else remember it."""
        self.offer_wanted = True
        self.force_offer = self.force_offer or force
        self.enqueue(self._offer())

    def _needs_offer(self) -> bool:
        """Whether what we send differs from what the session negotiated (aiortc has no negotiationneeded)."""
        if self.pc.remoteDescription is None:
            return True  # the first offer
        for transceiver in self.pc.getTransceivers():
            sending = transceiver.sender.track is not None
            negotiated = transceiver.currentDirection in ("sendrecv", "sendonly")
            if transceiver.mid is None or sending != negotiated:
                return True
        return False

    async def _offer(self) -> None:
        if not self.offer_wanted or self._closed:
            return
        if not self.can_offer or self.pc.signalingState != "stable":
            return  # replayed after the first remote offer, or when this negotiation is over
        force, self.force_offer = self.force_offer, False
        self.offer_wanted = False
        if not force and not self._needs_offer():
            return
        offer = await self.pc.createOffer()
        remote = self.pc.remoteDescription
        if remote is not None:
            offer = RTCSessionDescription(sdp=keep_extension_ids(offer.sdp, remote.sdp), type="offer")
        await self.pc.setLocalDescription(offer)
        self.offers_sent += 1
        await self._send_description()

    def add_local(self, media: LocalMedia, *, negotiate: bool = True) -> None:
        if self._closed or media.sid in self.senders:
            return
        self.senders[media.sid] = self.pc.addTrack(self.mesh.relay.subscribe(media.track, buffered=False))
        if negotiate:
            self.negotiate()

    def remove_local(self, sid: str) -> None:
        sender = self.senders.pop(sid, None)
        if sender is None or self._closed:
            return
        sender.replaceTrack(None)
        for transceiver in self.pc.getTransceivers():
            if transceiver.sender is sender:
                transceiver.direction = "recvonly" if transceiver.direction == "sendrecv" else "inactive"
        self.negotiate()

    def restart_ice(self) -> None:
        """After our signaling resume. aiortc cannot change its ICE credentials, so this renegotiates on the
        same transport (which a signaling drop does not break); a browser peer restarts ICE for real."""
        if self.pc.remoteDescription is not None:
            self.negotiate(force=True)

    async def apply_description(self, description: Mapping[str, Any]) -> None:
        kind, sdp = description["type"], description.get("sdp") or ""
        log.debug("apply %s from %s in %s", kind, self.remote_id, self.pc.signalingState)
        if kind not in ("offer", "answer"):
            return  # rollback/pranswer: nothing for this side to apply
        pc = self.pc
        collision = kind == "offer" and pc.signalingState != "stable"
        if collision and not self.polite:
            self.ignored_offers += 1
            log.debug("glare with %s: ignoring its offer (impolite)", self.remote_id)
            return
        if kind == "answer" and pc.signalingState != "have-local-offer":
            return
        if collision:
            log.debug("glare with %s: dropping our offer (polite)", self.remote_id)
            _drop_local_offer(pc)
            self.offer_wanted = True  # what our dropped offer carried still has to be negotiated
        self.remote_sids.update(read_sdp_annotations(sdp))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=strip_sdp_annotations(sdp), type=kind))
        log.debug("applied %s from %s", kind, self.remote_id)
        for candidate in self._pending_candidates:
            await self._add_candidate(candidate)
        self._pending_candidates.clear()
        if kind == "offer":
            await pc.setLocalDescription(await pc.createAnswer())
            await self._send_description()
        if not self.can_offer:
            self.can_offer = True
            self.offer_wanted = True  # tracks the answer could not carry (_offer checks)
        if self.offer_wanted and pc.signalingState == "stable":
            await self._offer()

    async def apply_candidate(self, candidate: Mapping[str, Any]) -> None:
        if not candidate.get("candidate"):
            return  # end-of-candidates: aiortc needs nothing
        if self.pc.remoteDescription is None:
            self._pending_candidates.append(candidate)
            return
        await self._add_candidate(candidate)

    async def _add_candidate(self, wire: Mapping[str, Any]) -> None:
        try:
            candidate = candidate_from_sdp(str(wire["candidate"]).split(":", 1)[1])
            candidate.sdpMid = wire.get("sdpMid")
            candidate.sdpMLineIndex = wire.get("sdpMLineIndex")
            await self.pc.addIceCandidate(candidate)
        except Exception as exc:  # a candidate of an ignored offer, or one aioice cannot use
            log.debug("could not add a candidate from %s: %s", self.remote_id, exc)

    async def _send_description(self) -> None:
        local = self.pc.localDescription
        log.debug("send %s to %s", local.type, self.remote_id)
        mid_to_sid = {}
        for transceiver in self.pc.getTransceivers():
            for sid, sender in self.senders.items():
                if transceiver.sender is sender and transceiver.mid is not None:
                    mid_to_sid[transceiver.mid] = sid
        sdp = annotate_sdp(local.sdp, mid_to_sid)
        await _maybe_await(
            self.mesh.send_signal(
                {"type": "signal", "to": self.remote_id, "description": {"type": local.type, "sdp": sdp}}
            )
        )

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next((t for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        mid = transceiver.mid if transceiver is not None else None
        self.mesh.on_remote_track(self.remote_id, self.remote_sids.get(mid) if mid else None, track)

    def _on_connection_state(self) -> None:
        self.mesh.on_peer_state(self.remote_id, self.pc.connectionState)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await self.pc.close()


def _drop_local_offer(pc: RTCPeerConnection) -> None:
    """What ``setLocalDescription({type: "rollback"})`` does, for aiortc (which has no rollback): back to
    ``stable``, the pending offer forgotten, and transceivers that only that offer gave a mid lose it again.
    """
    negotiated: set[str] = set()
    for description in (
        pc._RTCPeerConnection__currentLocalDescription,  # type: ignore[attr-defined]
        pc._RTCPeerConnection__currentRemoteDescription,  # type: ignore[attr-defined]
    ):
        if description is not None:
            negotiated |= {media.rtp.muxId for media in description.media}
    transceiver: RTCRtpTransceiver
    for transceiver in pc.getTransceivers():
        if transceiver.mid is not None and transceiver.mid not in negotiated:
            transceiver._set_mid(None)  # type: ignore[arg-type]
            transceiver._set_mline_index(None)  # type: ignore[arg-type]
    pc._RTCPeerConnection__pendingLocalDescription = None  # type: ignore[attr-defined]
    pc._RTCPeerConnection__setSignalingState("stable")  # type: ignore[attr-defined]


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        await value
