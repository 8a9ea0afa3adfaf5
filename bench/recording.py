"""Recording benchmark (issue 13): copy-muxing encoded frames (our recorder) against aiortc's ``MediaRecorder``
(decode, then re-encode), in two parts, each comparing both in the same run.

1. **Offline, one track.** The clip is the SFU benchmark's synthetic 640×360 VP8 (a moving bar and a block of
   noise, ~600 kbps, 30 fps), pre-encoded once. Copy-mux feeds its frames through ``TrackWriter`` exactly as the
   SFU's relay does (RTP timestamps, keyframe flags) into live WebM; ``MediaRecorder`` gets the same frames
   decoded by a VP8 decoder, as an aiortc SFU would have to hand them over, and writes WebM (its libvpx encoder).
   The figure is this process's CPU time (user+sys, all threads) per second of recorded media.
2. **Live, in a forwarding worker.** An ``SfuRoom`` in a child process pinned to one core receives ``--tracks``
   360p publishers (the clip, sent pre-encoded from this process on the other core) and forwards every track to
   ``--subs`` subscribers (which count frames, never decode). Three windows in the same process: forwarding only;
   forwarding + every track recorded by the SFU's ``RoomRecorder`` (copy-mux, the real recording path); forwarding
   + ``--mr-tracks`` tracks recorded by ``MediaRecorder`` (fed by decoding the relayed frames). Printed per window:
   worker CPU (% of its core), frames taken in per track (30 = the worker kept up), RTP packets it sent to the
   subscribers, the frame rate the subscribers counted (in this process, which shares its core with whatever
   else runs), the worker's event-loop lag p99, and CPU per recorded track at 30 fps: the window's CPU less the
   forwarding CPU of the frames it took in (from the first window), per recorded frame, times 30 (a worker
   starved by a loaded machine takes in fewer frames; per frame the figure stays comparable).

It prints, never asserts.

    python -m bench.recording                 # both parts (about two minutes on 2 cores)
    python -m bench.recording --seconds 5 --tracks 10 --subs 2 --mr-tracks 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.child import serving
from bench.sfu import FPS, SIZES, Counter, LagProbe, clip_track, encode_clip, pin

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


# ------------------------------------------------------------------------------------ live: the worker process


class DecodingTrack:
    """What ``MediaRecorder`` needs from an SFU: the relayed frames of one layer, decoded (a layer sink)."""

    def __init__(self, layer: Any) -> None:
        import av
        from aiortc.mediastreams import MediaStreamTrack

        feed = self

        class Track(MediaStreamTrack):
            kind = "video"

            async def recv(self) -> Any:
                return await feed.recv()

        self.track = Track()
        self.decoder = av.CodecContext.create("libvpx", "r")
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=60)
        self.started = False
        self.decoded = 0
        self.layer = layer
        layer.add_sink(self)
        layer.request_keyframe()

    def on_frame(self, layer: Any, frame: Any) -> None:
        self.started = self.started or frame.keyframe
        if self.started and not self.queue.full():
            self.queue.put_nowait(frame)

    async def recv(self) -> Any:
        import av

        while True:
            encoded = await self.queue.get()
            decoded = self.decoder.decode(av.Packet(encoded.data))
            self.decoded += 1
            if decoded:
                frame = decoded[-1]
                frame.pts = encoded.timestamp
                frame.time_base = fractions.Fraction(1, 90000)
                return frame

    def close(self) -> None:
        self.layer.remove_sink(self)


class SinkTimer:
    """The CPU time (this thread) spent inside the recorder's sinks: the whole live recording path (copy-mux and
    the file writes), measured directly, since on a loaded machine it is below the noise of whole-process CPU."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.frames = 0
        self.started = False

    def wrap(self, sink: Any) -> None:
        original = sink.on_frame

        def on_frame(layer: Any, frame: Any) -> None:
            t0 = time.thread_time()
            original(layer, frame)
            if self.started:
                self.cpu += time.thread_time() - t0
                self.frames += 1

        sink.on_frame = on_frame

    def reset_on_first(self) -> int:
        """``recorded`` for ``measure``: called at the window's start (starts timing) and end."""
        self.started = True
        return self.frames


class IngestCounter:
    """A sink on every received layer: how many frames the worker took in (it forwards each to every subscriber)."""

    def __init__(self) -> None:
        self.frames = 0

    def attach(self, room: Any) -> None:
        for source in room.sources.values():
            for layer in source.layers.values():
                layer.add_sink(self)

    def on_frame(self, layer: Any, frame: Any) -> None:
        self.frames += 1


def packets_out(room: Any) -> int:
    """RTP packets the worker has sent to its subscribers (aiortc's per-sender count)."""
    return sum(t.sender._RTCRtpSender__packet_count for peer in room.peers.values() for t in peer.pc.getTransceivers())


