"""Signaling benchmark (issue 3, "Benchmark"): join latency, chat fan-out against bare Channels consumers, and
server memory per idle connection, for the in-memory and the Redis channel layer, in one run.

Each configuration runs real daphne subprocesses (``bench.asgi`` with ``bench.settings``) on loopback, driven by
real WebSocket clients from this one asyncio process (``django_levelchat.client``'s signaling layer joins; raw
``websockets`` connections for the baselines). Clients answer nothing, keep reading every frame, ping every 4 s (the server sweeps sockets silent for 12 s) and send chat under the server's
per-connection limit (5 messages/s, burst 10). Tokens are minted here with ``issue_token`` and rooms created in the
server's SQLite file, both through ``bench.settings`` (same SECRET_KEY, same database as the servers).

Per layer:

1. join latency: 50 participants join a room; then 100 sequential joins (connect → ``welcome``), each followed by
   ``leave``, so every join meets the same 50;
2. fan-out: each of the 50 sends chat (≤ 4.5/s each, the text carries the send time) and all 50 receive every
   message (the sender too); a window of 10 room messages in flight keeps the server saturated but not overloaded,
   so deliveries/s is its capacity and a lost delivery is a bug, not an overflow the layer is allowed;
3. the same fan-out through ``/bench/bare`` (group-sends raw text, nothing else) and ``/bench/stock`` (the same on
   a stock ``AsyncWebsocketConsumer``), in rounds interleaved with ours; each kind reports its best round;
4. a fresh server: RSS before and after 1,000 joined, pinging, otherwise idle connections in 20 rooms.

It prints a table of every figure with its target and ratio, and never asserts: a missed target is a finding.
Other processes on the machine skew throughput: the table shows their CPU use next to each fan-out, and the
daphne CPU per delivery, which they barely affect.

    python -m bench.signaling                    # both layers, full numbers (about 2.5 minutes on 2 cores)
    python -m bench.signaling --layer memory --quick
    python -m bench.signaling --json out.json    # also write the figures as JSON

The Redis layer uses ``redis://127.0.0.1:6379/13``, flushed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # ``python bench/signaling.py`` as well as ``python -m bench.signaling``

import websockets  # noqa: E402

from bench.servers import Cluster  # noqa: E402
from django_levelchat.client.signaling import ClosedError, SignalingClient  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
SIGNAL_PATH = "/levelchat/v1/signal"
BASELINES = {"bare": "/bench/bare", "stock": "/bench/stock"}  # see bench/asgi.py
PING_EVERY = 4.0  # the server announces ping_interval 5 s, ping_timeout 12 s
PING = '{"type":"ping"}'
MARK = "@fan:"  # chat text: @fan:<round>:<sender>:<n>:<monotonic send time, ns>@

TARGET_JOIN_P95_MS = {"memory": 150.0, "redis": 300.0}
TARGET_FANOUT_RATIO = 0.6
TARGET_KB_PER_CONN = 100.0
NOISY_OTHER_CPU = 0.25  # other processes used more than a quarter of a core during a compared fan-out round


@dataclass(frozen=True)
class Params:
    room_size: int = 50  # participants already in the room for the joins, and receivers of the fan-out
    joins: int = 100  # sequential joins into that room (each leaves again before the next)
    chat_rate: float = 4.5  # chat messages/s per sender (every participant sends); server limit 5/s, burst 10
    chat_seconds: float = 4.0  # length of the send phase of each fan-out round
    window: int = 10  # room messages in flight at most (sent, not yet seen by every receiver)
    rounds: int = 3  # fan-out rounds per kind (ours, bare, stock), interleaved; the best one is reported
    light_rate: float = 0.5  # chat messages/s per sender in the light-load round (25 msg/s into the room)
    drain_seconds: float = 15.0  # how long to wait for stragglers after the last send
    idle: int = 1000  # idle joined connections for the memory figure
    idle_rooms: int = 20  # spread over this many rooms (max_participants is never hit)
    idle_first: float = 2.0  # seconds from the last join to the first RSS reading (also: after the warm-up)
    idle_settle: float = 10.0  # at most this long from the first RSS reading until the server's CPU use is steady
    idle_cpu: float = 4.0  # seconds over which the idle CPU is measured; RSS is read again after it
    time_budget: float = 150.0  # hard bound for each configuration's client work, seconds


FULL = Params()
QUICK = Params(
    joins=30,
    chat_seconds=1.5,
    rounds=1,
    drain_seconds=5.0,
    idle=200,
    idle_rooms=5,
    idle_first=1.0,
    idle_settle=1.0,
    idle_cpu=1.0,
    time_budget=25.0,
)


# ---------------------------------------------------------------------------------------------- server side


class BenchServer(Cluster):
    """``bench.servers.Cluster`` serving ``bench.asgi`` with ``bench.settings`` (real routes + the baseline)."""

    def __init__(self, tmp: Path, db: Path, *, redis_url: str | None) -> None:
        super().__init__(tmp, settings="bench.settings", redis_url=redis_url, asgi="bench.asgi:application")
        self.env["LEVELCHAT_SQLITE_PATH"] = str(db)
        if not redis_url:
            self.env.pop("LEVELCHAT_REDIS_URL", None)

    def pid(self, port: int) -> int:
        return self.procs[port].pid


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every process of the machine used so far (all cores, idle and iowait excluded)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def redis_pid() -> int | None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("server")["process_id"])
    except Exception:
        return None
    finally:
        client.close()


def setup_django(db: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["LEVELCHAT_SQLITE_PATH"] = str(db)
    os.environ.pop("LEVELCHAT_REDIS_URL", None)  # this process never uses a channel layer
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def create_rooms(count: int, name: str, max_participants: int) -> list[str]:
    from django.db import close_old_connections

    from django_levelchat.models import Room

    ids = [str(Room.objects.create(name=name, max_participants=max_participants).public_id) for _ in range(count)]
    close_old_connections()
    return ids


def token(room: str, identity: str) -> str:
    from django_levelchat.tokens import issue_token

    return issue_token(room, identity)


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------- client side


class Refused(Exception):
    pass


async def connect(port: int, path: str, protocols: list[str] | None) -> Any:
    return await websockets.connect(
        f"ws://127.0.0.1:{port}{path}",
        subprotocols=protocols,
        origin=f"http://127.0.0.1:{port}",
        open_timeout=15,
        close_timeout=2,
        ping_interval=None,
        compression=None,
        proxy=None,
    )


async def join(port: int, jwt: str) -> tuple[Any, dict[str, Any], float]:
    """Connect and say hello (the Python client's signaling layer); return (socket, welcome, seconds to welcome)."""
    t0 = time.perf_counter()
    client = SignalingClient(f"ws://127.0.0.1:{port}", jwt, origin=f"http://127.0.0.1:{port}")
    try:
        welcome = await client.join(timeout=15, sdk={"name": "bench", "version": "0"})
    except ClosedError as exc:
        raise Refused(f"{exc.close.code} {exc.close.reason}") from None
    except BaseException:
        client.abort()
        raise
    return client.ws, welcome, time.perf_counter() - t0


class Peer:
    """A connected client that drains every frame (``on_text`` sees each) and, on the signaling path, pings."""

    def __init__(self, ws: Any, *, ping: bool, on_text: Callable[[str], None] | None = None) -> None:
        self.ws = ws
        self.on_text = on_text
        self.frames = 0
        self.tasks = [asyncio.create_task(self._read())]
        if ping:
            self.tasks.append(asyncio.create_task(self._ping()))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.frames += 1
                if self.on_text is not None:
                    self.on_text(raw)

    async def _ping(self) -> None:
        await asyncio.sleep(random.uniform(0.5, 1.0) * PING_EVERY)  # spread the pings
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await self.ws.send(PING)
                await asyncio.sleep(PING_EVERY)

    async def close(self, *, abort: bool = False) -> None:
        for task in self.tasks[1:]:
            task.cancel()
        if abort:
            self.ws.transport.abort()
        else:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.ws.close()
        self.tasks[0].cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def close_all(peers: list[Peer], *, abort: bool = False) -> None:
    await asyncio.gather(*(p.close(abort=abort) for p in peers), return_exceptions=True)


async def join_many(port: int, tokens: list[str], *, concurrency: int, deadline: float) -> tuple[list[Peer], int]:
    """Join every token (bounded concurrency and time); return the joined peers and the number that failed."""
    sem = asyncio.Semaphore(concurrency)
    peers: list[Peer] = []
    failed = 0

    async def one(jwt: str) -> None:
        nonlocal failed
        async with sem:
            if time.monotonic() > deadline:
                failed += 1
                return
            try:
                ws, _, _ = await join(port, jwt)
            except Exception:
                failed += 1
                return
            peers.append(Peer(ws, ping=True))

    await asyncio.gather(*(one(t) for t in tokens))
    return peers, failed


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------- measurements


async def measure_joins(port: int, room: str, count: int, deadline: float) -> dict[str, Any]:
    """``count`` sequential joins (connect → welcome), each followed by ``leave``, so each sees the same room."""
    tokens = [token(room, f"joiner-{i}") for i in range(count)]
    samples: list[float] = []
    failures: list[str] = []
    roster = 0
    for jwt in tokens:
        if time.monotonic() > deadline:
            break
        try:
            ws, welcome, elapsed = await join(port, jwt)
        except Exception as exc:
            failures.append(type(exc).__name__ + ": " + str(exc)[:80])
            continue
        samples.append(elapsed * 1000)
        roster = len(welcome["roster"])
        try:
            await ws.send('{"type":"leave","id":"bye"}')
            async with asyncio.timeout(5):
                await ws.wait_closed()
        except Exception:
            ws.transport.abort()
    return {
        "joins": len(samples),
        "failed": len(failures),
        "failures": failures[:3],
        "roster_seen": roster,
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "p99_ms": percentile(samples, 99),
        "max_ms": max(samples, default=math.nan),
    }


@dataclass
class Fanout:
    """Deliveries seen by every receiver: the same bookkeeping for our consumer and the bare baseline.

    Senders are flow-controlled by a window: at most ``window`` room messages are in flight (sent and not yet seen
    by every receiver). The server is kept saturated without being overloaded, so the figure is its capacity; an
    open-loop load above capacity would only fill the channel layer's queues (capacity 100) until they drop
    messages, which the layer is allowed to do, and measure the queue length as latency.
    """

    receivers: int
    per_sender: int
    senders: int
    window: int
    tag: int  # the round: deliveries of other rounds are ignored
    seen: set[int] = field(default_factory=set)
    latencies_ns: list[int] = field(default_factory=list)
    duplicates: int = 0
    late: int = 0
    refused: set[str] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)
    inflight: dict[int, list[int]] = field(default_factory=dict)  # message → [sent ns, receivers still to see it]
    stalled: int = 0  # in-flight messages given up on (their window slot reused) after STALL_NS
    first_send: int = 0
    last_delivery: int = 0
    slots: asyncio.Semaphore = field(init=False)

    STALL_NS = 2_000_000_000

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.window)

    def _done(self, message: int) -> None:
        if self.inflight.pop(message, None) is not None:
            self.slots.release()

    def handler(self, receiver: int) -> Callable[[str], None]:
        def on_text(raw: str) -> None:
            at = raw.find(MARK)
            if at < 0:
                if '"type":"error"' in raw:
                    frame = json.loads(raw)
                    code = str(frame.get("code"))
                    self.errors[code] = self.errors.get(code, 0) + 1
                    if frame.get("ref"):
                        self.refused.add(frame["ref"])
                        sender, _, n = str(frame["ref"]).partition(":")
                        self._done(int(sender) * self.per_sender + int(n))
                return
            now = time.monotonic_ns()
            tag, sender, n, sent = raw[at + len(MARK) : raw.index("@", at + 1)].split(":")
            if int(tag) != self.tag:
                self.late += 1  # a straggler of an earlier round
                return
            message = int(sender) * self.per_sender + int(n)
            key = receiver * self.senders * self.per_sender + message
            if key in self.seen:
                self.duplicates += 1
                return
            self.seen.add(key)
            self.latencies_ns.append(now - int(sent))
            self.last_delivery = now
            pending = self.inflight.get(message)
            if pending is not None:
                pending[1] -= 1
                if pending[1] <= 0:
                    self._done(message)

        return on_text

    def reap(self) -> None:
        """Free the window slots of messages some receiver never got (they count as lost at the end)."""
        cutoff = time.monotonic_ns() - self.STALL_NS
        for message in [m for m, (sent, _) in self.inflight.items() if sent < cutoff]:
            self.stalled += 1
            self._done(message)


