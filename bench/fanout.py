"""Chat fan-out on the Redis layer (RELIABILITY.md G3 and G4): what a room of ``--room`` members receives when they
chat at ``--rate`` messages/s into it, and, above capacity, whether every loss is seen and repaired.

Two daphne processes (``bench.asgi`` with ``bench.settings``, the example project as deployed) on a private
redis-server and a throwaway PostgreSQL database; the members of one room are spread over both processes, and the
clients run in ``--workers`` subprocesses so that this process stays light. Every member sends its share of the
rate (the text carries the send time and a unique key; each chat has an ``id``, so it is acked or refused) and reads
everything, following docs/protocol.md §7 for ``seq``:

- ``seq == last + 1``: applied; ``seq <= last``: ignored;
- ``seq > last + 1``: a **gap**: the missing seqs are known lost; one ``resync`` is sent (never a second while one is
  unanswered); the gap is **healed** when a ``resync`` answer whose ``seq`` covers it arrives; chats of the gap found
  in the snapshot's history count as recovered.

Phases, one after another with the same members: ``baseline`` (``--baseline-rate``, the reference of the ratios),
``load`` (``--rate`` for ``--seconds``), ``calm`` (the baseline rate again: a loss at the very end of the load shows
as a gap only once later events arrive), then a drain. **Silent loss** = room events (seqs up to the last one any
member saw) that a member neither received nor knew to be missing. The server's own loss counter is channels-redis'
"N of M channels over capacity" log line (deliveries the layer dropped), summed over both daphne logs; the run
also checks that both processes still accept a join afterwards. It prints, never asserts.

    python -m bench.fanout --room 50 --rate 50             # G3: % delivered, p99
    python -m bench.fanout --room 50 --rate 200            # G4: 2x the rated load: gaps, resyncs, silent loss
    python -m bench.fanout --room 49 --rate 10 --seconds 10 --flood 1000   # G5: one flooder beside 49 members

``--flood N`` adds one more participant (its own subprocess, on the first process) that sends N chat frames/s from
the start of the load phase until the server closes it: the report gives when it got its first ``rate_limited``
and its close code, and the members' p99 during the flood against the baseline phase (G5: < 2x).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from bench.scale import ScaleServers, setup_django  # noqa: E402
from bench.servers import PostgresDatabase, RedisServer, banner, postgres_missing_reason  # noqa: E402
from bench.signaling import cpu_seconds, join, log_errors, machine_busy_seconds, percentile, rss_kb  # noqa: E402

MARK = "@fan:"  # chat text: @fan:<phase>:<member>:<n>:<monotonic send time, ns>@
PING_EVERY = 4.0  # the server's ping_timeout is 12 s; a member that only reads must still ping
HEAL_WITHIN_S = 2.0  # G4: every gap healed by a resync within this
OVER_CAPACITY = re.compile(r"(\d+) of \d+ channels over capacity")
#: The drain after the last phase ends when every chat was seen or recovered, or after this long without progress.
DRAIN_STALL_S, DRAIN_MAX_S = 5.0, 60.0


# ---------------------------------------------------------------------------------------------- clients (workers)


@dataclass
class Member:
    """One room member's view of the room, kept as §7 asks, with the bookkeeping that judges it."""

    index: int
    ws: Any
    welcome_seq: int
    last: int = 0
    received: set[int] = field(default_factory=set)
    known_missing: set[int] = field(default_factory=set)  # seqs in a gap, or jumped over by a resync snapshot
    gaps: list[list[float]] = field(default_factory=list)  # [detected at, highest missing seq, healed at or nan]
    resync_pending: str | None = None
    resyncs_sent: int = 0
    stale: int = 0  # events with seq <= last (ignored, as §7 says)
    delivered: set[str] = field(default_factory=set)  # chat keys "<member>:<n>"
    recovered: set[str] = field(default_factory=set)  # chat keys found only in a resync snapshot
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)  # phase -> send → receipt
    acked: set[str] = field(default_factory=set)
    refused: dict[str, int] = field(default_factory=dict)  # error code -> chats refused
    close: str = ""
    sent: int = 0
    snapshots: list[tuple[float, int]] = field(default_factory=list)  # (received at, seq) of each resync
    last_delivery_at: float = math.nan

    def __post_init__(self) -> None:
        self.last = self.welcome_seq

    async def send_resync(self) -> None:
        self.resyncs_sent += 1
        self.resync_pending = f"rs{self.resyncs_sent}"
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(json.dumps({"type": "resync", "id": self.resync_pending}))

    async def on_frame(self, raw: str) -> None:
        now = time.monotonic()
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "resync":
            await self._on_snapshot(frame, now)
        elif isinstance(frame.get("seq"), int):
            await self._on_event(frame, now)
        elif kind == "ack":
            self.acked.add(str(frame.get("ref")))
        elif kind == "error" and str(frame.get("ref", "")).startswith("c"):
            code = str(frame.get("code"))
            self.refused[code] = self.refused.get(code, 0) + 1
        elif kind == "closing":
            self.close = f"{frame.get('code')} {frame.get('reason')}"

    async def _on_event(self, frame: dict[str, Any], now: float) -> None:
        seq = int(frame["seq"])
        if seq <= self.last:
            self.stale += 1
            return
        if seq > self.last + 1:
            self.known_missing.update(range(self.last + 1, seq))
            self.gaps.append([now, seq - 1, math.nan])
            if self.resync_pending is None:
                await self.send_resync()
        self.last = seq
        self.received.add(seq)
        if frame.get("type") == "chat-message":
            key = _chat_key(frame.get("text", ""))
            if key is not None:
                phase, who, sent_ns = key
                self.delivered.add(who)
                self.last_delivery_at = now
                self.latencies_ms.setdefault(phase, []).append((time.monotonic_ns() - sent_ns) / 1e6)

    async def _on_snapshot(self, frame: dict[str, Any], now: float) -> None:
        if frame.get("ref") == self.resync_pending:
            self.resync_pending = None
        seq = int(frame["seq"])
        self.snapshots.append((now, seq))
        self.known_missing.update(s for s in range(self.last + 1, seq + 1) if s not in self.received)
        self.last = seq  # a snapshot always wins, even with a lower seq (§7)
        for chat in frame.get("chat", []):
            key = _chat_key(chat.get("text", ""))
            if key is not None and key[1] not in self.delivered:
                self.recovered.add(key[1])
        for gap in self.gaps:
            if math.isnan(gap[2]) and gap[1] <= seq:
                gap[2] = now
        if self.resync_pending is None and any(math.isnan(g[2]) for g in self.gaps):
            await self.send_resync()  # a gap that this answer did not cover: ask again

    def report(self) -> dict[str, Any]:
        top = max([self.last, *self.received, *self.known_missing])
        return {
            "index": self.index,
            "welcome_seq": self.welcome_seq,
            "top_seq": top,
            "silent_inside": sorted(set(range(self.welcome_seq + 1, top + 1)) - self.received - self.known_missing),
            "received_events": len(self.received),
            "missing_known": len(self.known_missing),
            "gaps": self.gaps,
            "resyncs_sent": self.resyncs_sent,
            "stale": self.stale,
            "delivered": sorted(self.delivered),
            "recovered": sorted(self.recovered - self.delivered),
            "latencies_ms": self.latencies_ms,
            "acked": len(self.acked),
            "acked_keys": sorted(self.acked),
            "refused": self.refused,
            "sent": self.sent,
            "close": self.close,
            "snapshots": self.snapshots,
            "last_delivery_at": self.last_delivery_at,
        }


