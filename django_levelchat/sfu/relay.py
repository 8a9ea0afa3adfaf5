"""Ingest: take encoded frames out of an aiortc receiver and fan them out, without ever decoding.

aiortc has no public receive hook (its maintainer says so in aiortc#449). :class:`RelayBuffer` replaces the
receiver's jitter buffer ("hook B" in docs/sfu.md): aiortc still does SRTP, RTX unwrap, NACK, receiver reports and
bitrate estimation, then hands every depayloaded ``RtpPacket`` to ``add``. We assemble whole encoded frames
ourselves and return no frame, so aiortc's decoder queue stays empty.

Video is released on the marker bit as soon as the frame is complete and follows the previous one (no extra frame
of latency, unlike aiortc's buffer); after a loss that NACK does not repair in time, frames are held back until the
next keyframe and one is requested. Audio (Opus, one packet per frame) is released at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django_levelchat.sfu.keyframes import KeyframeRequester

logger = logging.getLogger("django_levelchat.sfu")

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000
#: Give up on a missing packet (and ask for a keyframe) after this long, or this many packets behind.
LOSS_TIMEOUT = 0.6
MAX_PENDING_PACKETS = 400
BITRATE_WINDOW = 1.0
#: VP8 payload bytes per forwarded packet: aiortc's packet budget (codecs.vpx.PACKET_MAX, 1300) less the 4-byte
#: payload descriptor egress writes (S/X bits, I bit, 15-bit picture id).
VP8_CHUNK = 1300 - 4


@dataclass(slots=True)
class EncodedFrame:
    """One encoded frame. ``timestamp`` is the RTP timestamp unwrapped to 64 bits (monotonic per stream)."""

    data: bytes
    timestamp: int
    keyframe: bool
    audio_level: int | None = None  # RFC 6464 -dBov (0 loudest, 127 silence), when the publisher sends it
    chunks: tuple[bytes, ...] | None = None  # VP8 payload split for RTP, cut once and shared by every subscriber
    ntp: int | None = None  # send time (NTP) of the frame's first forwarded packet, shared by every subscriber
    extensions: dict[Any, bytes] | None = None  # RTP header-extension blocks by sender layout, built once each


def vp8_descriptor(payload: bytes) -> tuple[bool, int]:
    """``(S bit, partition id)`` of an RFC 7741 VP8 payload descriptor."""
    return bool(payload[0] & 0x10), payload[0] & 0x0F


def vp8_is_keyframe(frame: bytes) -> bool:
    """The P bit of the VP8 frame tag (RFC 6386 §9.1) is 0 on a keyframe."""
    return len(frame) >= 10 and not frame[0] & 0x01 and frame[3:6] == b"\x9d\x01\x2a"


def vp8_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header, or None for an interframe."""
    if not vp8_is_keyframe(frame):
        return None
    return int.from_bytes(frame[6:8], "little") & 0x3FFF, int.from_bytes(frame[8:10], "little") & 0x3FFF


class _Unwrapper:
    """Extends a wrapping N-bit counter (RTP sequence numbers, timestamps) to a monotonic int."""

    def __init__(self, bits: int) -> None:
        self.mod = 1 << bits
        self.half = self.mod >> 1
        self.last: int | None = None

    def __call__(self, value: int) -> int:
        if self.last is None:
            self.last = value
            return value
        delta = (value - self.last) % self.mod
        if delta >= self.half:
            delta -= self.mod
        extended = self.last + delta
        if delta > 0:
            self.last = extended
        return extended