async def run_fanout(
    pid: int, peers: list[Peer], fan: Fanout, params: Params, deadline: float, *, redis_used: bool
) -> dict[str, Any]:
    """Every peer sends up to ``per_sender`` chat frames for ``chat_seconds``, each at most ``chat_rate`` per second
    and all within the window; every peer reads everything."""
    senders = len(peers)
    interval = 1 / params.chat_rate
    start = time.monotonic()
    stop_sending = min(deadline, start + params.chat_seconds)
    sent = 0

    async def send_loop(s: int, peer: Peer) -> None:
        nonlocal sent
        next_at = start + s * interval / senders  # staggered
        for n in range(fan.per_sender):
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await asyncio.wait_for(fan.slots.acquire(), timeout=max(0.001, stop_sending - time.monotonic()))
            except TimeoutError:
                return
            if time.monotonic() >= stop_sending:
                fan.slots.release()
                return
            now = time.monotonic_ns()
            fan.first_send = fan.first_send or now
            fan.inflight[s * fan.per_sender + n] = [now, fan.receivers]
            await peer.ws.send(f'{{"type":"chat","id":"{s}:{n}","text":"{MARK}{fan.tag}:{s}:{n}:{now}@"}}')
            sent += 1
            # never faster than chat_rate, and no catch-up burst after waiting for the window
            next_at = max(next_at + interval, time.monotonic() + 0.9 * interval)

    async def reaper() -> None:
        while True:
            await asyncio.sleep(0.1)
            fan.reap()

    rpid = redis_pid() if redis_used else None
    cpu0, client0, machine0 = cpu_seconds(pid), time.process_time(), machine_busy_seconds()
    redis0 = cpu_seconds(rpid) if rpid else 0.0
    reaping = asyncio.create_task(reaper())
    try:
        await asyncio.gather(*(send_loop(s, p) for s, p in enumerate(peers)))
        drain_until = time.monotonic() + params.drain_seconds
        progress, progress_at = -1, time.monotonic()
        while time.monotonic() < drain_until:
            if len(fan.seen) >= (sent - len(fan.refused)) * fan.receivers:
                break
            if len(fan.seen) != progress:
                progress, progress_at = len(fan.seen), time.monotonic()
            elif time.monotonic() - progress_at > 3.0:
                break  # nothing arrived for 3 s: the rest is lost
            await asyncio.sleep(0.05)
    finally:
        reaping.cancel()
    busy = max(1e-9, (fan.last_delivery - fan.first_send) / 1e9)  # first send → last delivery
    server_cpu = cpu_seconds(pid) - cpu0
    client_cpu = time.process_time() - client0
    redis_cpu = cpu_seconds(rpid) - redis0 if rpid else 0.0
    other_cpu = machine_busy_seconds() - machine0 - server_cpu - client_cpu - redis_cpu
    wall = time.monotonic() - start  # first send → all delivered (or given up on)
    accepted = sent - len(fan.refused)
    delivered = len(fan.seen)
    latencies_ms = [v / 1e6 for v in fan.latencies_ns]
    return {
        "senders": senders,
        "receivers": fan.receivers,
        "window": fan.window,
        "rate_cap_msgs_per_s": senders * params.chat_rate,
        "sent": sent,
        "refused": len(fan.refused),
        "errors": dict(fan.errors),
        "stalled": fan.stalled,
        "expected": accepted * fan.receivers,
        "delivered": delivered,
        "lost": accepted * fan.receivers - delivered,
        "duplicates": fan.duplicates,
        "late": fan.late,
        "span_s": busy,
        "deliveries_per_s": delivered / busy,
        "messages_per_s": accepted / busy,
        "p50_ms": percentile(latencies_ms, 50),
        "p95_ms": percentile(latencies_ms, 95),
        "p99_ms": percentile(latencies_ms, 99),
        "max_ms": max(latencies_ms, default=math.nan),
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_delivery": server_cpu / max(1, delivered) * 1e6,
        "server_cpu_share": server_cpu / wall,
        "client_cpu_share": client_cpu / wall,
        "redis_cpu_share": redis_cpu / wall,
        "other_cpu_share": max(0.0, other_cpu) / wall,  # anything else on the machine: noise
    }