async def worker(path: str, directory: str) -> None:
    """The SFU process: a room that forwards, and on request records with ``RoomRecorder`` or ``MediaRecorder``."""
    from aiortc.contrib.media import MediaRecorder

    from django_levelchat import protocol
    from django_levelchat.sfu.recorder import RoomRecorder
    from django_levelchat.sfu.room import SfuConfig, SfuRoom

    pin(0)
    outbox: dict[str, asyncio.Queue[dict[str, Any]]] = {}

    async def send(pid: str, frame: dict[str, Any]) -> None:
        await outbox.setdefault(pid, asyncio.Queue()).put(frame)

    async def description(pid: str) -> str:
        while True:
            frame = await outbox.setdefault(pid, asyncio.Queue()).get()
            if "description" in frame:
                return str(frame["description"]["sdp"])

    room = SfuRoom("RM_bench", send, SfuConfig(allow_private_candidates=True, start_bitrate=0, last_n=0))
    probe = LagProbe()
    ingest = IngestCounter()

    async def measure(seconds: float, recorded: Callable[[], int] = lambda: 0) -> dict[str, float]:
        ingest.attach(room)
        await asyncio.sleep(2.0)  # warm-up: files opened, first keyframes in
        probe.lags.clear()
        cpu0, t0, in0, rec0, out0 = cpu(), time.monotonic(), ingest.frames, recorded(), packets_out(room)
        await asyncio.sleep(seconds)
        cpu1, t1, in1, rec1, out1 = cpu(), time.monotonic(), ingest.frames, recorded(), packets_out(room)
        lags = sorted(probe.lags) or [0.0]
        return {
            "cpu_s": cpu1 - cpu0,
            "cpu": (cpu1 - cpu0) / (t1 - t0),
            "ingest": in1 - in0,
            "ingest_fps": (in1 - in0) / (t1 - t0) / max(1, len(room.sources)),
            "recorded": rec1 - rec0,
            "out_pps": (out1 - out0) / (t1 - t0),
            "lag_p99": lags[int(0.99 * (len(lags) - 1))],
        }

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            op = request["op"]
            result: Any = None
            if op == "publish":
                pid = request["pid"]
                track = {"sid": f"TR_{pid}", "kind": "video", "source": "camera", "mids": [request["mid"]]}
                await room.join(pid, subscribe=False)  # publishers only send: the subscribers below receive
                await room.publish(pid, track)
                await room.signal(pid, description=protocol.SessionDescription(type="offer", sdp=request["sdp"]))
                result = await description(pid)
            elif op == "subscribe":
                await room.join(request["pid"])
                result = await description(request["pid"])
            elif op == "answer":
                answer = protocol.SessionDescription(type="answer", sdp=request["sdp"])
                await room.signal(request["pid"], description=answer)
            elif op == "measure" and request["mode"] == "forward":
                result = await measure(request["seconds"])
            elif op == "measure" and request["mode"] == "copy":
                copier = RoomRecorder(room, Path(directory) / "copy")
                copier.start()
                timed = SinkTimer()
                for sink in copier.sinks.values():
                    timed.wrap(sink)
                result = {**await measure(request["seconds"], timed.reset_on_first), "tracks": len(copier.sinks)}
                result["sink_cpu_s"], result["sink_frames"] = timed.cpu, timed.frames
                await copier.stop()
            elif op == "measure" and request["mode"] == "media-recorder":
                layers = [s.pick("high") for s in list(room.sources.values())[: request["tracks"]]]
                feeds, recorders = [DecodingTrack(layer) for layer in layers], []
                for n, feed in enumerate(feeds):
                    recorder = MediaRecorder(os.path.join(directory, f"media-recorder-{n}.webm"))
                    recorder.addTrack(feed.track)
                    await recorder.start()
                    recorders.append(recorder)
                decoded = lambda f=feeds: sum(feed.decoded for feed in f)  # noqa: E731
                result = {**await measure(request["seconds"], decoded), "tracks": len(feeds)}
                for feed, recorder in zip(feeds, recorders, strict=True):
                    feed.close()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(recorder.stop(), 10)
            writer.write((json.dumps({"result": result}) + "\n").encode())
            await writer.drain()
        os._exit(0)  # the run is over: skip closing the peer connections one by one

    server = await asyncio.start_unix_server(handle, path)
    async with server:
        await server.serve_forever()


