"""Copy-mux one track's encoded frames into a crash-safe file. Nothing is decoded.

The SFU hands each encoded frame (VP8, H.264 or Opus) with its RTP timestamp. VP8 and Opus go into WebM, H.264
into Matroska, opened with ``live=1, flush_packets=1`` and a cluster every 0.5 s: a cluster reaches the disk as
soon as it closes, so a file cut off by ``kill -9`` plays up to about 0.5 s before the kill (docs/recording.md
has the measurements). The file is made seekable later by :func:`django_levelchat.recording.finalize.remux`.

Video starts on a keyframe: until one arrives, frames are dropped and ``request_keyframe`` is called (at most once
per ``keyframe_retry`` seconds), which the SFU turns into a PLI to the publisher.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from django_levelchat.recording.spool import TrackMeta, write_meta
from django_levelchat.recording.timeline import RtpUnwrapper, ntp_to_unix

CLOCK_RATES = {"vp8": 90000, "h264": 90000, "opus": 48000}
CONTAINERS = {"vp8": ("webm", ".webm"), "opus": ("webm", ".webm"), "h264": ("matroska", ".mkv")}
LIVE_OPTIONS = {"live": "1", "flush_packets": "1", "cluster_time_limit": "500"}
# RFC 7845 identification header: version 1, 2 channels, 312 samples pre-skip (libopus), 48 kHz, gain 0, family 0.
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)


def vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 §9.1), or None for an interframe."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return int.from_bytes(frame[6:8], "little") & 0x3FFF, int.from_bytes(frame[8:10], "little") & 0x3FFF


def is_keyframe(codec: str, frame: bytes) -> bool:
    """Keyframe detection from the bitstream, for callers that do not know (audio frames always are)."""
    if codec == "vp8":
        return vp8_keyframe_size(frame) is not None
    if codec == "h264":
        return any(nal in frame for nal in (b"\x00\x00\x01\x65", b"\x00\x00\x01\x67", b"\x00\x00\x00\x01\x67"))
    return True


class TrackWriter:
    """One published track → one file. Not thread-safe; call it from the SFU's event loop."""

    def __init__(
        self,
        directory: Path | str,
        stem: str,
        meta: TrackMeta,
        *,
        request_keyframe: Callable[[], None] | None = None,
        keyframe_retry: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        if meta.codec not in CONTAINERS:
            raise ValueError(f"cannot record codec {meta.codec!r}")
        self.meta = meta
        self.codec = meta.codec
        self.clock_rate = CLOCK_RATES[meta.codec]
        container_format, suffix = CONTAINERS[meta.codec]
        self.format = container_format
        self.path = Path(directory) / f"{stem}{suffix}"
        self._request_keyframe = request_keyframe
        self._keyframe_retry = keyframe_retry
        self._clock = clock
        self._wallclock = wallclock
        self._unwrap = RtpUnwrapper()
        self._container: Any = None
        self._stream: Any = None
        self._time_base = Fraction(1, self.clock_rate)
        self._first_ts: int | None = None
        self._last_pts = -1
        self._last_request: float | None = None
        self._pending_sr: tuple[int, int] | None = None
        self.frames = 0
        self.bytes = 0
        self.closed = False

    @property
    def started(self) -> bool:
        return self._container is not None

    def write(self, data: bytes, timestamp: int, keyframe: bool | None = None) -> bool:
        """Mux one encoded frame; False while waiting for the first keyframe (or after ``close``)."""
        if self.closed:
            return False
        extended = self._unwrap(timestamp)
        if self._container is None:
            if keyframe is None:
                keyframe = is_keyframe(self.codec, data)
            if not keyframe:
                self._ask_keyframe()
                return False
            self._open(data, extended)
        if keyframe is None:
            keyframe = is_keyframe(self.codec, data)
        assert self._first_ts is not None
        pts = max(extended - self._first_ts, self._last_pts)  # reordering never moves time backwards
        self._last_pts = pts
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.pts = packet.dts = pts
        packet.time_base = self._time_base  # a constant: after the header the stream's own base is 1/1000
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        self.frames += 1
        self.bytes += len(data)
        return True

    def sender_report(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        """An RTCP SR of this track's SSRC: map pts 0 onto the sender's clock, for audio/video alignment."""
        if self.closed:
            return
        if self._first_ts is None:
            self._pending_sr = (ntp_timestamp, rtp_timestamp)
            return
        self._apply_sr(ntp_timestamp, rtp_timestamp)

    def close(self) -> None:
        """Write the trailer. Idempotent; a writer that never saw a keyframe leaves no file."""
        if self.closed:
            return
        self.closed = True
        if self._container is not None:
            self._container.close()

    def _ask_keyframe(self) -> None:
        if self._request_keyframe is None:
            return
        now = self._clock()
        if self._last_request is None or now - self._last_request >= self._keyframe_retry:
            self._last_request = now
            self._request_keyframe()

    def _open(self, first_frame: bytes, extended: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), "w", format=self.format, options=dict(LIVE_OPTIONS))
        if self.meta.kind == "audio":
            stream: Any = container.add_stream(self.codec, rate=self.clock_rate)
            stream.layout = "stereo"
            stream.codec_context.extradata = OPUS_HEAD
        else:
            stream = container.add_stream(self.codec, rate=30)
            size = vp8_keyframe_size(first_frame) if self.codec == "vp8" else None
            width, height = size or (self.meta.width or 640, self.meta.height or 480)
            stream.width, stream.height = width, height
            self.meta.width, self.meta.height = width, height
        self._container, self._stream = container, stream
        self._first_ts = extended
        self.meta.arrival = self._wallclock()
        if self._pending_sr is not None:
            self._apply_sr(*self._pending_sr)  # writes the sidecar
        else:
            write_meta(self.path, self.meta)

    def _apply_sr(self, ntp_timestamp: int, rtp_timestamp: int) -> None:
        assert self._first_ts is not None
        sr_extended = self._unwrap(rtp_timestamp)
        self.meta.sender = ntp_to_unix(ntp_timestamp) - (sr_extended - self._first_ts) / self.clock_rate
        write_meta(self.path, self.meta)