async def measure_main(port: int, pid: int, room: str, params: Params, *, redis_used: bool) -> dict[str, Any]:
    """Join latency, then the fan-out of our consumer and of the baselines on one server, in interleaved rounds."""
    deadline = time.monotonic() + params.time_budget
    result: dict[str, Any] = {}
    per_sender = math.ceil(params.chat_seconds * params.chat_rate)
    tokens = [token(room, f"resident-{i}") for i in range(params.room_size)]
    residents, failed = await join_many(port, tokens, concurrency=10, deadline=deadline)
    result["residents"] = {"joined": len(residents), "failed": failed}
    groups: dict[str, list[Peer]] = {"fanout": residents}
    try:
        result["join"] = await measure_joins(port, room, params.joins, deadline)
        for name, path in BASELINES.items():
            groups[name] = []
            for _ in range(params.room_size):
                groups[name].append(Peer(await connect(port, path, None), ping=False))
        await asyncio.sleep(0.5)  # let the last participant-left settle
        # Rounds alternate ours / bare / stock, so that load from other processes on the machine, which comes and
        # goes, hits all three alike; each kind reports its best round (and the sum of its losses).
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in groups}
        for tag in range(params.rounds):
            for name, peers in groups.items():
                if time.monotonic() > deadline:
                    break
                fan = Fanout(len(peers), per_sender, len(peers), params.window, tag)
                for r, peer in enumerate(peers):
                    peer.on_text = fan.handler(r)
                rounds[name].append(await run_fanout(pid, peers, fan, params, deadline, redis_used=redis_used))
                await asyncio.sleep(0.3)
        # One more round of ours and of bare at a light load: the latency a participant sees in a normal call.
        light = replace(params, chat_rate=params.light_rate)
        for name in ("fanout", "bare"):
            if time.monotonic() > deadline:
                break
            peers = groups[name]
            fan = Fanout(len(peers), math.ceil(params.chat_seconds * light.chat_rate), len(peers), params.window, -1)
            for r, peer in enumerate(peers):
                peer.on_text = fan.handler(r)
            result[f"{name}_light"] = await run_fanout(pid, peers, fan, light, deadline, redis_used=redis_used)
            await asyncio.sleep(0.3)
        for name, runs in rounds.items():
            if runs:
                best = max(runs, key=lambda r: r["deliveries_per_s"])
                result[name] = {
                    **best,
                    "rounds": len(runs),
                    "round_deliveries_per_s": [round(r["deliveries_per_s"]) for r in runs],
                    **{
                        key: sum(r[key] for r in runs)
                        for key in ("lost", "expected", "delivered", "refused", "duplicates")
                    },
                }
    finally:
        await close_all([p for peers in groups.values() for p in peers])
    return result


