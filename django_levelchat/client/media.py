"""Test media for bots, tests and load tests: a synthetic camera and a tone, both cheap to make.

The video is a moving diagonal gradient with the frame number drawn into the top rows as 16 black/white blocks
(``read_frame_counter`` reads it back from a decoded frame), so a receiver can tell frames apart and see that
they advance. The audio is a sine tone. Both pace themselves in real time like a capture device.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

VIDEO_CLOCK_RATE = 90000
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020
COUNTER_BITS = 16
_WHITE, _BLACK = 235, 16


class _Paced:
    """Real-time pacing of pts (what aiortc's own test tracks do)."""

    _start: float | None = None
    _pts = 0

    async def _next_pts(self, step: int, clock_rate: int) -> int:
        if self.readyState != "live":  # type: ignore[attr-defined]
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
            self._pts = 0
        else:
            self._pts += step
            wait = self._start + self._pts / clock_rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        return self._pts


class SyntheticVideoTrack(_Paced, MediaStreamTrack):
    """A moving pattern with a frame counter, ``width`` × ``height`` at ``fps`` (width ≥ 64, both even)."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        if width < 64 or height < 32 or width % 2 or height % 2:
            raise ValueError("width must be ≥ 64 and height ≥ 32, both even")
        self.width, self.height, self.fps = width, height, fps
        self.frames_sent = 0
        self.block = width // COUNTER_BITS
        gradient = bytes(16 + (x * 219 // width) for x in range(width))
        self._base = gradient * 2
        self._chroma = bytes([128]) * ((width // 2) * (height // 2))

    def _luma(self, n: int) -> bytes:
        w, block = self.width, self.block
        bits = b"".join(
            (bytes([_WHITE]) if (n >> (COUNTER_BITS - 1 - i)) & 1 else bytes([_BLACK])) * block
            for i in range(COUNTER_BITS)
        )
        bar = (bits + bytes([_BLACK]) * (w - len(bits))) * block
        rows = []
        for y in range(block, self.height):
            offset = (y + n * 4) % w
            rows.append(self._base[offset : offset + w])
        return bar + b"".join(rows)

    async def recv(self) -> av.VideoFrame:
        pts = await self._next_pts(VIDEO_CLOCK_RATE // self.fps, VIDEO_CLOCK_RATE)
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        frame.planes[0].update(self._luma(self.frames_sent))
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        self.frames_sent += 1
        return frame


def read_frame_counter(frame: av.VideoFrame) -> int | None:
    """The counter SyntheticVideoTrack drew into ``frame`` (after encode/decode), or None if it is not there.

    Each of the 16 blocks is read at its centre; a block neither clearly white nor clearly black means the frame
    was not drawn by SyntheticVideoTrack (or scaled: the receiver must get the sender's resolution).
    """
    plane = frame.planes[0]
    block = frame.width // COUNTER_BITS
    if block < 2 or frame.height < block:
        return None
    data = bytes(plane)
    row = (block // 2) * plane.line_size
    value = 0
    for i in range(COUNTER_BITS):
        luma = data[row + i * block + block // 2]
        if luma > 170:
            value = value << 1 | 1
        elif luma < 80:
            value <<= 1
        else:
            return None
    return value


class ToneAudioTrack(_Paced, MediaStreamTrack):
    """A sine tone (mono, 48 kHz, 20 ms frames)."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._samples = samples
        cycle = AUDIO_RATE  # one second holds a whole number of cycles of any integer frequency
        level = int(32767 * amplitude)
        self._pcm = struct.pack(
            f"<{cycle}h", *(int(level * math.sin(2 * math.pi * frequency * i / AUDIO_RATE)) for i in range(cycle))
        )
        self._offset = 0

    async def recv(self) -> av.AudioFrame:
        pts = await self._next_pts(self._samples, AUDIO_RATE)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        size = self._samples * 2
        chunk = self._pcm[self._offset : self._offset + size]
        if len(chunk) < size:
            chunk += self._pcm[: size - len(chunk)]
        self._offset = (self._offset + size) % len(self._pcm)
        frame.planes[0].update(chunk)
        frame.pts = pts
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame
