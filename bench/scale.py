"""Signaling at scale (issue 16): sockets (rooms × 5) → join p95, idle CPU, memory, for our consumer and a bare
Channels consumer in the same run, in memory (one daphne) and on Redis (two daphne processes + PostgreSQL).

For each layer, each point (number of sockets) and each kind (ours, bare) it starts fresh servers — daphne with
``bench.settings`` (DEBUG off), a private redis-server for the Redis layer, a throwaway PostgreSQL database for the
whole run — and then:

1. bulk join: worker subprocesses (``--worker``, two of them, so that the measuring process stays light) open every
   socket, the members of a room spread over the daphne processes, and keep them: each pings every 5 s (as the
   protocol asks) and drains what arrives. Ours: connect → ``hello`` → ``welcome``; bare (``/bench/idle``, which
   joins its room's group and answers pings): connect → ping → pong;
2. idle: once the channel layer's backlog (Redis) is delivered and the servers' CPU use is steady, the daphne
   (and Redis) CPU over ``--idle-seconds``, and each daphne's RSS; memory per idle socket = the growth of the
   daphnes' RSS over the warmed-up servers, per socket;
3. probe joins: ``--probes`` sequential joins from this process while every other socket stays connected (ours:
   into an existing room as its 6th member, then ``leave``; bare: the same room's group, connect → ping → pong);
4. fan-out: one member of every room sends one chat; every member of the room must get it (lost = expected −
   received, after a drain of up to 60 s, or 15 s without progress).

Every socket's ping RTT (ping sent → pong read) is recorded from the idle phase to the end, while every socket is
held (RELIABILITY.md G1: p99 ≤ 100 ms at 1,000 sockets on one process).

It prints one table (and ``--json``), never asserts. The machine's other load is printed next to each point.

    python -m bench.scale --points 500,1000                       # both layers, ours and bare
    python -m bench.scale --layers redis --points 5000,10000 --json scale.json
    python -m bench.scale --layers redis --kinds ours --points 2000 --rate 200 --concurrency 200   # G2
    python -m bench.scale --layers memory --kinds ours --points 1000 --rate 100 --concurrency 100  # G1

``--rate`` paces the bulk join (joins/s over both workers); a failed join is counted by kind (``HTTP 500``, a close
code), and the sockets the server closed later by close code.
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
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from bench.servers import Cluster, PostgresDatabase, RedisServer, postgres_missing_reason  # noqa: E402
from bench.signaling import cpu_seconds, machine_busy_seconds, percentile, rss_kb  # noqa: E402

SIGNAL_PATH = "/levelchat/v1/signal"
IDLE_PATH = "/bench/idle"
ROOM_SIZE = 5
PING_EVERY = 5.0  # the protocol's ping_interval
PING = '{"type":"ping"}'
HELLO = '{"type":"hello","protocol":1,"sdk":{"name":"bench-scale","version":"0"}}'
MARK = "@fan:"
WORKERS = 2
WARM_AT_ONCE = 5
#: daphne rejects a WebSocket handshake the application has not accepted within 5 s (its default); in a join
#: storm on an overloaded box the accept waits that long in the event loop, so both kinds get 60 s (see
#: docs/deployment.md).
HANDSHAKE_ARGS = ("--websocket_connect_timeout", "60")
#: The fan-out round waits for deliveries at most DRAIN_S, and gives up after DRAIN_STALL_S without progress: on
#: a machine this loaded an event loop can stall for several seconds and still deliver everything afterwards.
DRAIN_S, DRAIN_STALL_S = 60.0, 15.0
TARGET_PROBE_P95_MS = 150.0
TARGET_IDLE_RATIO = 1.5
TARGET_KB_PER_SOCKET = 50.0


# ---------------------------------------------------------------------------------------------- worker (client)


async def _open(port: int, kind: str, token: str, room: str) -> tuple[Any, float]:
    """One socket of ``kind``, joined; returns it and the seconds from connect to joined."""
    t0 = time.perf_counter()
    if kind == "ours":
        url, protocols = f"ws://127.0.0.1:{port}{SIGNAL_PATH}", ["levelchat.v1", f"token.{token}"]
    else:
        url, protocols = f"ws://127.0.0.1:{port}{IDLE_PATH}?room={room}", None
    ws = await websockets.connect(
        url,
        subprotocols=protocols,
        origin=f"http://127.0.0.1:{port}",
        open_timeout=120,
        close_timeout=2,
        ping_interval=None,
        compression=None,
        proxy=None,
    )
    try:
        await ws.send(HELLO if kind == "ours" else PING)
        want = '"type":"welcome"' if kind == "ours" else '"type":"pong"'
        async with asyncio.timeout(120):
            while True:
                raw = await ws.recv()
                if want in raw[:40]:
                    return ws, time.perf_counter() - t0
                if '"type":"closing"' in raw[:40]:
                    raise RuntimeError(raw[:200])
    except BaseException:
        ws.transport.abort()
        raise


class WorkerPeer:
    closes: dict[str, int] = {}  # "code reason" of sockets the server closed, counted
    rtts: list[float] = []  # ms from a ping to its pong, every socket of this worker (since ``rtt-reset``)

    def __init__(self, ws: Any, room: str, member: int, counts: dict[str, int]) -> None:
        self.ws = ws
        self.room = room
        self.member = member
        self.closed = False
        self.counts = counts
        self.ping_sent: float | None = None
        self.task = asyncio.create_task(self._read())
        self.pinger = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        await asyncio.sleep(random.uniform(0.2, 1.0) * PING_EVERY)  # spread, and the join itself was heard
        with contextlib.suppress(websockets.ConnectionClosed):
            while not self.closed:
                self.ping_sent = time.monotonic()
                await self.ws.send(PING)
                await asyncio.sleep(PING_EVERY)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                at = raw.find(MARK)
                if at >= 0:
                    tag = raw[at + len(MARK) : raw.index(":", at + len(MARK))]
                    self.counts[tag] = self.counts.get(tag, 0) + 1
                elif '"type":"pong"' in raw[:40] and self.ping_sent is not None:
                    WorkerPeer.rtts.append((time.monotonic() - self.ping_sent) * 1000)
                    self.ping_sent = None
                elif '"type":"closing"' in raw[:40]:
                    why = json.loads(raw)
                    key = f"{why.get('code')} {why.get('reason')}"
                    WorkerPeer.closes[key] = WorkerPeer.closes.get(key, 0) + 1
                    self.closed = True
        if not self.closed:
            key = f"{self.ws.close_code} (no closing frame)"
            WorkerPeer.closes[key] = WorkerPeer.closes.get(key, 0) + 1
        self.closed = True


def _failure_kind(exc: Exception) -> str:
    """A failed join, classified: ``HTTP <status>`` for a refused handshake, the close code for a closed socket."""
    if isinstance(exc, websockets.InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, websockets.ConnectionClosed):
        return f"closed {exc.rcvd.code if exc.rcvd else 1006}"
    return type(exc).__name__


def _emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def worker(spec_path: str) -> None:
    """Open the sockets of a spec file, keep them pinging, answer commands on stdin (fanout TAG, stats, stop)."""
    spec = json.loads(await asyncio.to_thread(Path(spec_path).read_text))
    kind, ports = spec["kind"], spec["ports"]
    sem = asyncio.Semaphore(spec["concurrency"])
    rate = float(spec.get("rate") or 0)  # joins/s this worker starts at most (0: as fast as concurrency allows)
    peers: list[WorkerPeer] = []
    counts: dict[str, int] = {}
    latencies: list[float] = []
    failures: list[str] = []
    kinds: dict[str, int] = {}
    t0 = time.monotonic()

    async def one(n: int, room: str, member: int, token: str) -> None:
        if rate:
            await asyncio.sleep(max(0.0, t0 + n / rate - time.monotonic()))
        async with sem:
            try:
                ws, seconds = await _open(ports[member % len(ports)], kind, token, room)
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                why = _failure_kind(exc)
                kinds[why] = kinds.get(why, 0) + 1
                return
            latencies.append(seconds * 1000)
            peers.append(WorkerPeer(ws, room, member, counts))

    await asyncio.gather(*(one(n, room, m, token) for n, (room, m, token) in enumerate(spec["sockets"])))
    _emit(
        event="joined",
        ok=len(peers),
        failed=len(failures),
        failures=failures[:3],
        failure_kinds=kinds,
        seconds=time.monotonic() - t0,
        latencies=latencies,
    )

    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, arg = line.partition(" ")
        if command == "fanout":
            senders = [p for p in peers if p.member == 0 and not p.closed]
            spread = float(spec.get("fanout_seconds", 2.0))
            for i, peer in enumerate(senders):
                text = f"{MARK}{arg}:{peer.room}@"
                frame = json.dumps({"type": "chat", "text": text}) if kind == "ours" else text
                with contextlib.suppress(Exception):
                    await peer.ws.send(frame)
                if i % 20 == 19:
                    await asyncio.sleep(spread * 20 / max(1, len(senders)))
            members = {}
            for p in peers:
                members[p.room] = members.get(p.room, 0) + 1
            _emit(event="fanout-sent", sent=len(senders), expected=sum(members[p.room] for p in senders))
        elif command == "count":
            _emit(event="count", received=counts.get(arg, 0))
        elif command == "rtt-reset":
            WorkerPeer.rtts.clear()
        elif command == "stats":
            alive = sum(1 for p in peers if not p.closed)
            _emit(event="stats", alive=alive, total=len(peers), closes=WorkerPeer.closes, rtts=WorkerPeer.rtts)
        elif command == "stop":
            break
    for peer in peers:
        peer.pinger.cancel()
        peer.ws.transport.abort()
    _emit(event="stopped")


# ---------------------------------------------------------------------------------------------- server side


class ScaleServers(Cluster):
    """daphne processes serving ``bench.asgi`` with ``bench.settings`` on one database (and one Redis)."""

    def __init__(self, tmp: Path, *, database_url: str, redis_url: str | None) -> None:
        super().__init__(
            tmp,
            settings="bench.settings",
            redis_url=redis_url,
            asgi="bench.asgi:application",
            database_url=database_url,
            daphne_args=HANDSHAKE_ARGS,
        )
        if not redis_url:
            self.env.pop("LEVELCHAT_REDIS_URL", None)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]


def setup_django(database_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["LEVELCHAT_DATABASE_URL"] = database_url
    os.environ.pop("LEVELCHAT_REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def create_rooms(count: int, label: str) -> list[str]:
    from django.db import close_old_connections

    from django_levelchat.models import Room

    made = Room.objects.bulk_create(
        [Room(name=f"scale-{label}-{i}", max_participants=ROOM_SIZE + 5) for i in range(count)], batch_size=1000
    )
    close_old_connections()
    return [str(r.public_id) for r in made]


def tokens_for(rooms: list[str], label: str) -> list[tuple[str, int, str]]:
    from django_levelchat.tokens import issue_token

    return [
        (room, m, issue_token(room, f"{label}-{r}-{m}", ttl=3600)) for r, room in enumerate(rooms) for m in range(5)
    ]


class Worker:
    def __init__(self, spec: dict[str, Any], tmp: Path, n: int) -> None:
        path = tmp / f"worker-{n}.json"
        path.write_text(json.dumps(spec))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scale", "--worker", str(path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            text=True,
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    async def read(self, event: str, timeout: float = 900) -> dict[str, Any]:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        async with asyncio.timeout(timeout):
            while True:
                line = await asyncio.to_thread(stdout.readline)
                if not line:
                    raise RuntimeError(f"worker exited ({self.proc.poll()}) while waiting for {event}")
                message = json.loads(line)
                if message["event"] == event:
                    return message

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send("stop")
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def probe_plan(kind: str, rooms: list[str], count: int, label: str) -> list[tuple[str, str]]:
    """(room, token) of ``count`` probes spread over the rooms."""
    from django_levelchat.tokens import issue_token

    step = max(1, len(rooms) // max(1, count))
    plan = []
    for i in range(count):
        room = rooms[(i * step) % len(rooms)]
        plan.append((room, issue_token(room, f"{label}-probe-{i}", ttl=3600) if kind == "ours" else ""))
    return plan


async def probe_joins(ports: list[int], kind: str, plan: list[tuple[str, str]]) -> dict[str, Any]:
    """Sequential joins from this (light) process while every other socket stays connected."""
    samples, failed = [], 0
    for i, (room, token) in enumerate(plan):
        try:
            ws, seconds = await _open(ports[i % len(ports)], kind, token, room)
        except Exception:
            failed += 1
            continue
        samples.append(seconds * 1000)
        if kind == "ours":
            with contextlib.suppress(Exception):
                await ws.send('{"type":"leave","id":"bye"}')
                async with asyncio.timeout(10):
                    await ws.wait_closed()
        ws.transport.abort()
    return {
        "probes": len(samples),
        "failed": failed,
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "max_ms": max(samples, default=math.nan),
    }


def backlog(redis_url: str | None) -> int:
    """Channel-layer messages waiting for the daphne processes (their ``specific.…!`` keys in Redis); 0 in memory.

    A join storm leaves each process a backlog of room events to deliver: a process draining it at full speed has
    a CPU use as steady as an idle one's, so the idle window waits for it to be empty."""
    if redis_url is None:
        return 0
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match="*specific.*!", count=1000))
        return sum(int(client.zcard(k)) for k in keys)
    finally:
        client.close()