async def measure_memory(port: int, pid: int, warm_room: str, rooms: list[str], params: Params) -> dict[str, Any]:
    """RSS of the daphne process before and after ``idle`` joined, pinging, otherwise idle connections."""
    deadline = time.monotonic() + params.time_budget
    warm, _ = await join_many(
        port, [token(warm_room, f"warm-{i}") for i in range(20)], concurrency=10, deadline=deadline
    )
    await close_all(warm)
    await asyncio.sleep(params.idle_first)
    before = rss_kb(pid)
    t0 = time.monotonic()
    tokens = [token(rooms[i % len(rooms)], f"idle-{i}") for i in range(params.idle)]
    peers, failed = await join_many(port, tokens, concurrency=16, deadline=deadline)
    join_s = time.monotonic() - t0
    try:
        await asyncio.sleep(params.idle_first)  # the last joins' participant-joined events drain
        early = rss_kb(pid)
        # The joins leave a backlog of participant-joined deliveries (the Redis layer takes seconds to drain it):
        # wait until the CPU use of two consecutive seconds agrees, at most idle_settle seconds.
        settle_until, last = time.monotonic() + params.idle_settle, math.inf
        while time.monotonic() < settle_until:
            cpu0 = cpu_seconds(pid)
            await asyncio.sleep(1.0)
            now = cpu_seconds(pid) - cpu0
            if abs(now - last) < 0.05:
                break
            last = now
        cpu0 = cpu_seconds(pid)
        await asyncio.sleep(params.idle_cpu)  # idle: only pings (every 4 s per socket) and the janitor's sweeps
        idle_cpu = (cpu_seconds(pid) - cpu0) / params.idle_cpu
        late = rss_kb(pid)
        after = max(early, late)  # the larger of the two readings
        alive = sum(1 for p in peers if p.tasks[0].done() is False)
    finally:
        await close_all(peers, abort=True)
    return {
        "connections": len(peers),
        "failed": failed,
        "alive_at_measure": alive,
        "rooms": len(rooms),
        "rss_before_kb": before,
        "rss_after_kb": after,
        "rss_early_kb": early,
        "rss_late_kb": late,
        "kb_per_connection": (after - before) / max(1, len(peers)),
        "join_seconds": join_s,
        "idle_cpu_cores": idle_cpu,
    }


def run_layer(layer: str, params: Params, tmp: Path, db: Path, keep_logs: Path | None) -> dict[str, Any]:
    redis_url = REDIS_URL if layer == "redis" else None
    main_room = create_rooms(1, f"bench-{layer}-main", params.room_size + 50)[0]
    warm_room = create_rooms(1, f"bench-{layer}-warm", 100)[0]
    per_room = math.ceil(params.idle / params.idle_rooms)
    idle_rooms = create_rooms(params.idle_rooms, f"bench-{layer}-idle", per_room + 50)
    logs = tmp / layer
    logs.mkdir()
    result: dict[str, Any] = {"layer": layer}
    if redis_url:
        flush_redis()
    try:
        server = BenchServer(logs, db, redis_url=redis_url)
        try:
            port = server.start()
            result.update(
                asyncio.run(measure_main(port, server.pid(port), main_room, params, redis_used=bool(redis_url)))
            )
        finally:
            server.stop()
        if redis_url:
            flush_redis()
        server = BenchServer(logs, db, redis_url=redis_url)
        try:
            port = server.start()
            result["memory"] = asyncio.run(measure_memory(port, server.pid(port), warm_room, idle_rooms, params))
        finally:
            server.stop()
    finally:
        if redis_url:
            flush_redis()
    result["server_log_errors"] = log_errors(logs)
    if keep_logs:
        keep_logs.mkdir(parents=True, exist_ok=True)
        for f in logs.glob("daphne-*.log"):
            shutil.copy(f, keep_logs / f"{layer}-{f.name}")
    return result


def log_errors(logs: Path) -> dict[str, int]:
    """ERROR/WARNING lines of the daphne logs, each with the exception that followed it, counted."""
    found: dict[str, int] = {}
    for f in logs.glob("daphne-*.log"):
        lines = f.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if " ERROR " not in line and " WARNING " not in line and "Exception inside application" not in line:
                continue
            what = line.split(" ", 2)[-1].strip()
            if i + 1 < len(lines) and lines[i + 1].startswith("Traceback"):
                end = next((k for k in range(i + 2, len(lines)) if not lines[k].startswith((" ", "Traceback"))), None)
                if end is not None:
                    what += " → " + lines[end][:120]
            found[what] = found.get(what, 0) + 1
    return found


# ---------------------------------------------------------------------------------------------- report


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "MISSED")


def rows(result: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str]]:
    """(figure, value, target, ratio, verdict) for one layer."""
    layer = result["layer"]
    j, f, b, m = result.get("join"), result.get("fanout"), result.get("bare"), result.get("memory")
    st = result.get("stock")
    if j:
        target = TARGET_JOIN_P95_MS[layer]
        yield (
            f"join latency p50/p95/p99 (connect → welcome), {j['joins']} joins, {j['roster_seen']} already in the room",
            f"{j['p50_ms']:.1f} / {j['p95_ms']:.1f} / {j['p99_ms']:.1f} ms",
            f"p95 ≤ {target:.0f} ms",
            f"{j['p95_ms'] / target:.2f}",
            verdict(j["p95_ms"] <= target and not j["failed"]),
        )
    for name, r in (("ours", f), ("bare", b), ("stock", st)):
        if r:
            others = ", ".join(f"{v:,}" for v in r["round_deliveries_per_s"])
            yield (
                f"fan-out {name}: deliveries/s, best of {r['rounds']} ({r['senders']} senders ≤"
                f" {r['rate_cap_msgs_per_s'] / r['senders']:g} msg/s, window {r['window']}, {r['receivers']} receivers)",
                f"{r['deliveries_per_s']:,.0f}/s = {r['messages_per_s']:.0f} msg/s (rounds: {others})",
                "",
                "",
                "",
            )
            yield (
                f"fan-out {name}: latency p50/p95/p99 (send → each receiver)",
                f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} / {r['p99_ms']:.1f} ms",
                "",
                "",
                "",
            )
            yield (
                f"fan-out {name}: lost deliveries, all rounds (refused {r['refused']}, duplicates {r['duplicates']})",
                f"{r['lost']:,} of {r['expected']:,}",
                "0",
                "",
                verdict(r["lost"] == 0) if name == "ours" else "—",
            )
            busy = f"daphne {r['server_cpu_share']:.0%}, bench {r['client_cpu_share']:.0%}"
            if r["redis_cpu_share"]:
                busy += f", redis {r['redis_cpu_share']:.0%}"
            yield (
                f"fan-out {name}: daphne CPU per delivery (CPU used, 100% = 1 core)",
                f"{r['server_cpu_us_per_delivery']:.0f} µs ({busy}, other processes {r['other_cpu_share']:.0%})",
                "",
                "",
                "",
            )
    if f and b:
        ratio = f["deliveries_per_s"] / b["deliveries_per_s"]
        noisy = max(f["other_cpu_share"], b["other_cpu_share"]) > NOISY_OTHER_CPU
        yield (
            "fan-out throughput ours / bare",
            f"{f['deliveries_per_s']:,.0f} / {b['deliveries_per_s']:,.0f}",
            f"≥ {TARGET_FANOUT_RATIO}",
            f"{ratio:.2f}",
            verdict(ratio >= TARGET_FANOUT_RATIO) + (" (noisy)" if noisy else ""),
        )
        yield (
            "fan-out p99 latency ours / bare (at capacity: mostly the window's queue)",
            f"{f['p99_ms']:.1f} / {b['p99_ms']:.1f} ms",
            "",
            f"{f['p99_ms'] / b['p99_ms']:.2f}" if b["p99_ms"] else "",
            "",
        )
    fl, bl = result.get("fanout_light"), result.get("bare_light")
    if fl and bl:
        yield (
            f"fan-out at light load ({fl['messages_per_s']:.0f} msg/s): p50/p99 latency ours / bare, lost ours+bare",
            f"{fl['p50_ms']:.1f}/{fl['p99_ms']:.1f} / {bl['p50_ms']:.1f}/{bl['p99_ms']:.1f} ms, lost {fl['lost'] + bl['lost']}",
            "",
            f"{fl['p99_ms'] / bl['p99_ms']:.2f}" if bl["p99_ms"] else "",
            "",
        )
        if st:
            yield (
                "fan-out throughput ours / stock AsyncWebsocketConsumer",
                f"{f['deliveries_per_s']:,.0f} / {st['deliveries_per_s']:,.0f}",
                "",
                f"{f['deliveries_per_s'] / st['deliveries_per_s']:.2f}",
                "",
            )
        yield (
            "fan-out daphne CPU per delivery ours / bare (insensitive to other load)",
            f"{f['server_cpu_us_per_delivery']:.0f} / {b['server_cpu_us_per_delivery']:.0f} µs",
            "",
            f"{f['server_cpu_us_per_delivery'] / b['server_cpu_us_per_delivery']:.2f}",
            "",
        )
    if m:
        kb = m["kb_per_connection"]
        yield (
            f"RSS per idle connection ({m['connections']} joined in {m['rooms']} rooms, {m['failed']} failed,"
            f" {m['connections'] - m['alive_at_measure']} dropped)",
            f"{kb:.1f} KB ({m['rss_before_kb'] / 1024:.0f} → {m['rss_after_kb'] / 1024:.0f} MB)",
            f"≤ {TARGET_KB_PER_CONN:.0f} KB",
            f"{kb / TARGET_KB_PER_CONN:.2f}",
            verdict(kb <= TARGET_KB_PER_CONN and not m["failed"] and m["alive_at_measure"] == m["connections"]),
        )
        yield (
            f"daphne CPU while {m['connections']} connections idle (pings every {PING_EVERY:g} s, sweeps)",
            f"{m['idle_cpu_cores']:.0%} of a core",
            "",
            "",
            "",
        )