def _chat_key(text: str) -> tuple[str, str, int] | None:
    """(phase, "<member>:<n>", send time ns) of one of our chat texts."""
    at = text.find(MARK)
    if at < 0:
        return None
    phase, member, n, sent = text[at + len(MARK) : text.index("@", at + 1)].split(":")
    return phase, f"{member}:{n}", int(sent)


async def _read(member: Member) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for raw in member.ws:
            await member.on_frame(raw if isinstance(raw, str) else raw.decode())
    if not member.close:
        member.close = f"{member.ws.close_code} (no closing frame)"


async def _ping(member: Member) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await asyncio.sleep(PING_EVERY)
            await member.ws.send('{"type":"ping"}')


async def _send_phase(member: Member, room_size: int, phase: str, rate: float, seconds: float) -> None:
    """This member's share of ``rate`` (room messages/s) for ``seconds``, evenly spaced and staggered."""
    interval = room_size / rate
    start = time.monotonic() + interval * member.index / room_size
    n = 0
    while (at := start + n * interval) < start + seconds:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        text = f"{MARK}{phase}:{member.index}:{member.sent}:{time.monotonic_ns()}@"
        with contextlib.suppress(websockets.ConnectionClosed):
            await member.ws.send(json.dumps({"type": "chat", "id": f"c{member.index}:{member.sent}", "text": text}))
        member.sent += 1
        n += 1


