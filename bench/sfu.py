"""SFU benchmark (issue 12): encoded forwarding (our SFU) against aiortc's MediaRelay (decode once, encode per
subscriber), same publisher, same subscribers, same run.

The SFU runs in a child process of its own, so its CPU time (all threads, ``getrusage``) is the figure. This
process holds the publisher, which sends a pre-encoded synthetic VP8 clip (no encoder in the loop), and N
subscribers that count frames without decoding (their receivers' jitter buffers are replaced by a counter). For
each size (360p, 720p) and each mode it measures two subscriber counts and prints, per configuration: SFU CPU (% of
one core), forwarded RTP packets/s, CPU µs per forwarded packet, event-loop lag p99 in the SFU process; then the
marginal CPU per subscriber of each mode and their ratio. It prints, never asserts.

    python -m bench.sfu                      # 360p and 720p (about 3 minutes on 2 cores)
    python -m bench.sfu --sizes 360 --seconds 6
    python -m bench.sfu --latency-only       # first frame, layer switches, egress alone

Then it times, with a two-layer (q, h) publisher that answers keyframe requests: the first frame of late
subscribers (from the subscribe request, through ICE and DTLS, to the first frame) and layer switches (from
``set-preferred-quality`` to the new layer's keyframe at the subscriber); last, the CPU of the egress send path
alone per packet against its floor (SRTP protect + sendto).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import fractions
import json
import os
import resource
import time
from typing import Any

from bench.child import serving

SIZES = {360: (640, 360, 600_000), 720: (1280, 720, 1_500_000)}
FPS = 30
PASSTHROUGH_SUBS = (8, 32)
TRANSCODE_SUBS = {360: (2, 4), 720: (1, 2)}


# ---------------------------------------------------------------------------------------------------- the clip


def encode_clip(width: int, height: int, bitrate: int, frames: int = 60) -> list[tuple[bytes, bool]]:
    """A moving pattern with a noisy block, VP8 at ``bitrate``; one keyframe per loop of ``frames``."""
    import av

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.time_base = fractions.Fraction(1, FPS)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "g": str(frames)}
    out: list[tuple[bytes, bool]] = []
    bw, bh = width // 8, height // 4  # a block of fresh noise each frame keeps the encoder at its bitrate
    for n in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        x = (n * 8) % (width - bw)
        row = bytes([40] * x + [235] * 64 + [40] * (width - x - 64)) if x + 64 <= width else bytes([40] * width)
        luma = bytearray(row * height)
        noise = bytes(96 + (b & 63) for b in os.urandom(bw * bh))
        for r in range(bh):
            start = (height // 4 + r) * width + width // 2
            luma[start : start + bw] = noise[r * bw : (r + 1) * bw]
        frame.planes[0].update(bytes(luma))
        frame.planes[1].update(bytes([128]) * (width * height // 4))
        frame.planes[2].update(bytes([128]) * (width * height // 4))
        frame.pts = n
        for packet in codec.encode(frame):
            out.append((bytes(packet), packet.is_keyframe))
    for packet in codec.encode(None):
        out.append((bytes(packet), packet.is_keyframe))
    return out


def clip_track(clip: list[tuple[bytes, bool]]) -> Any:
    import av
    from aiortc.mediastreams import MediaStreamTrack

    class ClipTrack(MediaStreamTrack):
        """Plays the clip in a loop; a keyframe request (a PLI from the SFU) restarts it on its keyframe, as an
        encoder would make one."""

        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.n = 0
            self.position = 0
            self.start: float | None = None

        def request_keyframe(self) -> None:
            self.position = 0

        async def recv(self) -> av.Packet:
            if self.start is None:
                self.start = time.monotonic()
            await asyncio.sleep(max(0.0, self.start + self.n / FPS - time.monotonic()))
            data, _key = clip[self.position % len(clip)]
            self.position += 1
            packet = av.Packet(data)
            packet.pts = self.n * (90000 // FPS)
            packet.time_base = fractions.Fraction(1, 90000)
            self.n += 1
            return packet

    return ClipTrack()


# ---------------------------------------------------------------------------------------------------- SFU side


class LagProbe:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self.task = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(max(0.0, loop.time() - before - 0.01))


def pin(core: int) -> None:
    """The SFU on core 0, this harness on the others: the SFU's figures are not its clients' work."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[0]} if core == 0 else set(cores[1:]))