def print_table(results: list[dict[str, Any]]) -> None:
    table = [("layer", "figure", "value", "target", "ratio", "verdict")]
    for result in results:
        table += [(result["layer"], *row) for row in rows(result)]
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer", choices=["memory", "redis", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller numbers (under a minute)")
    parser.add_argument("--window", type=int, help="room messages in flight during the fan-out (default 10)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--logs", metavar="DIR", type=Path, help="keep the daphne logs in DIR")
    args = parser.parse_args(argv)
    params = QUICK if args.quick else FULL
    if args.window:
        params = replace(params, window=args.window)
    layers = ["memory", "redis"] if args.layer == "both" else [args.layer]
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally blocks stop the servers
    import daphne

    print(
        f"django_levelchat signaling benchmark · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · daphne {daphne.__version__} · {'quick' if args.quick else 'full'}"
    )
    machine0 = machine_busy_seconds()
    time.sleep(1.0)
    background = machine_busy_seconds() - machine0
    print(f"  load of other processes before start: {background:.2f} cores (the run shares the machine with them)")
    results = []
    with tempfile.TemporaryDirectory(prefix="levelchat-bench-") as tmp:
        db = Path(tmp) / "db.sqlite3"
        setup_django(db)
        for layer in layers:
            t0 = time.monotonic()
            results.append(run_layer(layer, params, Path(tmp), db, args.logs))
            print(f"  {layer} layer measured in {time.monotonic() - t0:.0f} s", flush=True)
            for key in ("join", "memory"):
                part = results[-1].get(key, {})
                if part.get("failed"):
                    print(f"  {layer} {key}: {part['failed']} failed {part.get('failures', '')}")
            for what, count in results[-1]["server_log_errors"].items():
                print(f"  {layer} daphne log: {count} × {what}")
    print()
    print_table(results)
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"params": asdict(params), "results": results}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
