"""Recording benchmark (issue 13): copy-muxing encoded frames (our recorder) against aiortc's ``MediaRecorder``
(decode, then re-encode), same clip, same run.

The clip is the SFU benchmark's synthetic 640×360 VP8 (a moving bar and a block of noise, ~600 kbps, 30 fps),
pre-encoded once. Copy-mux feeds its frames through ``TrackWriter`` exactly as the SFU's relay does (RTP
timestamps, keyframe flags) into live WebM; ``MediaRecorder`` gets the same frames decoded by a VP8 decoder, as an
aiortc SFU would have to hand them over, and writes WebM (its libvpx encoder). The figure is this process's CPU
time (user+sys, all threads) per second of recorded media, i.e. the share of a core one recorded track costs.
Then N copy-muxed tracks are recorded at once to show the load of a busy room. It prints, never asserts.

    python -m bench.recording                 # 10 s of media per mode (about a minute on 2 cores)
    python -m bench.recording --seconds 5 --tracks 10
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.sfu import FPS, SIZES, encode_clip

VIDEO_TICKS = 90000 // FPS


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def frames_for(clip: list[tuple[bytes, bool]], seconds: float) -> list[tuple[bytes, bool, int]]:
    """The looping clip as ``seconds`` of frames with 32-bit RTP timestamps (starting near the wrap)."""
    out = []
    for n in range(int(seconds * FPS)):
        data, key = clip[n % len(clip)]
        out.append((data, key, ((1 << 32) - 90000 + n * VIDEO_TICKS) % (1 << 32)))
    return out


def copy_mux(frames: list[tuple[bytes, bool, int]], directory: Path, tracks: int = 1) -> float:
    """CPU seconds to copy-mux ``frames`` into ``tracks`` files at once (interleaved, as the SFU would)."""
    from django_levelchat.recording.spool import TrackMeta
    from django_levelchat.recording.writer import TrackWriter

    writers = [
        TrackWriter(directory, f"t{n}", TrackMeta(participant=f"p{n}", track=f"t{n}", kind="video", codec="vp8"))
        for n in range(tracks)
    ]
    start = cpu()
    for data, key, ts in frames:
        for writer in writers:
            writer.write(data, ts, key)
    for writer in writers:
        writer.close()
    return cpu() - start


def media_recorder(frames: list[tuple[bytes, bool, int]], directory: Path) -> float:
    """CPU seconds for aiortc's MediaRecorder on the same frames: decode (VP8) + its own encode."""
    import av
    from aiortc.contrib.media import MediaRecorder
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class DecodedTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.decoder = av.CodecContext.create("libvpx", "r")
            self.pending: list[Any] = []
            self.n = 0
            self.done = asyncio.Event()

        async def recv(self) -> Any:
            while not self.pending:
                if self.n >= len(frames):
                    self.done.set()
                    self.stop()
                    raise MediaStreamError
                data, _, _ = frames[self.n]
                packet = av.Packet(data)
                packet.pts = self.n
                self.pending.extend(self.decoder.decode(packet))
                self.n += 1
            frame = self.pending.pop(0)
            frame.pts = self.n * VIDEO_TICKS
            frame.time_base = fractions.Fraction(1, 90000)
            return frame

    async def run() -> float:
        track = DecodedTrack()
        recorder = MediaRecorder(str(directory / "media-recorder.webm"))
        recorder.addTrack(track)
        start = cpu()
        await recorder.start()
        await track.done.wait()
        await recorder.stop()
        return cpu() - start

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="media seconds per mode (default 10)")
    parser.add_argument("--tracks", type=int, default=10, help="concurrent copy-muxed tracks (default 10)")
    args = parser.parse_args()
    width, height, bitrate = SIZES[360]
    clip = encode_clip(width, height, bitrate)
    frames = frames_for(clip, args.seconds)
    kbps = sum(len(d) for d, _, _ in frames) * 8 / args.seconds / 1000
    print(f"clip: {width}x{height} VP8 {kbps:.0f} kbps, {FPS} fps, {args.seconds:.0f} s per mode")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wall = time.monotonic()
        mux = copy_mux(frames, work)
        transcode = media_recorder(frames, work)
        many = copy_mux(frames, work / "many", tracks=args.tracks)
        wall = time.monotonic() - wall
    per_s = {name: value / args.seconds for name, value in (("copy", mux), ("recorder", transcode))}
    print(f"{'mode':<34} {'CPU s':>7} {'% of a core per track':>22}")
    print(f"{'copy-mux (TrackWriter, live WebM)':<34} {mux:>7.3f} {per_s['copy'] * 100:>21.2f}%")
    print(f"{'aiortc MediaRecorder (re-encode)':<34} {transcode:>7.3f} {per_s['recorder'] * 100:>21.2f}%")
    print(f"copy-mux is {transcode / max(mux, 1e-9):.0f}x cheaper than MediaRecorder")
    load = many / args.seconds * 100
    print(
        f"{args.tracks} tracks copy-muxed at once: {load:.2f}% of one core in real time "
        f"({many / args.tracks / args.seconds * 1000:.2f} ms CPU per track-second); "
        f"about {int(100 / max(per_s['copy'] * 100, 1e-9))} tracks per core at 100%"
    )
    print(f"(wall time of the run: {wall:.1f} s)")


if __name__ == "__main__":
    main()