async def live(
    clip: list[tuple[bytes, bool]], tracks: int, subs: int, mr_tracks: int, seconds: float
) -> list[dict[str, Any]]:
    """Publishers and subscribers here (pinned off the worker's core), the worker in a child process."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pin(1)
    child = contextlib.AsyncExitStack()
    tmp = tempfile.mkdtemp(prefix="lc-rec-bench-")
    call = await child.enter_async_context(serving("bench.recording", "--dir", tmp, tmp=tmp))
    pcs: list[Any] = []
    counters: list[Counter] = []
    try:
        for n in range(tracks):
            pub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pub)
            transceiver = pub.addTransceiver(clip_track(clip), direction="sendonly")
            await pub.setLocalDescription(await pub.createOffer())
            answer = await call(op="publish", pid=f"PA_pub{n}", sdp=pub.localDescription.sdp, mid=transceiver.mid)
            await pub.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for n in range(subs):
            pid = f"PA_sub{n}"
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            offer = await call(op="subscribe", pid=pid)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            counter = Counter()
            counters.append(counter)
            for t in pc.getTransceivers():
                t.receiver._RTCRtpReceiver__jitter_buffer = counter
            await pc.setLocalDescription(await pc.createAnswer())
            await call(op="answer", pid=pid, sdp=pc.localDescription.sdp)
        await asyncio.sleep(3.0)  # everyone connected and flowing
        results = []
        for mode in ("forward", "copy", "media-recorder"):
            frames0, t0 = sum(c.frames for c in counters), time.monotonic()
            figures = await call(op="measure", mode=mode, seconds=seconds, tracks=mr_tracks)
            elapsed = time.monotonic() - t0
            fps = (sum(c.frames for c in counters) - frames0) / max(1, subs * tracks) / elapsed
            results.append({"mode": mode, "sub_fps": fps, "load": os.getloadavg()[0], **figures})
        return results
    finally:
        await child.aclose()
        for pc in pcs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)


def print_live(results: list[dict[str, Any]], tracks: int, subs: int) -> None:
    """CPU per recorded track is normalised per frame, so a worker starved by a loaded machine (fewer frames in a
    window) still gives the cost of recording one track at 30 fps: (window CPU - forwarding CPU for the frames it
    took in) / frames recorded x 30."""
    forward = results[0]
    per_ingested = forward["cpu_s"] / max(1, forward["ingest"])
    print(
        f"\nLive: one worker process pinned to one core, {tracks} publishers of 360p VP8 ({tracks} tracks), each "
        f"track forwarded to {subs} subscribers ({tracks * subs} forwards); then the same plus recording"
    )
    print(
        f"{'window':<36} {'worker CPU %':>12} {'in fps/track':>12} {'out pkt/s':>9} {'sub fps':>7} {'lag p99 ms':>10} "
        f"{'per recorded track at 30 fps':>29}"
    )
    names = {"forward": "forwarding only", "copy": "+ copy-mux (RoomRecorder)", "media-recorder": "+ MediaRecorder"}
    per: dict[str, float] = {}
    for r in results:
        recorded = r.get("tracks", 0)
        label = names[r["mode"]] + (f", {recorded} tracks" if recorded else "")
        share = f"{'-':>29}"
        if recorded and r["recorded"]:
            extra = r["cpu_s"] - per_ingested * r["ingest"]
            per[r["mode"]] = extra / r["recorded"] * FPS
            share = f"{100 * per[r['mode']]:>28.2f}%"
        print(
            f"{label:<36} {100 * r['cpu']:>12.1f} {r['ingest_fps']:>12.1f} {r['out_pps']:>9.0f} {r['sub_fps']:>7.1f} "
            f"{1000 * r['lag_p99']:>10.1f} {share}"
        )
    copy = next((r for r in results if r["mode"] == "copy"), None)
    if copy and copy["sink_frames"]:
        per["copy"] = copy["sink_cpu_s"] / copy["sink_frames"] * FPS
        print(
            f"copy-mux timed inside the recorder's sinks: {1e6 * copy['sink_cpu_s'] / copy['sink_frames']:.0f} µs "
            f"per frame = {100 * per['copy']:.3f}% of a core per recorded track at 30 fps "
            f"({copy['sink_frames']} frames of {copy['tracks']} tracks)"
        )
    if per.get("copy", 0) > 0 and "media-recorder" in per:
        print(f"MediaRecorder costs {per['media-recorder'] / per['copy']:.0f}x copy-mux per track in the live worker")
    if per.get("copy", 0) > 0:
        print(
            f"forwarding: {100 * per_ingested * FPS * tracks:.1f}% of a core for {tracks} tracks x {subs} subscribers "
            f"at 30 fps; recording adds {100 * per['copy'] * tracks:.1f}% for all {tracks}"
        )
    loads = ", ".join(f"{r['load']:.1f}" for r in results)
    print(f"(1-minute load average after each window: {loads})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="media seconds per mode / window (default 10)")
    parser.add_argument("--tracks", type=int, default=10, help="concurrent 360p tracks recorded (default 10)")
    parser.add_argument("--subs", type=int, default=2, help="live: subscribers, each gets every track (default 2)")
    parser.add_argument("--mr-tracks", type=int, default=2, help="live: tracks given to MediaRecorder (default 2)")
    parser.add_argument("--part", choices=("offline", "live", "both"), default="both")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(worker(args.serve, args.dir))
        return
    width, height, bitrate = SIZES[360]
    clip = encode_clip(width, height, bitrate)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    if args.part in ("offline", "both"):
        offline(clip, args)
    if args.part in ("live", "both"):
        results = asyncio.run(live(clip, args.tracks, args.subs, args.mr_tracks, args.seconds))
        print_live(results, args.tracks, args.subs)


def offline(clip: list[tuple[bytes, bool]], args: argparse.Namespace) -> None:
    width, height = SIZES[360][:2]
    frames = frames_for(clip, args.seconds)
    kbps = sum(len(d) for d, _, _ in frames) * 8 / args.seconds / 1000
    print(f"Offline, one process: clip {width}x{height} VP8 {kbps:.0f} kbps, {FPS} fps, {args.seconds:.0f} s per mode")
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
