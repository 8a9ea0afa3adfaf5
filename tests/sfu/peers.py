"""Raw aiortc peers for SFU tests: a synthetic VP8 publisher and decoding subscribers, signaled in-process."""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from django_levelchat import protocol

WIDTH, HEIGHT, FPS = 320, 180, 15


class PatternTrack(MediaStreamTrack):
    """A small moving test pattern (low resolution and frame rate keep the encoder cheap on a busy machine)."""

    kind = "video"

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._n / FPS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        x = (self._n * 4) % (self.width - 16)
        row = bytes([40] * x + [235] * 16 + [40] * (self.width - x - 16))
        luma, cb, cr = frame.planes
        luma.update(_fit(row * self.height, luma))
        cb.update(_fit(bytes([90 + self._n % 64]) * (self.width * self.height // 4), cb))
        cr.update(_fit(bytes([160]) * (self.width * self.height // 4), cr))
        frame.pts = self._n * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self._n += 1
        return frame


def _fit(data: bytes, plane: Any) -> bytes:
    """Pad each row to the plane's line size (PyAV planes may be wider than the picture)."""
    width = plane.width
    if plane.line_size == width:
        return data
    pad = bytes(plane.line_size - width)
    return b"".join(data[i : i + width] + pad for i in range(0, len(data), width))


Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class RawPeer:
    """One participant's peer connection with the SFU; answers the SFU's offers, decodes what it receives."""

    def __init__(self, pid: str, to_sfu: Callable[..., Awaitable[None]]) -> None:
        self.pid = pid
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.to_sfu = to_sfu
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames: list[dict[str, Any]] = []  # received frames: {"track": id, "stream": id, "size": (w, h), "t": ...}
        self.layer_demands: list[dict[str, Any]] = []
        self.first_frame_at: float | None = None
        self.started_at = time.monotonic()
        self.keyframe_requests = 0
        self._tasks: list[asyncio.Task[Any]] = [asyncio.ensure_future(self._run())]
        self.pc.on("track", self._on_track)

    async def deliver(self, frame: dict[str, Any]) -> None:
        await self.inbox.put(frame)

    async def _run(self) -> None:
        while True:
            frame = await self.inbox.get()
            if frame["type"] == "layer-demand":
                self.layer_demands.append(frame)
                continue
            description = frame.get("description")
            if description is None:
                continue
            await self.pc.setRemoteDescription(RTCSessionDescription(**description))
            if description["type"] == "offer":
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self.to_sfu(
                    self.pid, protocol.SessionDescription(type="answer", sdp=self.pc.localDescription.sdp)
                )

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
                size = (frame.width, frame.height) if track.kind == "video" else None
                self.frames.append({"track": track.id, "kind": track.kind, "size": size, "t": time.monotonic()})

    async def publish_video(self, sid: str, tracks: list[MediaStreamTrack], layers: tuple[str, ...] = ()) -> list[str]:
        """Add one send-only transceiver per track (simulcast: one per layer), offer, return the mids."""
        transceivers = [self.pc.addTransceiver(track, direction="sendonly") for track in tracks]
        for transceiver in transceivers:
            sender = transceiver.sender
            original = sender._send_keyframe

            def counted(original: Callable[[], None] = original) -> None:
                self.keyframe_requests += 1
                original()

            sender._send_keyframe = counted
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return [t.mid for t in transceivers]

    def offer(self) -> protocol.SessionDescription:
        return protocol.SessionDescription(type="offer", sdp=self.pc.localDescription.sdp)

    def sizes(self, since: float = 0.0) -> set[tuple[int, int]]:
        return {f["size"] for f in self.frames if f["kind"] == "video" and f["t"] >= since}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.pc.close()


async def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; the deadline is generous (a busy 2-core machine), never an assertion of speed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone at 48 kHz in 20 ms frames (loud by default): aiortc's sender tags each packet with its
    RFC 6464 level, about 20*log10(amplitude / 32768 / sqrt 2) dBov."""

    kind = "audio"

    def __init__(self, amplitude: int = 12000) -> None:
        super().__init__()
        self._n = 0
        self._start: float | None = None
        self.set_amplitude(amplitude)

    def set_amplitude(self, amplitude: int) -> None:
        period = [int(amplitude * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(960)]
        self._samples = array.array("h", period).tobytes()

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._n * 0.02 - time.monotonic()))
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self._samples)
        frame.sample_rate = 48000
        frame.pts = self._n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self._n += 1
        return frame