async def steady(pids: list[int], most: float, redis_url: str | None = None) -> float:
    """Wait (at most ``most`` s) until no channel-layer backlog is left and the servers' CPU use of two
    consecutive 2-second windows agrees."""
    until, last = time.monotonic() + most, math.inf
    t0 = time.monotonic()
    while time.monotonic() < until:
        cpu0 = sum(cpu_seconds(p) for p in pids)
        await asyncio.sleep(2.0)
        now = (sum(cpu_seconds(p) for p in pids) - cpu0) / 2.0
        if abs(now - last) < max(0.03, 0.15 * last) and await asyncio.to_thread(backlog, redis_url) == 0:
            break
        last = now
    return time.monotonic() - t0


def prepare(layer: str, sockets: int, kind: str, probes: int) -> dict[str, Any]:
    """Rooms and tokens of one point (database work, done before the event loop starts)."""
    rooms_n = sockets // ROOM_SIZE
    label = f"{layer}-{sockets}-{kind}-{int(time.time())}"
    ours = kind == "ours"
    rooms = create_rooms(rooms_n, label) if ours else [f"R{i}" for i in range(rooms_n)]
    warm = create_rooms(2, label + "-warm") if ours else ["W0", "W1"]
    return {
        "label": label,
        "rooms": rooms,
        "sockets": tokens_for(rooms, label) if ours else [(r, m, "") for r in rooms for m in range(5)],
        "warm": probe_plan(kind, warm, 20, label + "-warm"),
        "probes": probe_plan(kind, rooms, probes, label),
    }