async def _clients(spec: dict[str, Any], conn: Connection) -> None:
    ports, room_size = spec["ports"], spec["room_size"]
    members: list[Member] = []
    failures: list[str] = []
    for index, token in spec["members"]:
        try:
            ws, welcome, _ = await join(ports[index % len(ports)], token)
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {str(exc)[:100]}")
            continue
        members.append(Member(index, ws, int(welcome["seq"])))
    tasks = [asyncio.create_task(_read(m)) for m in members] + [asyncio.create_task(_ping(m)) for m in members]
    conn.send({"joined": len(members), "failures": failures})
    await asyncio.to_thread(conn.recv)  # go: every worker has joined its members
    go = time.monotonic()
    for phase, rate, seconds in spec["phases"]:
        await asyncio.gather(*(_send_phase(m, room_size, phase, rate, seconds) for m in members))
    conn.send({"sent": sum(m.sent for m in members), "go": go, "sent_at": time.monotonic()})
    while await asyncio.to_thread(conn.recv) == "count":
        conn.send({"seen": sum(len(m.delivered) + len(m.recovered - m.delivered) for m in members)})
    for task in tasks:
        task.cancel()
    for m in members:
        m.ws.transport.abort()
    conn.send([m.report() for m in members])


async def _flood(spec: dict[str, Any], conn: Connection) -> None:
    """One participant sending ``spec['rate']`` chat frames/s from ``spec['after']`` s past go until it is closed."""
    ws, _, _ = await join(spec["port"], spec["token"])
    conn.send({"joined": 1})
    await asyncio.to_thread(conn.recv)
    await asyncio.sleep(spec["after"])
    start = time.monotonic()
    report: dict[str, Any] = {"sent": 0, "acked": 0, "errors": {}, "first_rate_limited_ms": None, "close": None}

    async def read() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "ack":
                    report["acked"] += 1
                elif frame.get("type") == "error":
                    code = str(frame.get("code"))
                    report["errors"][code] = report["errors"].get(code, 0) + 1
                    if code == "rate_limited" and report["first_rate_limited_ms"] is None:
                        report["first_rate_limited_ms"] = (time.monotonic() - start) * 1000
        report["close"] = [ws.close_code, ws.close_reason, round((time.monotonic() - start) * 1000)]

    reader = asyncio.create_task(read())
    batch = max(1, round(spec["rate"] / 100))  # frames per 10 ms tick
    tick = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        while not reader.done() and time.monotonic() - start < spec["seconds"]:
            for _ in range(batch):
                await ws.send(json.dumps({"type": "chat", "id": f"f{report['sent']}", "text": "flood"}))
                report["sent"] += 1
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * batch / spec["rate"] - time.monotonic()))
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader), 10)
    reader.cancel()
    ws.transport.abort()
    report["flood_seconds"] = time.monotonic() - start
    conn.send(report)


def flood_worker(spec: dict[str, Any], conn: Connection) -> None:
    """Entry point of the flooder's subprocess (``--flood``)."""
    asyncio.run(_flood(spec, conn))


