"""Real encoded media for recording tests: small VP8 and Opus clips encoded with PyAV (no files, no downloads)."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from fractions import Fraction

import av

WIDTH, HEIGHT, FPS = 160, 120, 30
VIDEO_TICKS = 90000 // FPS  # RTP ticks per frame
AUDIO_SAMPLES = 960  # 20 ms at 48 kHz


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes
    keyframe: bool
    index: int


def encode_vp8(seconds: float, *, luma: int = 200, gop: int = 30) -> list[Frame]:
    """A bar moving over a flat background of brightness ``luma``; one keyframe every ``gop`` frames."""
    cc = av.CodecContext.create("libvpx", "w")
    cc.width, cc.height, cc.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    cc.time_base = Fraction(1, FPS)
    cc.framerate = FPS
    cc.bit_rate = 150_000
    cc.gop_size = gop
    cc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "auto-alt-ref": "0"}
    chroma = bytes([128]) * (WIDTH * HEIGHT // 4)
    packets: list[av.Packet] = []
    for i in range(int(seconds * FPS)):
        x0 = (i * 4) % (WIDTH - 16)
        row = bytes([luma]) * x0 + bytes([255 - luma]) * 16 + bytes([luma]) * (WIDTH - x0 - 16)
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(row * HEIGHT)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = i
        frame.pict_type = av.video.frame.PictureType.I if i % gop == 0 else av.video.frame.PictureType.NONE
        packets.extend(cc.encode(frame))
    packets.extend(cc.encode(None))
    return [Frame(bytes(p), bool(p.is_keyframe), n) for n, p in enumerate(packets)]


def encode_opus(seconds: float, *, freq: float = 440.0) -> list[Frame]:
    """A sine tone, 20 ms per packet."""
    cc = av.CodecContext.create("libopus", "w")
    cc.sample_rate, cc.layout, cc.format, cc.bit_rate = 48000, "stereo", "s16", 32000
    frames: list[Frame] = []
    for i in range(int(seconds * 50)):
        base = i * AUDIO_SAMPLES
        samples = array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * freq * (base + k) / 48000))
                for k in range(AUDIO_SAMPLES)
                for _ in (0, 1)
            ),
        )
        frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_SAMPLES)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = 48000, base
        frames.extend(Frame(bytes(p), True, len(frames)) for p in cc.encode(frame))
    frames.extend(Frame(bytes(p), True, len(frames)) for p in cc.encode(None))
    return frames


def rtp_ts(start: int, index: int, ticks: int) -> int:
    """The 32-bit RTP timestamp of frame ``index`` of a stream that began at ``start`` (wraps like RTP does)."""
    return (start + index * ticks) % (1 << 32)


def decode_summary(path: str) -> dict[str, dict[str, float]]:
    """Per stream type: decoded frame count and last frame end time (seconds), decoding everything."""
    out: dict[str, dict[str, float]] = {}
    with av.open(path) as container:
        for stream in container.streams:
            out[stream.type] = {"frames": 0, "end": 0.0}
        for frame in container.decode(*container.streams):
            entry = out[frame.__class__.__name__.replace("Frame", "").lower()]
            entry["frames"] += 1
            if frame.time is not None:
                step = frame.samples / frame.sample_rate if hasattr(frame, "samples") else 1 / FPS
                entry["end"] = max(entry["end"], frame.time + step)
    return out
