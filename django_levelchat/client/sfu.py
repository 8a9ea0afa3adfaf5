"""The recording leg: a send-only connection to the room's SFU worker while a mesh room is recorded.

In a mesh room media goes peer to peer and never reaches the SFU, which is where recording happens. So while a
recording runs (``recording`` ``started``, or ``room.recording`` in ``welcome``) every publisher also sends its
published tracks to the worker on one extra peer connection (docs/recording.md, protocol.md ``publish``): for
each track a send-only transceiver, a ``publish`` repeating the track's sid with that transceiver's mid (only the
worker hears of it), then an ``sfu-signal`` offer. The worker answers, records, and closes the leg when the
recording ends; we close ours on ``recording`` ``stopped``/``failed``. The leg sends the same frames as the mesh
senders (one more subscriber of the mesh's relay) and receives nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from django_levelchat.client.mesh import LocalMedia, ice_servers

log = logging.getLogger("django_levelchat.client.sfu")

PINNED = {"video": "vp8", "audio": "opus"}  # the SFU copies frames: the codecs it forwards and records
Request = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


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


class RecordingLeg:
    """Our published tracks, sent to the SFU worker for a mesh room's recording (no media comes back)."""

    def __init__(
        self,
        *,
        ice: Sequence[Mapping[str, Any]],
        request: Request,
        share: Callable[[MediaStreamTrack], MediaStreamTrack],
    ) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(ice)))
        self.request = request
        self.share = share  # a copy of a local track's frames (the mesh's relay), so no sender steals frames
        self.transceivers: dict[str, RTCRtpTransceiver] = {}
        self.announced: set[str] = set()
        self.closed = False
        self._lock = asyncio.Lock()
        self._answer: asyncio.Future[Mapping[str, Any]] | None = None

    async def publish(self, media: Sequence[LocalMedia]) -> None:
        """Send these tracks too (those already on the leg are skipped) and negotiate."""
        async with self._lock:
            added = [m for m in media if m.sid not in self.transceivers and not self.closed]
            for item in added:
                track = FrameCopies(self.share(item.track))
                transceiver = self.pc.addTransceiver(track, direction="sendonly")
                codecs = RTCRtpSender.getCapabilities(item.kind).codecs
                transceiver.setCodecPreferences([c for c in codecs if c.name.lower() in (PINNED[item.kind], "rtx")])
                self.transceivers[item.sid] = transceiver
            if added:
                await self._negotiate(added)

    async def unpublish(self, sid: str) -> None:
        """Stop sending a track (the worker closes its file on ``track-unpublished`` by itself)."""
        transceiver = self.transceivers.pop(sid, None)
        if transceiver is not None and not self.closed:
            await transceiver.sender.stop()

    async def _negotiate(self, added: Sequence[LocalMedia]) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        for item in added:
            mid = self.transceivers[item.sid].mid
            track = {"sid": item.sid, "kind": item.kind, "source": item.source, "muted": False, "mids": [mid]}
            await self.request({"type": "publish", "track": track})
        self._answer = asyncio.get_running_loop().create_future()
        offer = {"type": "offer", "sdp": self.pc.localDescription.sdp}
        await self.request({"type": "sfu-signal", "description": offer})
        answer = await asyncio.wait_for(self._answer, 30)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    async def handle_signal(self, frame: Mapping[str, Any]) -> None:
        """An ``sfu-signal`` from the worker: the answer to our offer, or a trickled candidate."""
        description = frame.get("description")
        if description is not None:
            if description["type"] == "answer" and self._answer is not None and not self._answer.done():
                self._answer.set_result(description)
            else:
                log.info("ignoring an SFU %s on the recording leg", description["type"])
        elif (candidate := frame.get("candidate")) and candidate.get("candidate"):
            ice = candidate_from_sdp(candidate["candidate"].removeprefix("candidate:"))
            ice.sdpMid, ice.sdpMLineIndex = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
            with contextlib.suppress(Exception):  # a candidate for a connection already gone
                await self.pc.addIceCandidate(ice)

    async def close(self) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        await self.pc.close()