def client_worker(spec: dict[str, Any], conn: Connection) -> None:
    """Entry point of a client subprocess: join ``spec['members']``, chat through the phases, report."""
    asyncio.run(_clients(spec, conn))


# ---------------------------------------------------------------------------------------------- measuring process


def make_room(size: int) -> tuple[str, list[tuple[int, str]]]:
    from django.db import close_old_connections

    from django_levelchat.models import Room
    from django_levelchat.tokens import issue_token

    room = Room.objects.create(name="fanout", max_participants=size + 10)
    tokens = [(i, issue_token(room.public_id, f"fan-{i}", ttl=3600)) for i in range(size)]
    close_old_connections()
    return str(room.public_id), tokens


def over_capacity(logs: Path) -> tuple[int, int]:
    """(deliveries channels-redis dropped, log lines saying so) over the daphne logs: the server's loss counter."""
    dropped = lines = 0
    for f in logs.glob("daphne-*.log"):
        for match in OVER_CAPACITY.finditer(f.read_text(errors="replace")):
            dropped += int(match.group(1))
            lines += 1
    return dropped, lines


async def probe(ports: list[int], tokens: list[str]) -> list[str]:
    """A join on each process after the load: the servers survived if each answers with a welcome."""
    out = []
    for port, token in zip(ports, tokens, strict=True):
        t0 = time.monotonic()
        try:
            ws, _, _ = await join(port, token)
            ws.transport.abort()
            out.append(f"{port}: welcome in {(time.monotonic() - t0) * 1000:.0f} ms")
        except Exception as exc:
            out.append(f"{port}: FAILED {type(exc).__name__}: {str(exc)[:80]}")
    return out