def cpu_seconds() -> tuple[float, float]:
    """User and system CPU seconds of this process, all threads. On loopback the system share includes delivering
    each datagram to the receiving subscriber process (and waking it), which a NIC would not cost."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


class Passthrough:
    """Our SFU: ``SfuRoom`` with the relay buffer and per-subscriber encoded forwarding."""

    def __init__(self) -> None:
        from django_levelchat.sfu.room import SfuConfig, SfuRoom

        self.outbox: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.room = SfuRoom("RM_bench", self._send, SfuConfig(allow_private_candidates=True, start_bitrate=0))

    async def _send(self, pid: str, frame: dict[str, Any]) -> None:
        await self.outbox.setdefault(pid, asyncio.Queue()).put(frame)

    async def _next_description(self, pid: str) -> str:
        while True:
            frame = await self.outbox.setdefault(pid, asyncio.Queue()).get()
            if "description" in frame:
                return str(frame["description"]["sdp"])

    async def publish(self, sdp: str, mid: str, layers: list[str] | None = None) -> str:
        from django_levelchat import protocol

        track: dict[str, Any] = {"sid": "TR_cam", "kind": "video", "source": "camera", "mids": mid.split(",")}
        if layers:
            track["layers"] = layers
        await self.room.publish("PA_pub", track)
        await self.room.signal("PA_pub", description=protocol.SessionDescription(type="offer", sdp=sdp))
        return await self._next_description("PA_pub")

    async def subscribe(self, pid: str) -> str:
        await self.room.join(pid)
        return await self._next_description(pid)

    async def answer(self, pid: str, sdp: str) -> None:
        from django_levelchat import protocol

        await self.room.signal(pid, description=protocol.SessionDescription(type="answer", sdp=sdp))

    def packets_out(self) -> int:
        return sum(
            t.sender._RTCRtpSender__packet_count for p in self.room.peers.values() for t in p.pc.getTransceivers()
        )


class Transcode:
    """aiortc's usual relay: the publisher's track is decoded once; every subscriber's sender encodes it."""

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.source: Any = None
        self.pcs: dict[str, Any] = {}
        self.source_ready = asyncio.Event()

    async def publish(self, sdp: str, mid: str) -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = self.pcs["PA_pub"] = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @pc.on("track")
        def on_track(track: Any) -> None:
            self.source = track
            self.source_ready.set()

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def subscribe(self, pid: str) -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

        await self.source_ready.wait()
        pc = self.pcs[pid] = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = pc.addTransceiver(self.relay.subscribe(self.source), direction="sendonly")
        codecs = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.name in ("VP8", "rtx")])
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)

    async def answer(self, pid: str, sdp: str) -> None:
        from aiortc import RTCSessionDescription

        await self.pcs[pid].setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    def packets_out(self) -> int:
        return sum(
            t.sender._RTCRtpSender__packet_count
            for pid, pc in self.pcs.items()
            if pid != "PA_pub"
            for t in pc.getTransceivers()
        )


