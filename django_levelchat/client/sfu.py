"""The client's connection to the room's SFU worker (docs/sfu.md, protocol.md ``sfu-signal``).

One peer connection per participant, in two uses:

- **SFU rooms** (live, webinar, a meeting past the mesh limit): our published tracks go up on send-only
  transceivers, and the worker offers everyone else's tracks down on its own send-only m-lines, each labelled
  ``a=msid:<publisher id> <track sid>``. The worker is the impolite peer: when both offer at once it ignores ours,
  and since aiortc cannot roll an offer back we start over on a new connection (the worker replaces its peer when
  an offer comes with new ICE credentials).
- **The recording leg**: while a mesh room is recorded, every publisher also sends its tracks here, send-only,
  because recording happens on the SFU (recording.md); it receives nothing.

Publishing is: a send-only transceiver per track (VP8 or Opus, what the worker forwards without decoding), an
``sfu-signal`` offer, the worker's answer, then ``publish`` repeating the track's sid with its transceiver's mid
(only the worker hears of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from django_levelchat.client.mesh import LocalMedia, ice_servers
from django_levelchat.client.signaling import RequestError

log = logging.getLogger("django_levelchat.client.sfu")

PINNED = {"video": "vp8", "audio": "opus"}  # the SFU copies frames: the codecs it forwards and records
ANSWER_TIMEOUT = 30.0  # s for the worker's answer to our offer
Request = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
RemoteTrack = Callable[[str, str, MediaStreamTrack], None]  # (publisher id, track sid, track)
_MID_RE = re.compile(r"^a=mid:(\S+)", re.MULTILINE)
_MSID_RE = re.compile(r"^a=msid:(\S+) (\S+)", re.MULTILINE)


def copy_frame(frame: av.VideoFrame | av.AudioFrame) -> av.VideoFrame | av.AudioFrame:
    """A new frame with the same picture or samples and timing."""
    out: av.VideoFrame | av.AudioFrame
    if isinstance(frame, av.VideoFrame):
        out = av.VideoFrame(frame.width, frame.height, frame.format.name)
    else:
        out = av.AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=frame.samples)
        out.sample_rate = frame.sample_rate
    for source, target in zip(frame.planes, out.planes, strict=True):
        data = bytes(source)
        target.update(
            data[: target.buffer_size] if len(data) >= target.buffer_size else data.ljust(target.buffer_size, b"\0")
        )
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


class FrameCopies(MediaStreamTrack):
    """A track of copies of another's frames. The mesh's senders encode the very frame objects the relay hands
    out, on executor threads, and PyAV rebases a frame's pts to its encoder's time base in place: a second encoder
    with another time base (H.264 toward a browser, VP8 here) would then get broken timestamps."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source

    async def recv(self) -> Any:
        frame = await self.source.recv()
        assert isinstance(frame, av.VideoFrame | av.AudioFrame), "a local track yields decoded frames"
        return copy_frame(frame)

    def stop(self) -> None:
        super().stop()
        self.source.stop()