def run(args: argparse.Namespace, database_url: str, tmp: Path) -> dict[str, Any]:
    room, tokens = make_room(args.room + 3)
    members, probes = tokens[: args.room], [t for _, t in tokens[args.room : args.room + 2]]
    phases = [
        ("baseline", args.baseline_rate, args.baseline_seconds),
        ("load", args.rate, args.seconds),
        ("calm", args.baseline_rate, args.calm_seconds),
    ]
    redis = RedisServer().start()
    servers = ScaleServers(tmp, database_url=database_url, redis_url=redis.url)
    ctx = multiprocessing.get_context("spawn")
    workers: list[tuple[Any, Connection]] = []
    result: dict[str, Any] = {"room": room, "phases": phases}
    flooder: tuple[Any, Connection] | None = None
    try:
        ports = [servers.start(), servers.start()]
        pids = servers.pids()
        for w in range(args.workers):
            mine, theirs = ctx.Pipe()
            spec = {"ports": ports, "room_size": args.room, "members": members[w :: args.workers], "phases": phases}
            proc = ctx.Process(target=client_worker, args=(spec, theirs), daemon=True)
            proc.start()
            workers.append((proc, mine))
        if args.flood:
            mine, theirs = ctx.Pipe()
            spec = {"port": ports[0], "token": tokens[-1][1], "rate": args.flood, "after": args.baseline_seconds}
            spec["seconds"] = args.seconds
            proc = ctx.Process(target=flood_worker, args=(spec, theirs), daemon=True)
            proc.start()
            flooder = (proc, mine)
        joined = [conn.recv() for _, conn in workers]
        if flooder:
            flooder[1].recv()
            workers_and_flooder = [*workers, flooder]
        else:
            workers_and_flooder = workers
        result["joined"] = sum(j["joined"] for j in joined)
        result["join_failures"] = [f for j in joined for f in j["failures"]][:3]
        rss0 = [rss_kb(p) for p in pids]
        cpu0 = [cpu_seconds(p) for p in pids]
        rpid = redis.proc.pid if redis.proc else 0
        redis0, machine0, wall0 = cpu_seconds(rpid), machine_busy_seconds(), time.monotonic()
        result["load_before"] = os.getloadavg()
        for _, conn in workers_and_flooder:
            conn.send("go")
        done = [conn.recv() for _, conn in workers]
        if flooder:
            result["flooder"] = flooder[1].recv()
        sent = sum(d["sent"] for d in done)
        result["send_seconds"] = time.monotonic() - wall0
        result["go"], result["sent_at"] = min(d["go"] for d in done), max(d["sent_at"] for d in done)
        drain0, progress, progress_at = time.monotonic(), -1, time.monotonic()
        while time.monotonic() - drain0 < DRAIN_MAX_S and time.monotonic() - progress_at < DRAIN_STALL_S:
            time.sleep(0.5)
            for _, conn in workers:
                conn.send("count")
            seen = sum(conn.recv()["seen"] for _, conn in workers)
            if seen >= sent * result["joined"]:
                break
            if seen != progress:
                progress, progress_at = seen, time.monotonic()
        wall = time.monotonic() - wall0
        result["drained_at"] = time.monotonic()
        result["server"] = {
            "daphne_cores": sum(cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True)) / wall,
            "redis_cores": (cpu_seconds(rpid) - redis0) / wall,
            "machine_cores": (machine_busy_seconds() - machine0) / wall,
            "rss_mb": [(rss_kb(p) / 1024, r / 1024) for p, r in zip(pids, rss0, strict=True)],
            "alive": [servers.procs[port].poll() is None for port in ports],
        }
        result["load_after"] = os.getloadavg()
        for _, conn in workers:
            conn.send("stop")
        result["members"] = [m for _, conn in workers for m in conn.recv()]
        result["probe"] = asyncio.run(probe(ports, probes))
    finally:
        for proc, _ in [*workers, *([flooder] if flooder else [])]:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        servers.stop()
        redis.stop()
    result["dropped_by_layer"], result["over_capacity_lines"] = over_capacity(tmp)
    result["log"] = log_errors(tmp)
    return result


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    members = result["members"]
    size = len(members)
    top = max(m["top_seq"] for m in members)
    silent = sum(len(m["silent_inside"]) + top - m["top_seq"] for m in members)
    acked = {k for m in members for k in m["acked_keys"]}  # "c<member>:<n>"
    expected = len(acked) * size
    delivered = sum(len(m["delivered"]) for m in members)
    recovered = sum(len(m["recovered"]) for m in members)
    gaps = [g for m in members for g in m["gaps"]]
    heal_ms = [(g[2] - g[0]) * 1000 for g in gaps if not math.isnan(g[2])]
    phases: dict[str, list[float]] = {}
    for m in members:
        for phase, values in m["latencies_ms"].items():
            phases.setdefault(phase, []).extend(values)
    closes: dict[str, int] = {}
    for m in members:
        closes[m["close"] or "open"] = closes.get(m["close"] or "open", 0) + 1
    refused: dict[str, int] = {}
    for m in members:
        for code, n in m["refused"].items():
            refused[code] = refused.get(code, 0) + n
    return {
        "members": size,
        "sent": sum(m["sent"] for m in members),
        "acked": len(acked),
        "refused": refused,
        "expected": expected,
        "delivered": delivered,
        "recovered": recovered,
        "lost_detected": expected - delivered - recovered,
        "silent_loss_events": silent,
        "gaps": len(gaps),
        "missing_seqs": sum(m["missing_known"] for m in members),
        "healed": len(heal_ms),
        "healed_within": sum(1 for v in heal_ms if v <= HEAL_WITHIN_S * 1000),
        "heal_p50_ms": percentile(heal_ms, 50),
        "heal_p99_ms": percentile(heal_ms, 99),
        "heal_max_ms": max(heal_ms, default=math.nan),
        "resyncs": sum(m["resyncs_sent"] for m in members),
        "stale": sum(m["stale"] for m in members),
        "latency": {
            p: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99), "max": max(v, default=math.nan)}
            for p, v in phases.items()
        },
        "closes": closes,
    }