async def serve(path: str, mode: str, profile: str | None = None) -> None:
    """The SFU process: one JSON request per line on a Unix socket, one JSON answer per line.

    With ``profile``, the measured window runs under cProfile and its stats are written there (pstats format).
    """
    pin(0)
    sfu: Passthrough | Transcode = Passthrough() if mode == "passthrough" else Transcode()
    probe = LagProbe()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            op = request["op"]
            if op == "publish" and request.get("layers"):
                assert isinstance(sfu, Passthrough)
                result: Any = await sfu.publish(request["sdp"], request["mid"], request["layers"])
            elif op == "publish":
                result = await sfu.publish(request["sdp"], request["mid"])
            elif op == "quality":
                assert isinstance(sfu, Passthrough)
                result = await sfu.room.set_quality(request["pid"], request["quality"])
            elif op == "subscribe":
                result = await sfu.subscribe(request["pid"])
            elif op == "answer":
                result = await sfu.answer(request["pid"], request["sdp"])
            elif op == "measure":
                await asyncio.sleep(request["warmup"])
                probe.lags.clear()
                profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not wall time
                if profiler is not None:
                    profiler.enable()
                (user0, sys0), pkts0, t0 = cpu_seconds(), sfu.packets_out(), time.monotonic()
                await asyncio.sleep(request["seconds"])
                (user1, sys1), pkts1, t1 = cpu_seconds(), sfu.packets_out(), time.monotonic()
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(profile)
                lags = sorted(probe.lags) or [0.0]
                result = {
                    "cpu": (user1 + sys1 - user0 - sys0) / (t1 - t0),
                    "sys": (sys1 - sys0) / (t1 - t0),
                    "pps": (pkts1 - pkts0) / (t1 - t0),
                    "lag_p99": lags[int(0.99 * (len(lags) - 1))],
                }
            else:
                result = None
            writer.write((json.dumps({"result": result}) + "\n").encode())
            await writer.drain()
        os._exit(0)  # the run is over: skip closing dozens of peer connections one by one

    server = await asyncio.start_unix_server(handle, path)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------------------------------------------- this side


class Counter:
    """Stands in for a subscriber's jitter buffer: counts packets and frames, never decodes."""

    def __init__(self) -> None:
        self.packets = 0
        self.frames = 0

    def add(self, packet: Any) -> tuple[bool, None]:
        self.packets += 1
        self.frames += packet.marker
        return False, None


async def run_config(
    size: int, mode: str, subs: int, seconds: float, clip: list[tuple[bytes, bool]], profile: str | None = None
) -> dict[str, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    args = ["--mode", mode] + (["--profile", f"{profile}-{size}p-{mode}-{subs}.pstats"] if profile else [])
    child = contextlib.AsyncExitStack()
    call = await child.enter_async_context(serving("bench.sfu", *args))
    pcs: list[Any] = []
    counters: list[Counter] = []
    try:
        pub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pub)
        transceiver = pub.addTransceiver(clip_track(clip), direction="sendonly")
        await pub.setLocalDescription(await pub.createOffer())
        answer = await call(op="publish", sdp=pub.localDescription.sdp, mid=transceiver.mid)
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
        frames0 = sum(c.frames for c in counters)
        t0 = time.monotonic()
        figures = await call(op="measure", warmup=3.0, seconds=seconds)
        fps = (sum(c.frames for c in counters) - frames0) / max(1, subs) / (time.monotonic() - t0)
        return {"size": size, "mode": mode, "subs": subs, "sub_fps": fps, **figures}
    finally:
        await child.aclose()
        for pc in pcs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)