async def measure_point(
    layer: str, sockets: int, kind: str, args: argparse.Namespace, database_url: str, tmp: Path, plan: dict[str, Any]
) -> dict[str, Any]:
    rooms_n = sockets // ROOM_SIZE
    label, sockets_spec = plan["label"], plan["sockets"]
    redis = RedisServer().start() if layer == "redis" else None
    logs = tmp / label
    logs.mkdir()
    servers = ScaleServers(logs, database_url=database_url, redis_url=redis.url if redis else None)
    workers: list[Worker] = []
    result: dict[str, Any] = {"layer": layer, "sockets": sockets, "kind": kind, "rooms": rooms_n}
    try:
        ports = [servers.start() for _ in range(2 if layer == "redis" else 1)]
        pids = servers.pids()
        # Warm-up: a few joins on each process, so that the baseline RSS includes imports and first-use caches;
        # some of them at once, so that it also includes the database threads (and their connections) a join
        # storm starts: a fixed cost per process, not a cost per socket.
        warm = plan["warm"]
        await asyncio.gather(*(probe_joins(ports, kind, warm[i::WARM_AT_ONCE]) for i in range(WARM_AT_ONCE)))
        await asyncio.sleep(1.0)
        rss_before = [rss_kb(p) for p in pids]
        machine0 = time.monotonic()
        join_cpu0 = sum(cpu_seconds(p) for p in pids)
        for n in range(WORKERS):
            share = [s for i, s in enumerate(sockets_spec) if (i // ROOM_SIZE) % WORKERS == n]
            spec = {
                "kind": kind,
                "ports": ports,
                "sockets": share,
                "concurrency": args.concurrency,
                "rate": args.rate / WORKERS,
            }
            workers.append(Worker(spec, tmp, n))
        joined = [await w.read("joined") for w in workers]
        join_s = time.monotonic() - machine0
        join_cpu = sum(cpu_seconds(p) for p in pids) - join_cpu0
        latencies = [v for j in joined for v in j["latencies"]]
        result["bulk"] = {
            "joined": sum(j["ok"] for j in joined),
            "failed": sum(j["failed"] for j in joined),
            "failures": [f for j in joined for f in j["failures"]][:3],
            "failure_kinds": _merged(j["failure_kinds"] for j in joined),
            "seconds": join_s,
            "daphne_cpu_ms_per_join": join_cpu * 1000 / max(1, sum(j["ok"] for j in joined)),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99),
        }
        result["settle_s"] = await steady(pids, args.settle, redis.url if redis else None)
        for w in workers:
            w.send("rtt-reset")  # from here on every socket is held: idle, probe joins, one fan-out
        result["backlog_at_idle"] = await asyncio.to_thread(backlog, redis.url if redis else None)
        rpid = redis.proc.pid if redis and redis.proc else None
        cpu0 = [cpu_seconds(p) for p in pids]
        r0 = cpu_seconds(rpid) if rpid else 0.0
        m0, w0 = machine_busy_seconds(), time.monotonic()
        client0 = sum(cpu_seconds(w.proc.pid) for w in workers)
        await asyncio.sleep(args.idle_seconds)
        wall = time.monotonic() - w0
        per_process = [(cpu_seconds(p) - c) / wall for p, c in zip(pids, cpu0, strict=True)]
        redis_cpu = (cpu_seconds(rpid) - r0) / wall if rpid else 0.0
        client_cpu = (sum(cpu_seconds(w.proc.pid) for w in workers) - client0) / wall
        other = (machine_busy_seconds() - m0) / wall - sum(per_process) - redis_cpu - client_cpu
        rss_after = [rss_kb(p) for p in pids]
        result["idle"] = {
            "daphne_cores": sum(per_process),
            "per_process_cores": per_process,
            "redis_cores": redis_cpu,
            "client_cores": client_cpu,
            "other_cores": max(0.0, other),
            "rss_before_kb": rss_before,
            "rss_kb": rss_after,
            "kb_per_socket": (sum(rss_after) - sum(rss_before)) / max(1, result["bulk"]["joined"]),
        }
        result["probe"] = await probe_joins(ports, kind, plan["probes"])
        tag = "f1"
        for w in workers:
            w.send(f"fanout {tag}")
        sent = [await w.read("fanout-sent") for w in workers]
        expected = sum(s["expected"] for s in sent)
        received, deadline, progress, progress_at = 0, time.monotonic() + DRAIN_S, -1, time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            for w in workers:
                w.send(f"count {tag}")
            received = sum([(await w.read("count"))["received"] for w in workers])
            if received >= expected:
                break
            if received != progress:
                progress, progress_at = received, time.monotonic()
            elif time.monotonic() - progress_at > DRAIN_STALL_S:
                break
        result["fanout"] = {
            "messages": sum(s["sent"] for s in sent),
            "expected": expected,
            "received": received,
            "lost": expected - received,
        }
        for w in workers:
            w.send("stats")
        stats = [await w.read("stats") for w in workers]
        result["alive_at_end"] = sum(s["alive"] for s in stats)
        rtts = [v for s in stats for v in s["rtts"]]
        result["ping_rtt"] = {"n": len(rtts), "p50_ms": percentile(rtts, 50), "p99_ms": percentile(rtts, 99)}
        result["closes"] = _merged(s["closes"] for s in stats)
    finally:
        for w in workers:
            w.stop()
        servers.stop()
        if redis:
            redis.stop()
    result["log_errors"] = _log_errors(logs)
    return result


def _merged(counts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in counts:
        for key, n in part.items():
            out[key] = out.get(key, 0) + n
    return out


def _log_errors(logs: Path) -> dict[str, int]:
    found: dict[str, int] = {}
    for f in logs.glob("daphne-*.log"):
        for line in f.read_text(errors="replace").splitlines():
            if " ERROR " in line or " WARNING " in line or "Traceback" in line or "1011" in line:
                what = line.split(" ", 2)[-1].strip()[:140]
                found[what] = found.get(what, 0) + 1
    return found


# ---------------------------------------------------------------------------------------------- report


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        "layer",
        "sockets",
        "join p95 probe ours/bare ms",
        "bulk join s (p95 ms) ours/bare",
        "idle CPU ours/bare cores",
        "ratio",
        "redis ours/bare",
        "RSS per daphne MB (ours)",
        "KB/socket ours/bare",
        "lost ours/bare",
        "other load",
    )
    rows = [header]
    by = {(r["layer"], r["sockets"], r["kind"]): r for r in results}
    for layer, sockets in sorted({(r["layer"], r["sockets"]) for r in results}):
        o, b = by.get((layer, sockets, "ours")), by.get((layer, sockets, "bare"))

        def f(r: dict[str, Any] | None, path: str, fmt: str = "{:.0f}") -> str:
            if r is None:
                return "—"
            value: Any = r
            for key in path.split("."):
                value = value.get(key) if isinstance(value, dict) else None
                if value is None:
                    return "—"
            return fmt.format(value)

        ratio = "—"
        if o and b and "idle" in o and "idle" in b and b["idle"]["daphne_cores"] > 0:
            ratio = f"{o['idle']['daphne_cores'] / b['idle']['daphne_cores']:.2f}"
        rss = "—"
        if o and "idle" in o:
            rss = " + ".join(f"{kb / 1024:.0f}" for kb in o["idle"]["rss_kb"])
        other = max((r["idle"]["other_cores"] for r in (o, b) if r and "idle" in r), default=math.nan)
        rows.append(
            (
                layer,
                f"{sockets:,}",
                f"{f(o, 'probe.p95_ms')} / {f(b, 'probe.p95_ms')}",
                f"{f(o, 'bulk.seconds')} ({f(o, 'bulk.p95_ms')}) / {f(b, 'bulk.seconds')} ({f(b, 'bulk.p95_ms')})",
                f"{f(o, 'idle.daphne_cores', '{:.2f}')} / {f(b, 'idle.daphne_cores', '{:.2f}')}",
                ratio,
                f"{f(o, 'idle.redis_cores', '{:.2f}')} / {f(b, 'idle.redis_cores', '{:.2f}')}"
                if layer == "redis"
                else "",
                rss,
                f"{f(o, 'idle.kb_per_socket', '{:.1f}')} / {f(b, 'idle.kb_per_socket', '{:.1f}')}",
                f"{f(o, 'fanout.lost')} of {f(o, 'fanout.expected')} / {f(b, 'fanout.lost')}",
                f"{other:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(
        f"targets: probe join p95 ≤ {TARGET_PROBE_P95_MS:.0f} ms, idle CPU ours/bare ≤ {TARGET_IDLE_RATIO}, "
        f"≤ {TARGET_KB_PER_SOCKET:.0f} KB per idle socket, 0 lost"
    )
    for r in results:
        if "ping_rtt" in r and "bulk" in r:
            rtt, bulk = r["ping_rtt"], r["bulk"]
            print(
                f"  {r['layer']} {r['sockets']:,} {r['kind']}: bulk join p50 / p95 / p99 {bulk['p50_ms']:.0f} / "
                f"{bulk['p95_ms']:.0f} / {bulk['p99_ms']:.0f} ms; ping RTT while held p50 {rtt['p50_ms']:.1f} ms, "
                f"p99 {rtt['p99_ms']:.1f} ms ({rtt['n']:,} pings)"
            )
    for r in results:
        trouble = []
        if r.get("bulk", {}).get("failed"):
            trouble.append(f"{r['bulk']['failed']} joins failed {r['bulk']['failures']}")
        if r.get("alive_at_end") is not None and r["alive_at_end"] != r.get("bulk", {}).get("joined"):
            trouble.append(f"{r['bulk']['joined'] - r['alive_at_end']} sockets closed during the run {r.get('closes')}")
        if r.get("probe", {}).get("failed"):
            trouble.append(f"{r['probe']['failed']} probes failed")
        for what, count in r.get("log_errors", {}).items():
            trouble.append(f"log {count} × {what}")
        if trouble:
            print(f"  {r['layer']} {r['sockets']} {r['kind']}: " + "; ".join(trouble[:6]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--layers", default="memory,redis")
    parser.add_argument("--points", default="500,1000", help="socket counts, comma-separated (rooms × 5)")
    parser.add_argument("--kinds", default="ours,bare")
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument(
        "--settle", type=float, default=120.0, help="at most this long for the backlog to drain and the CPU to settle"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="joins in flight per worker")
    parser.add_argument("--rate", type=float, default=0, help="joins/s of the bulk join, all workers (0: unpaced)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the daphnes, Redis and the database of the run are stopped and dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if args.worker:
        asyncio.run(worker(args.worker))
        return 0
    if reason := postgres_missing_reason():
        print(reason)
        return 1
    import daphne

    points = [int(p) for p in args.points.split(",")]
    print(
        f"django_levelchat scale benchmark · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · daphne {daphne.__version__} · points {points}"
    )
    m0 = machine_busy_seconds()
    time.sleep(1.0)
    print(f"  load of other processes before start: {machine_busy_seconds() - m0:.2f} cores", flush=True)
    database = PostgresDatabase("levelchat_scale")
    results: list[dict[str, Any]] = []
    try:
        setup_django(database.url)
        with tempfile.TemporaryDirectory(prefix="levelchat-scale-") as tmp:
            for layer in args.layers.split(","):
                for sockets in points:
                    for kind in args.kinds.split(","):
                        t0 = time.monotonic()
                        plan = prepare(layer, sockets, kind, args.probes)
                        result = asyncio.run(measure_point(layer, sockets, kind, args, database.url, Path(tmp), plan))
                        results.append(result)
                        idle = result.get("idle", {})
                        print(
                            f"  {layer} {sockets} {kind}: {time.monotonic() - t0:.0f} s; joined "
                            f"{result.get('bulk', {}).get('joined')} in {result.get('bulk', {}).get('seconds', 0):.0f} s; "
                            f"join p99 {result.get('bulk', {}).get('p99_ms', math.nan):.0f} ms, failed "
                            f"{result.get('bulk', {}).get('failure_kinds') or 0}, closes {result.get('closes') or 0}; "
                            f"idle {idle.get('daphne_cores', math.nan):.2f} cores (other {idle.get('other_cores', 0):.2f});"
                            f" probe p95 {result.get('probe', {}).get('p95_ms', math.nan):.0f} ms; "
                            f"lost {result.get('fanout', {}).get('lost')}",
                            flush=True,
                        )
                        if args.json:
                            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()
    print()
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