def print_report(args: argparse.Namespace, result: dict[str, Any], s: dict[str, Any]) -> None:
    lat = s["latency"]
    base, load = lat.get("baseline", {}), lat.get("load", {})
    server = result["server"]
    print(
        f"room {s['members']} (joined {result['joined']} of {args.room}{', ' + str(result['join_failures']) if result['join_failures'] else ''}),"
        f" two daphne processes on Redis; load average {result['load_before'][0]:.1f} before, "
        f"{result['load_after'][0]:.1f} after"
    )
    for phase, rate, seconds in result["phases"]:
        v = lat.get(phase, {})
        print(
            f"  {phase:8} {rate:g} msg/s for {seconds:g} s: {v.get('n', 0):,} deliveries, "
            f"p50 {v.get('p50', math.nan):.1f} ms, p99 {v.get('p99', math.nan):.1f} ms, max {v.get('max', math.nan):.0f} ms"
        )
    ratio = load.get("p99", math.nan) / base["p99"] if base.get("p99") else math.nan
    print(f"  p99 load / baseline: {ratio:.2f}")
    if flood := result.get("flooder"):
        print(
            f"  flooder: {flood['sent']:,} chat frames in {flood['flood_seconds']:.1f} s ({args.flood:g}/s offered), "
            f"{flood['acked']} acked, errors {flood['errors']}; first rate_limited "
            f"{flood['first_rate_limited_ms'] or math.nan:.0f} ms after its first frame; closed {flood['close']}"
        )
    pct = 100 * s["delivered"] / s["expected"] if s["expected"] else math.nan
    print(
        f"chats sent {s['sent']:,}, acked {s['acked']:,}, refused {s['refused'] or 0}; deliveries expected "
        f"{s['expected']:,}: delivered {s['delivered']:,} ({pct:.2f} %), recovered from resync snapshots "
        f"{s['recovered']:,}, lost but detected {s['lost_detected']:,}"
    )
    print(
        f"seq gaps seen by members {s['gaps']:,} ({s['missing_seqs']:,} seqs); healed by resync {s['healed']:,}, "
        f"within {HEAL_WITHIN_S:g} s {s['healed_within']:,}; heal p50 {s['heal_p50_ms']:.0f} ms, p99 "
        f"{s['heal_p99_ms']:.0f} ms, max {s['heal_max_ms']:.0f} ms; resyncs sent {s['resyncs']:,}; "
        f"stale events ignored {s['stale']:,}"
    )
    print(f"SILENT LOSS (room events neither received nor known missing): {s['silent_loss_events']}")
    print(
        f"server: loss counter (channels-redis 'over capacity') {result['dropped_by_layer']:,} deliveries dropped in "
        f"{result['over_capacity_lines']:,} group sends; daphne {server['daphne_cores']:.2f} cores, redis "
        f"{server['redis_cores']:.2f}, machine {server['machine_cores']:.2f}; RSS MB "
        + ", ".join(f"{b:.0f} -> {a:.0f}" for a, b in server["rss_mb"])
        + f"; alive {server['alive']}; probe joins: {'; '.join(result['probe'])}"
    )
    print(f"member sockets at the end: {s['closes']}")
    for what, count in list(result["log"].items())[:8]:
        print(f"  daphne log: {count} x {what[:160]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--room", type=int, default=50, help="members of the room (every one sends and reads)")
    parser.add_argument("--rate", type=float, default=50, help="room messages/s during the load phase")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline-rate", type=float, default=10)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    parser.add_argument("--calm-seconds", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2, help="client subprocesses")
    parser.add_argument("--flood", type=float, default=0, help="one more participant floods chat frames/s (G5)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if reason := postgres_missing_reason():
        print(reason)
        return 1
    banner("fan-out benchmark", f"room {args.room}, {args.rate:g} msg/s for {args.seconds:g} s")
    database = PostgresDatabase("levelchat_fanout")
    try:
        setup_django(database.url)
        with tempfile.TemporaryDirectory(prefix="levelchat-fanout-") as tmp:
            result = run(args, database.url, Path(tmp))
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()
    summary = summarise(result)
    print_report(args, result, summary)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, **result}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