class FrameClock:
    """A subscriber's jitter buffer for the latency runs: when the first frame, and each keyframe's size, arrived."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.arrived = asyncio.Event()
        self.keyframes: list[tuple[float, tuple[int, int]]] = []

    def add(self, packet: Any) -> tuple[bool, None]:
        from django_levelchat.sfu.relay import vp8_size

        now = time.monotonic()
        if packet.marker and self.first is None:
            self.first = now
            self.arrived.set()
        size = vp8_size(packet._data)
        if size is not None:
            self.keyframes.append((now, size))
        return False, None


async def latency(args: argparse.Namespace) -> None:
    """First frame after a subscribe, and layer switches, with a two-layer publisher that answers PLIs."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    layers = {"q": (320, 180, 150_000), "h": (640, 360, 600_000)}
    clips = {name: encode_clip(*spec) for name, spec in layers.items()}
    child = contextlib.AsyncExitStack()
    call = await child.enter_async_context(serving("bench.sfu", "--mode", "passthrough"))
    pcs: list[Any] = []
    try:
        pub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pub)
        mids = []
        for name in layers:
            track = clip_track(clips[name])
            transceiver = pub.addTransceiver(track, direction="sendonly")
            transceiver.sender._send_keyframe = track.request_keyframe
            mids.append(transceiver)
        await pub.setLocalDescription(await pub.createOffer())
        mid = ",".join(t.mid for t in mids)
        answer = await call(op="publish", sdp=pub.localDescription.sdp, mid=mid, layers=list(layers))
        await pub.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.sleep(2.0)  # the publisher is up and sending both layers

        first_frames = []
        for n in range(args.joins):
            pid = f"PA_late{n}"
            started = time.monotonic()
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            offer = await call(op="subscribe", pid=pid)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            clock = FrameClock()
            for t in pc.getTransceivers():
                t.receiver._RTCRtpReceiver__jitter_buffer = clock
            await pc.setLocalDescription(await pc.createAnswer())
            await call(op="answer", pid=pid, sdp=pc.localDescription.sdp)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(clock.arrived.wait(), 10)
            first_frames.append((clock.first or float("inf")) - started)
            if n == 0:
                switcher = clock
            await asyncio.sleep(0.5)

        switches = []
        for n in range(args.switches):
            quality, name = ("low", "q") if n % 2 == 0 else ("medium", "h")
            width = layers[name][0]
            seen = len(switcher.keyframes)
            started = time.monotonic()
            await call(op="quality", pid="PA_late0", quality=quality)
            while time.monotonic() - started < 10:
                arrived = [t for t, size in switcher.keyframes[seen:] if size[0] == width]
                if arrived:
                    switches.append(arrived[0] - started)
                    break
                await asyncio.sleep(0.002)
            else:
                switches.append(float("inf"))
            await asyncio.sleep(1.0)
    finally:
        await child.aclose()
        for pc in pcs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)

    def spread(values: list[float]) -> str:
        ordered = sorted(values)
        each = " ".join(f"{1000 * v:.0f}" for v in values)
        return f"median {1000 * ordered[len(ordered) // 2]:.0f} ms, max {1000 * ordered[-1]:.0f} ms (each: {each})"

    print(f"\nLatency (load average {os.getloadavg()[0]:.1f}; the publisher restarts its clip on a keyframe per PLI):")
    print(
        f"  first frame after subscribe (offer, answer, ICE, DTLS, PLI, keyframe): {spread(first_frames)}; target <= 1 s"
    )
    print(
        f"  layer switch q<->h (request to the new layer's keyframe at the subscriber): {spread(switches)}; "
        "target <= 300 ms"
    )


async def aiortc_senders(
    count: int, key: bytes, transport: Any, address: Any, uris: tuple[str, ...]
) -> tuple[list[Any], list[asyncio.Queue[Any]]]:
    """``count`` started aiortc ``RTCRtpSender``s, each reading ``av.Packet``s from a queue, whose DTLS transport
    only protects and sends (the ICE layers of the real one are left out, in the old path's favour)."""
    from aiortc import RTCRtpSender
    from aiortc.mediastreams import MediaStreamTrack
    from aiortc.rtcrtpparameters import (
        RTCRtcpParameters,
        RTCRtpCodecParameters,
        RTCRtpHeaderExtensionParameters,
        RTCRtpSendParameters,
    )
    from pylibsrtp import Policy, Session

    class QueueTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.queue: asyncio.Queue[Any] = asyncio.Queue()

        async def recv(self) -> Any:
            return await self.queue.get()

    class SendOnlyTransport:
        state = "connected"
        _stats_id = "bench"

        def __init__(self) -> None:
            self.srtp = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))

        def _register_rtp_sender(self, sender: Any, parameters: Any) -> None:
            pass

        def _unregister_rtp_sender(self, sender: Any) -> None:
            pass

        async def _send_rtp(self, data: bytes) -> None:
            transport.sendto(self.srtp.protect(data), address)

    senders, queues = [], []
    extensions = [RTCRtpHeaderExtensionParameters(id=n + 1, uri=uri) for n, uri in enumerate(uris)]
    for _ in range(count):
        track = QueueTrack()
        sender = RTCRtpSender(track, SendOnlyTransport())  # type: ignore[arg-type]
        codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
        await sender.send(
            RTCRtpSendParameters(
                codecs=[codec], headerExtensions=extensions, muxId="0", rtcp=RTCRtcpParameters(cname="bench")
            )
        )
        senders.append(sender)
        queues.append(track.queue)
    return senders, queues