class RelayBuffer:
    """Duck-typed replacement for aiortc's ``JitterBuffer``: ``add(packet) -> (pli_wanted, None)``."""

    def __init__(
        self,
        kind: str,
        emit: Callable[[EncodedFrame], None],
        on_loss: Callable[[], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self._emit = emit
        self._on_loss = on_loss
        self._clock = clock
        self._seq = _Unwrapper(16)
        self._ts = _Unwrapper(32)
        self._packets: dict[int, Any] = {}
        self._next: int | None = None  # extended seq the next frame must start at; None = wait for a keyframe
        self._stuck_since: float | None = None
        self.ssrc: int | None = None
        self.frames = 0
        self.keyframes = 0
        self.losses = 0

    def add(self, packet: Any) -> tuple[bool, None]:
        self.ssrc = packet.ssrc
        if self.kind == "audio":
            level = packet.extensions.audio_level
            self._emit(
                EncodedFrame(
                    data=packet._data,
                    timestamp=self._ts(packet.timestamp),
                    keyframe=True,
                    audio_level=level[1] if level is not None else None,
                )
            )
            return False, None
        if not packet._data:
            return False, None  # padding-only packets carry no frame data
        seq = self._seq(packet.sequence_number)
        if self._next is not None and seq < self._next:
            return False, None  # a late retransmission of something already released or abandoned
        self._packets[seq] = packet
        self._drain()
        self._check_stuck()
        return False, None

    def _drain(self) -> None:
        while self._packets:
            if self._next is None:
                if not self._release_keyframe():
                    return
            elif not self._release_from(self._next):
                return

    def _frame_at(self, start: int) -> list[Any] | None:
        """The packets of a complete frame beginning at ``start`` (S bit, partition 0), up to its marker."""
        first = self._packets.get(start)
        if first is None:
            return None
        s_bit, partition = vp8_descriptor(first.payload)
        if not s_bit or partition != 0:
            return None
        packets = []
        seq = start
        while True:
            packet = self._packets.get(seq)
            if packet is None or packet.timestamp != first.timestamp:
                return None
            packets.append(packet)
            if packet.marker:
                return packets
            seq += 1

    def _release_from(self, start: int) -> bool:
        packets = self._frame_at(start)
        if packets is None:
            return False
        self._release(start, packets)
        return True

    def _release_keyframe(self) -> bool:
        for start in sorted(self._packets):
            packet = self._packets[start]
            if vp8_descriptor(packet.payload) == (True, 0) and vp8_is_keyframe(packet._data):
                packets = self._frame_at(start)
                if packets is not None:
                    for old in [s for s in self._packets if s < start]:
                        del self._packets[old]
                    self._release(start, packets)
                    return True
        return False

    def _release(self, start: int, packets: list[Any]) -> None:
        for n in range(len(packets)):
            del self._packets[start + n]
        self._next = start + len(packets)
        self._stuck_since = None
        data = b"".join(p._data for p in packets)
        keyframe = vp8_is_keyframe(data)
        self.frames += 1
        self.keyframes += keyframe
        self._emit(EncodedFrame(data=data, timestamp=self._ts(packets[0].timestamp), keyframe=keyframe))

    def _check_stuck(self) -> None:
        if not self._packets:
            self._stuck_since = None
            return
        now = self._clock()
        if self._stuck_since is None:
            self._stuck_since = now
        if now - self._stuck_since < LOSS_TIMEOUT and len(self._packets) < MAX_PENDING_PACKETS:
            return
        # NACK did not repair the gap in time: restart on the next complete keyframe, and ask for one.
        self._stuck_since = now
        if len(self._packets) >= MAX_PENDING_PACKETS:
            self._packets.clear()
        if self._next is not None:
            self.losses += 1
            self._next = None
            self._drain()
        if self._next is None:
            self._on_loss()


class Layer:
    """One received encoded stream (a simulcast layer, a mic, a screen) and the sinks it feeds.

    Created for every receiving transceiver as soon as the remote offer is applied, so the hook is in place before
    the first packet; bound to a published track (``source``) once the ``publish`` frame names its mid.
    """

    def __init__(
        self,
        receiver: Any,
        kind: str,
        mid: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        keyframe_interval: float = 0.5,
    ) -> None:
        self.receiver = receiver
        self.kind = kind
        self.mid = mid
        self.name = ""  # q/h/f once bound to a simulcast track
        self.source: Any = None
        self.clock_rate = VIDEO_CLOCK if kind == "video" else AUDIO_CLOCK
        self.sinks: list[Any] = []
        self.last_frame_at: float | None = None
        self.bitrate = 0.0
        self.audio_level: int | None = None
        self._clock = clock
        self.keyframes = KeyframeRequester(self._send_pli, min_interval=keyframe_interval, clock=clock)
        self.buffer = RelayBuffer(kind, self._push, self.request_keyframe, clock=clock)
        receiver._RTCRtpReceiver__jitter_buffer = self.buffer

    def _push(self, frame: EncodedFrame) -> None:
        now = self._clock()
        if self.last_frame_at is not None and now > self.last_frame_at:
            # bits/s over roughly the last second (exponential average of per-frame rates)
            rate = 8 * len(frame.data) / max(now - self.last_frame_at, 1 / 60)
            self.bitrate += (rate - self.bitrate) * min(1.0, (now - self.last_frame_at) / BITRATE_WINDOW)
        self.last_frame_at = now
        if frame.audio_level is not None:
            self.audio_level = frame.audio_level
        for sink in self.sinks:
            sink.on_frame(self, frame)

    def live(self, now: float, silence: float) -> bool:
        """Whether a frame arrived in the last ``silence`` seconds (a paused or stalled layer is not live)."""
        return self.last_frame_at is not None and now - self.last_frame_at <= silence

    def request_keyframe(self) -> None:
        if self.kind == "video":
            self.keyframes.request()

    def _send_pli(self) -> None:
        ssrc = self.buffer.ssrc
        if ssrc is None:
            return  # nothing received yet: the first frame the publisher sends is a keyframe anyway
        task = asyncio.ensure_future(self.receiver._send_rtcp_pli(ssrc))
        task.add_done_callback(_log_failure)

    def add_sink(self, sink: Any) -> None:
        if sink not in self.sinks:
            self.sinks.append(sink)

    def remove_sink(self, sink: Any) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)

    def close(self) -> None:
        self.keyframes.cancel()
        self.sinks.clear()


def _log_failure(task: Any) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.info("could not send a PLI upstream: %r", task.exception())