class SfuConnection:
    """Our peer connection with the SFU worker: publishes our tracks; with ``on_remote_track`` also receives."""

    def __init__(
        self,
        *,
        ice: Sequence[Mapping[str, Any]],
        request: Request,
        share: Callable[[MediaStreamTrack], MediaStreamTrack],
        on_remote_track: RemoteTrack | None = None,
    ) -> None:
        self.ice = ice
        self.request = request
        self.share = share  # what to send for a local track (a leg sends copies of the mesh's frames)
        self.on_remote_track = on_remote_track
        self.media: dict[str, LocalMedia] = {}  # what we publish here, by sid
        self.closed = False
        self.restarts = 0  # connections started over after glare (tests, logs)
        self._steps = asyncio.Lock()  # one negotiation at a time
        self._answer: asyncio.Future[Mapping[str, Any]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._new_pc()

    @property
    def receiving(self) -> bool:
        return self.on_remote_track is not None

    def _new_pc(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(self.ice)))
        self.transceivers: dict[str, RTCRtpTransceiver] = {}
        self.remote: dict[str, tuple[str, str]] = {}  # mid -> (publisher id, track sid), from the worker's offers
        self.pc.on("track", self._on_track)

    async def publish(self, media: Sequence[LocalMedia]) -> None:
        """Send these tracks too (those already sent are skipped) and negotiate."""
        async with self._steps:
            added = [m for m in media if m.sid not in self.media and not self.closed]
            if not added:
                return
            for item in added:
                self.media[item.sid] = item
                self._add(item)
            await self._offer(added)

    def _add(self, item: LocalMedia) -> None:
        transceiver = self.pc.addTransceiver(self.share(item.track), direction="sendonly")
        codecs = RTCRtpSender.getCapabilities(item.kind).codecs
        transceiver.setCodecPreferences([c for c in codecs if c.name.lower() in (PINNED[item.kind], "rtx")])
        self.transceivers[item.sid] = transceiver

    async def unpublish(self, sid: str) -> None:
        """Stop sending a track (the worker drops it on ``track-unpublished`` by itself)."""
        self.media.pop(sid, None)
        transceiver = self.transceivers.pop(sid, None)
        if transceiver is not None and not self.closed:
            await transceiver.sender.stop()

    async def _offer(self, items: Sequence[LocalMedia]) -> None:
        """Offer, take the answer, then give the worker the mids. Glare (the worker offered meanwhile and ignored
        ours): start over on a new connection, which the worker takes as a replacement."""
        for _ in range(3):
            await self.pc.setLocalDescription(await self.pc.createOffer())
            self._answer = asyncio.get_running_loop().create_future()
            offer = {"type": "offer", "sdp": self.pc.localDescription.sdp}
            await self.request({"type": "sfu-signal", "description": offer})
            try:
                answer = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT)
            except _Glare as glare:
                await self._start_over(glare.offer)
                items = list(self.media.values())
                continue
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            for item in items:
                mid = self.transceivers[item.sid].mid
                track = {"sid": item.sid, "kind": item.kind, "source": item.source, "muted": False, "mids": [mid]}
                await self.request({"type": "publish", "track": track})
            return
        raise TimeoutError("the SFU kept offering while we offered")

    async def _start_over(self, their_offer: Mapping[str, Any]) -> None:
        """A new connection. If the old one never connected, the worker still waits for an answer to its offer:
        the new one answers it first (then offers ours); otherwise our next offer replaces the worker's peer."""
        old = self.pc
        self.restarts += 1
        self._new_pc()
        if old.remoteDescription is None and self.receiving:
            await self._apply_offer(their_offer)
        for item in self.media.values():
            self._add(item)
        self._spawn(old.close())

    async def handle_signal(self, frame: Mapping[str, Any]) -> None:
        """An ``sfu-signal`` from the worker: its offer, the answer to ours, or a trickled candidate. Never waits
        for a negotiation of ours (their answers come through here)."""
        description = frame.get("description")
        if description is not None:
            waiting = self._answer is not None and not self._answer.done()
            if description["type"] == "answer" and waiting:
                assert self._answer is not None
                self._answer.set_result(description)
            elif description["type"] == "offer" and waiting:
                assert self._answer is not None
                self._answer.set_exception(_Glare(description))
            elif description["type"] == "offer" and self.receiving:
                self._spawn(self._answer_offer(description))
            else:
                log.info("ignoring an SFU %s", description["type"])
        elif (candidate := frame.get("candidate")) and candidate.get("candidate"):
            ice = candidate_from_sdp(candidate["candidate"].removeprefix("candidate:"))
            ice.sdpMid, ice.sdpMLineIndex = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
            with contextlib.suppress(Exception):  # a candidate for a connection already gone
                await self.pc.addIceCandidate(ice)

    async def _answer_offer(self, description: Mapping[str, Any]) -> None:
        async with self._steps:
            if self.closed or self.pc.signalingState != "stable":
                return  # we started over meanwhile: the worker offers the new connection
            await self._apply_offer(description)

    async def _apply_offer(self, description: Mapping[str, Any]) -> None:
        self.remote.update(msid_labels(description["sdp"]))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=description["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = {"type": "answer", "sdp": self.pc.localDescription.sdp}
        try:
            await self.request({"type": "sfu-signal", "description": answer})
        except RequestError as exc:  # the worker moved on (another offer, a failover)
            log.info("the SFU refused our answer: %s", exc)

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next((t for t in self.pc.getTransceivers() if t.receiver.track is track), None)
        label = self.remote.get(transceiver.mid or "") if transceiver is not None else None
        if label is not None and self.on_remote_track is not None:
            self.on_remote_track(label[0], label[1], track)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.pc.close()


class _Glare(Exception):
    """The worker offered while our offer waited: it ignores ours (it is the impolite peer)."""

    def __init__(self, offer: Mapping[str, Any]) -> None:
        super().__init__("the SFU offered while we offered")
        self.offer = offer


def msid_labels(sdp: str) -> dict[str, tuple[str, str]]:
    """mid -> (stream, track) of each m-section's ``a=msid``: the SFU's (publisher id, track sid)."""
    labels: dict[str, tuple[str, str]] = {}
    for section in sdp.replace("\r\n", "\n").split("\nm=")[1:]:
        mid = _MID_RE.search(section)
        msid = _MSID_RE.search(section)
        if mid and msid:
            labels[mid.group(1)] = (msid.group(1), msid.group(2))
    return labels