async def egress_cost(subscribers: int = 32, frames: int = 300) -> dict[str, tuple[float, float]]:
    """In-process: CPU per forwarded packet of ``Egress.send``, of aiortc's own sender path, and of their floor
    (SRTP ``protect`` + ``sendto``), hot, without the rest of the SFU or the harness competing for the core."""
    import copy
    import socket
    import types

    import av
    from aiortc.rtcdtlstransport import State
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpSendParameters
    from aiortc.rtp import HeaderExtensionsMap
    from pylibsrtp import Policy, Session

    from django_levelchat.sfu.egress import Egress
    from django_levelchat.sfu.relay import EncodedFrame

    key = os.urandom(30)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setblocking(False)
    sink.bind(("127.0.0.1", 0))
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )

    def drain() -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                sink.recv(2048)

    extensions = HeaderExtensionsMap()
    uris = ("urn:ietf:params:rtp-hdrext:sdes:mid", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time")
    extensions.configure(
        RTCRtpSendParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=n + 1, uri=u) for n, u in enumerate(uris)]
        )
    )
    pair = types.SimpleNamespace(protocol=types.SimpleNamespace(transport=transport), remote_addr=sink.getsockname())
    connection = types.SimpleNamespace(_nominated={1: pair})
    egresses = []
    for _ in range(subscribers):
        dtls = types.SimpleNamespace(
            _state=State.CONNECTED,
            _tx_srtp=Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)),
            _RTCDtlsTransport__tx_bytes=0,
            _RTCDtlsTransport__tx_packets=0,
            transport=types.SimpleNamespace(_connection=connection),
        )
        sender = types.SimpleNamespace(
            transport=dtls,
            _enabled=True,
            _ssrc=1,
            _rtx_ssrc=2,
            _RTCRtpSender__mid="0",
            _RTCRtpSender__rtp_header_extensions_map=copy.copy(extensions),
            _RTCRtpSender__rtx_payload_type=97,
            _RTCRtpSender__ntp_timestamp=0,
            _RTCRtpSender__rtp_timestamp=0,
            _RTCRtpSender__octet_count=0,
            _RTCRtpSender__packet_count=0,
        )
        egress = Egress(sender, "video", lambda: None)
        egress.ready, egress.payload_type, egress._layout = True, 96, ("0", (1, 2))
        egresses.append(egress)
    senders, queues = await aiortc_senders(subscribers, key, transport, pair.remote_addr, uris)
    costs: dict[str, tuple[float, float]] = {}
    print("\nSend path alone (in-process, hot): egress against aiortc's own sender (what the SFU used before: an")
    print("av.Packet per subscriber and frame, RTCRtpSender packing it), and the floor, SRTP protect + sendto:")
    for label, size in (("360p frame", 2500), ("720p frame", 6200)):
        data = os.urandom(size)
        packets = -(-size // 1296) * subscribers * frames
        start = time.process_time()
        for n in range(frames):
            frame = EncodedFrame(data=data, timestamp=n * 3000, keyframe=False)
            for egress in egresses:
                egress.send(frame, n * 3000)
            drain()
        spent = time.process_time() - start
        start = time.process_time()
        for n in range(frames):
            for queue in queues:
                packet = av.Packet(data)
                packet.pts = n * 3000
                packet.time_base = fractions.Fraction(1, 90000)
                queue.put_nowait(packet)
            for _ in range(1000):  # let every sender take its packet (each sends a whole frame per loop step)
                await asyncio.sleep(0)
                if all(queue.empty() for queue in queues):
                    break
            await asyncio.sleep(0)
            drain()
        aiortc_spent = time.process_time() - start
        floor_session = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
        payload = os.urandom(1200)
        start = time.process_time()
        for n in range(packets):
            header = b"\x80\x60" + (n & 0xFFFF).to_bytes(2, "big") + bytes(8)
            transport.sendto(floor_session.protect(header + payload), pair.remote_addr)
            if n % 64 == 0:
                drain()
        floor = time.process_time() - start
        print(
            f"  {label} ({size} B, {subscribers} subscribers): egress {1e6 * spent / packets:.1f} µs per packet, "
            f"aiortc sender {1e6 * aiortc_spent / packets:.1f} µs ({aiortc_spent / spent:.1f}x), "
            f"floor {1e6 * floor / packets:.1f} µs"
        )
        costs[label] = (spent / packets, aiortc_spent / packets)
    for sender in senders:  # aiortc's stop() can wait for ever on a sender whose RTCP loop never began
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sender.stop(), 1)
    transport.close()
    sink.close()
    return costs


def transcode_cost(width: int, height: int, bitrate: int, frames: int = 150) -> float:
    """CPU seconds per frame of what ``MediaRelay`` adds per subscriber: one VP8 encode (aiortc's ``Vp8Encoder``,
    as its sender runs it) of the decoded picture. The decode is shared by all subscribers, so not counted."""
    import av
    from aiortc.codecs.vpx import Vp8Encoder

    decoder = av.CodecContext.create("libvpx", "r")
    pictures = []
    for data, _ in encode_clip(width, height, bitrate, frames):
        pictures.extend(decoder.decode(av.Packet(data)))
    encoder = Vp8Encoder()
    encoder.target_bitrate = bitrate
    for n, picture in enumerate(pictures[:10]):  # warm up: the first frames set the encoder up
        picture.pts, picture.time_base = n * 3000, fractions.Fraction(1, 90000)
        encoder.encode(picture)
    start = time.process_time()
    for n, picture in enumerate(pictures, start=10):
        picture.pts = n * 3000
        encoder.encode(picture)
    return (time.process_time() - start) / len(pictures)


def per_subscriber(costs: dict[str, tuple[float, float]]) -> None:
    """Marginal CPU of one more subscriber, from CPU time measured in-process (a loaded machine slows these runs
    down but does not change the CPU they take, unlike the whole-SFU runs whose starved side falls behind)."""
    print("\nOne more subscriber, in-process CPU per frame (process time, so not skewed by other load):")
    for size, label in ((360, "360p frame"), (720, "720p frame")):
        width, height, bitrate = SIZES[size]
        frame_bytes = {360: 2500, 720: 6200}[size]
        packets = -(-frame_bytes // 1296)
        egress_packet, aiortc_packet = costs[label]
        forward = egress_packet * packets
        transcode = transcode_cost(width, height, bitrate) + aiortc_packet * packets
        print(
            f"  {size}p: encoded forwarding {1e6 * forward:.0f} µs ({100 * FPS * forward:.2f} % of a core at {FPS} fps), "
            f"MediaRelay {1e6 * transcode:.0f} µs ({100 * FPS * transcode:.2f} %) -> {transcode / forward:.0f}x; "
            f"about {1 / (FPS * forward):.0f} subscribers per core (target: >= 200 at 360p, >= 20x)"
        )


def marginal(a: dict[str, Any], b: dict[str, Any]) -> float:
    """CPU % of a core per added subscriber between two configurations."""
    return 100 * (b["cpu"] - a["cpu"]) / (b["subs"] - a["subs"])


async def main(args: argparse.Namespace) -> None:
    pin(1)
    if args.latency_only:
        await latency(args)
        per_subscriber(await egress_cost())
        return
    print(f"SFU benchmark: {os.cpu_count()} cores, {args.seconds:.0f} s windows after 3 s warm-up; the SFU runs in")
    print("its own process pinned to core 0 (CPU = its user+sys time, all threads); the publisher and subscribers")
    print("(counting frames, never decoding) share the other cores. 'sub fps' below 30 means someone fell behind.\n")
    header = (
        f"{'stream':>6} {'mode':>11} {'subs':>4} {'sub fps':>7} {'SFU CPU %':>9} {'of it sys':>9} {'out pkt/s':>9} "
        f"{'µs/pkt':>7} {'lag p99 ms':>10}"
    )
    print(header)
    summary = []
    for size in args.sizes:
        width, height, bitrate = SIZES[size]
        clip = encode_clip(width, height, bitrate)
        kbps = sum(len(d) for d, _ in clip) * 8 * FPS / len(clip) / 1000
        print(
            f"  {size}p clip: {width}x{height} VP8 {kbps:.0f} kbps at {FPS} fps; load average {os.getloadavg()[0]:.1f}"
        )
        results: dict[str, list[dict[str, Any]]] = {}
        for mode, counts in (("passthrough", PASSTHROUGH_SUBS), ("transcode", TRANSCODE_SUBS[size])):
            if mode not in args.modes:
                continue
            for subs in counts:
                r = await run_config(size, mode, subs, args.seconds, clip, args.profile)
                results.setdefault(mode, []).append(r)
                per_packet = 1e6 * r["cpu"] / r["pps"] if r["pps"] else float("nan")
                print(
                    f"{size:>5}p {mode:>11} {subs:>4} {r['sub_fps']:>7.1f} {100 * r['cpu']:>9.1f} {100 * r['sys']:>9.1f} "
                    f"{r['pps']:>9.0f} "
                    f"{per_packet:>7.1f} {1000 * r['lag_p99']:>10.1f}",
                    flush=True,
                )
        if len(results) == 2:
            summary.append((size, marginal(*results["passthrough"]), marginal(*results["transcode"])))
        if "passthrough" in results:
            a, b = results["passthrough"]
            per_packet = 1e6 * (b["cpu"] - a["cpu"]) / (b["pps"] - a["pps"]) if b["pps"] > a["pps"] else float("nan")
            print(
                f"  {size}p encoded forwarding: {marginal(a, b):.2f} % of a core per subscriber, "
                f"{per_packet:.0f} µs per added forwarded packet"
            )
    print("\nMarginal CPU per subscriber (% of one core):")
    for size, fwd, enc in summary:
        ratio = enc / fwd if fwd > 0 else float("inf")
        per_core = 100 / fwd if fwd > 0 else float("inf")
        print(
            f"  {size}p: encoded forwarding {fwd:.2f} %, MediaRelay {enc:.2f} % -> {ratio:.0f}x cheaper; "
            f"about {per_core:.0f} subscribers per core at 100 % (target: >= 200 at 360p, >= 20x)"
        )
    await latency(args)
    per_subscriber(await egress_cost())


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[360, 720])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--joins", type=int, default=5, help="late subscribers timed to their first frame")
    parser.add_argument("--switches", type=int, default=6, help="layer switches timed")
    parser.add_argument("--latency-only", action="store_true", help="only the first-frame and layer-switch runs")
    parser.add_argument("--modes", type=lambda v: v.split(","), default=["passthrough", "transcode"])
    parser.add_argument("--profile", help="write a cProfile of each measured window of the SFU process to PREFIX-*")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve:
        asyncio.run(serve(arguments.serve, arguments.mode, arguments.profile))
    else:
        asyncio.run(main(arguments))
