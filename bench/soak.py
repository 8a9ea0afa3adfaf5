"""Soak (RELIABILITY.md G16): a steady, churning deployment for ``--minutes``; does anything grow or leak?

Two daphne processes (``bench.asgi`` with ``bench.settings``) on a private redis-server and a throwaway PostgreSQL
database. ``--connections`` members in rooms of ``--room-size`` stay connected and ping every 4 s; every second one
member departs and a new identity takes its place in the same room (``--churn`` per second; departures alternate
between ``leave`` and a dropped connection, which the server must notice by itself after ``ping_timeout``), and
``--chat-rate`` chats per second go to random rooms. Every ``--sample-every`` seconds it samples each daphne's RSS
and open file descriptors and Redis' key count. At the end every member leaves; then it waits (at most 90 s) for every
Participant row to be closed (``left_at`` set) and counts Redis' keys again.

Figures: RSS growth from the end of the warm-up (``--warmup`` seconds) to the end, open fds and Redis keys (at the
warm-up, max, end, after everyone left), close codes the members got (any 1011?), rows still open, server log
errors. ``--json`` writes them (``tests/reliability/test_soak.py`` runs a short soak and checks the functional ones).
It prints, never asserts.

    python -m bench.soak --minutes 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from bench.scale import ScaleServers, setup_django  # noqa: E402
from bench.servers import PostgresDatabase, RedisServer, banner, postgres_missing_reason  # noqa: E402
from bench.signaling import Peer, join, log_errors, rss_kb  # noqa: E402

#: After everyone left: how long rows and keys may take to settle (a dropped member is noticed after ping_timeout,
#: 12 s, plus the janitor's sweep).
SETTLE_S = 90.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_kinds(pid: int, *, port: int, redis_port: int, postgres_port: int) -> dict[str, int]:
    """A daphne's open fds by what they are: client sockets (its listening port), Redis and PostgreSQL
    connections, other sockets, files and pipes: which kind moves when the count does."""
    peers: dict[str, tuple[int, int]] = {}  # socket inode -> (local port, remote port)
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                peers[fields[9]] = (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16))
    kinds: dict[str, int] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            local, remote = peers.get(target[8:-1], (0, 0))
            kind = {port: "clients", redis_port: "redis", postgres_port: "postgres"}.get(
                local if local == port else remote, "other sockets"
            )
        elif target.startswith("anon_inode:"):
            kind = target
        else:
            kind = "files and pipes"
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


class Soak:
    """The members, their rooms and what happened to their sockets."""

    def __init__(self, ports: list[int], rooms: list[str], room_size: int) -> None:
        from django_levelchat.tokens import issue_token

        self.issue_token = issue_token
        self.ports = ports
        self.rooms = rooms
        self.room_size = room_size
        self.members: dict[tuple[int, int], Peer] = {}  # (room index, slot) -> member
        self.identities = itertools.count()
        self.closes: dict[str, int] = {}  # how sockets ended that we did not end ourselves
        self.ours: set[int] = set()  # id() of the sockets we closed or dropped on purpose
        self.joins = self.join_failures = self.leaves = self.drops = self.chats = self.chat_errors = 0
        self.received = 0
        self.replacing = 0  # slots between their member's departure and the new member's join

    def on_text(self, raw: str) -> None:
        if '"type":"chat-message"' in raw[:40]:
            self.received += 1
        elif '"type":"closing"' in raw[:40]:
            frame = json.loads(raw)
            key = f"closing {frame.get('code')} {frame.get('reason')}"
            self.closes[key] = self.closes.get(key, 0) + 1
        elif '"type":"error"' in raw[:40]:
            self.chat_errors += 1

    async def join(self, room: int, slot: int) -> None:
        identity = f"soak-{next(self.identities)}"
        token = self.issue_token(self.rooms[room], identity, ttl=3600)
        try:
            ws, _, _ = await join(self.ports[(room + slot) % len(self.ports)], token)
        except Exception as exc:
            self.join_failures += 1
            key = f"join failed: {type(exc).__name__}: {str(exc)[:80]}"
            self.closes[key] = self.closes.get(key, 0) + 1
            return
        self.joins += 1
        peer = Peer(ws, ping=True, on_text=self.on_text)
        peer.tasks[0].add_done_callback(lambda _: self._ended(ws))
        self.members[(room, slot)] = peer

    def _ended(self, ws: Any) -> None:
        if id(ws) not in self.ours:
            key = f"socket {ws.close_code}"
            self.closes[key] = self.closes.get(key, 0) + 1

    async def depart(self, room: int, slot: int, *, drop: bool) -> None:
        peer = self.members.pop((room, slot), None)
        if peer is None:
            return
        self.ours.add(id(peer.ws))
        if drop:
            self.drops += 1
            await peer.close(abort=True)
            return
        self.leaves += 1
        with contextlib.suppress(Exception):
            await peer.ws.send('{"type":"leave","id":"bye"}')
        await peer.close()

    async def churn(self, per_second: float, until: float) -> None:
        for n in itertools.count():
            await asyncio.sleep(1 / per_second)
            if time.monotonic() >= until:
                return
            room, slot = random.randrange(len(self.rooms)), random.randrange(self.room_size)
            self.replacing += 1
            try:
                await self.depart(room, slot, drop=n % 2 == 1)
                await self.join(room, slot)
            finally:
                self.replacing -= 1

    async def chat(self, per_second: float, until: float) -> None:
        while time.monotonic() < until:
            await asyncio.sleep(1 / per_second)
            peer = random.choice(list(self.members.values()))
            with contextlib.suppress(websockets.ConnectionClosed):
                await peer.ws.send(json.dumps({"type": "chat", "text": f"soak {time.time():.3f}"}))
                self.chats += 1


def key_families(client: Any) -> dict[str, list[int]]:
    """Redis keys by shape (ids replaced with ``*``) -> [count, of which without a TTL]: which ones grow."""
    families: dict[str, list[int]] = {}
    for raw in client.scan_iter(count=1000):
        key = raw.decode(errors="replace")
        shape = ":".join("*" if len(part) > 12 or "!" in part else part for part in key.split(":"))
        family = families.setdefault(shape, [0, 0])
        family[0] += 1
        family[1] += client.ttl(raw) == -1
    return dict(sorted(families.items(), key=lambda kv: -kv[1][0]))


def open_rows() -> int:
    from django.db import close_old_connections

    from django_levelchat.models import Participant

    try:
        return Participant.objects.filter(left_at__isnull=True).count()
    finally:
        close_old_connections()


def make_rooms(count: int, size: int) -> list[str]:
    from django.db import close_old_connections

    from django_levelchat.models import Room

    rooms = [str(Room.objects.create(name=f"soak-{i}", max_participants=size + 5).public_id) for i in range(count)]
    close_old_connections()
    return rooms


async def run(args: argparse.Namespace, servers: ScaleServers, redis: RedisServer) -> dict[str, Any]:
    import redis as redis_py
    from psycopg.conninfo import conninfo_to_dict

    keys = redis_py.Redis(port=redis.port)
    ports = [servers.start(), servers.start()]
    pids = servers.pids()
    postgres_port = int(conninfo_to_dict(os.environ["LEVELCHAT_DATABASE_URL"]).get("port") or 5432)

    def kinds() -> list[dict[str, int]]:
        return [
            fd_kinds(pid, port=port, redis_port=redis.port, postgres_port=postgres_port)
            for pid, port in zip(pids, ports, strict=True)
        ]

    rooms = await asyncio.to_thread(make_rooms, args.connections // args.room_size, args.room_size)
    soak = Soak(ports, rooms, args.room_size)
    t0 = time.monotonic()
    for r in range(len(rooms)):
        await asyncio.gather(*(soak.join(r, s) for s in range(args.room_size)))
    joined_s = time.monotonic() - t0
    samples: list[dict[str, Any]] = []
    start = time.monotonic()
    end = start + args.minutes * 60
    work = [asyncio.create_task(soak.churn(args.churn, end)), asyncio.create_task(soak.chat(args.chat_rate, end))]
    next_snapshot = args.warmup
    while True:
        now = time.monotonic()
        if args.snapshots and (now - start >= next_snapshot or now >= end):
            for pid in pids:  # bench.memdiag in each daphne writes a tracemalloc snapshot and gc counts
                os.kill(pid, signal.SIGUSR1)
            next_snapshot += args.snapshot_every
        samples.append(
            {
                "t": now - start,
                "rss_mb": [rss_kb(p) / 1024 for p in pids],
                "fds": [open_fds(p) for p in pids],
                "fd_kinds": kinds(),
                "redis_keys": keys.dbsize(),
                "open_rows": await asyncio.to_thread(open_rows),
                "members": len(soak.members) + soak.replacing,  # a join in flight is not a member lost
                "load": os.getloadavg()[0],
            }
        )
        if now >= end:
            break
        await asyncio.sleep(min(args.sample_every, max(0.0, end - time.monotonic())))
    await asyncio.gather(*work)
    departed = time.monotonic()
    await asyncio.gather(*(soak.depart(r, s, drop=False) for r, s in list(soak.members)))
    settled_rows = None
    for _ in range(int(SETTLE_S)):
        if (rows := await asyncio.to_thread(open_rows)) == 0:
            settled_rows = time.monotonic() - departed
            break
        await asyncio.sleep(1.0)
    keys_after = keys.dbsize()
    families = key_families(keys)
    alive = [servers.procs[p].poll() is None for p in ports]
    keys.close()
    warm = next((s for s in samples if s["t"] >= args.warmup), samples[-1])
    return {
        "connections": args.connections,
        "joined_s": joined_s,
        "minutes": args.minutes,
        "samples": samples,
        "warm": warm,
        "last": samples[-1],
        "joins": soak.joins,
        "join_failures": soak.join_failures,
        "leaves": soak.leaves,
        "drops": soak.drops,
        "chats": soak.chats,
        "chat_errors": soak.chat_errors,
        "received": soak.received,
        "closes": soak.closes,
        "open_rows_after": rows,
        "rows_closed_after_s": settled_rows,
        "redis_keys_after": keys_after,
        "redis_key_families": families,
        "alive": alive,
    }


def report(result: dict[str, Any]) -> None:
    warm, last, samples = result["warm"], result["last"], result["samples"]
    growth = [(b - a) / a * 100 if a else float("nan") for a, b in zip(warm["rss_mb"], last["rss_mb"], strict=True)]
    fds = [
        (w, max(s["fds"][i] for s in samples if s["t"] >= warm["t"]), e)
        for i, (w, e) in enumerate(zip(warm["fds"], last["fds"], strict=True))
    ]
    keys_after_warm = [s["redis_keys"] for s in samples if s["t"] >= warm["t"]]
    print(
        f"{result['connections']} connections joined in {result['joined_s']:.0f} s; soak {result['minutes']:g} min: "
        f"{result['joins']:,} joins ({result['join_failures']} failed), {result['leaves']:,} leaves, "
        f"{result['drops']:,} dropped connections, {result['chats']:,} chats ({result['received']:,} deliveries, "
        f"{result['chat_errors']} error frames)"
    )
    print(f"{'t s':>6} {'RSS MB per daphne':>20} {'fds':>10} {'redis keys':>10} {'open rows':>9} {'load':>5}")
    step = max(1, len(samples) // 24)
    for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        rss = " + ".join(f"{v:.1f}" for v in s["rss_mb"])
        fd = "/".join(str(v) for v in s["fds"])
        print(f"{s['t']:6.0f} {rss:>20} {fd:>10} {s['redis_keys']:>10} {s['open_rows']:>9} {s['load']:5.1f}")
    print(
        f"RSS growth after the warm-up ({warm['t']:.0f} s): "
        + ", ".join(
            f"{a:.1f} -> {b:.1f} MB ({g:+.1f} %)"
            for a, b, g in zip(warm["rss_mb"], last["rss_mb"], growth, strict=True)
        )
    )
    print("open fds (warm-up / max / end): " + ", ".join(f"{w} / {m} / {e}" for w, m, e in fds))
    for i, (w, e) in enumerate(zip(warm.get("fd_kinds", []), last.get("fd_kinds", []), strict=True)):
        print(f"  daphne {i + 1} fds at the warm-up {w}, at the end {e}")
    print(
        f"redis keys: warm-up {warm['redis_keys']}, max {max(keys_after_warm)}, end {last['redis_keys']}, after "
        f"everyone left and their rows closed {result['redis_keys_after']}"
    )
    print(
        "  by shape [keys, without TTL]: "
        + ", ".join(f"{shape} {n}" for shape, n in list(result["redis_key_families"].items())[:8])
    )
    print(
        f"Participant rows still open after everyone left: {result['open_rows_after']} "
        f"(all closed after {result['rows_closed_after_s']} s)"
    )
    print(f"sockets the server ended: {result['closes'] or 'none'}; daphne alive: {result['alive']}")
    for what, count in list(result.get("log", {}).items())[:8]:
        print(f"  daphne log: {count} x {what[:160]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--churn", type=float, default=1.0, help="departures (each replaced by a join) per second")
    parser.add_argument("--chat-rate", type=float, default=10.0, help="chats per second, all rooms")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds before the RSS baseline")
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "--snapshots",
        metavar="DIR",
        help="run the daphnes with tracemalloc (bench.memdiag) and have them dump snapshots into DIR at the end of "
        "the warm-up, every --snapshot-every seconds and at the end",
    )
    parser.add_argument("--snapshot-every", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.snapshots:
        os.environ["LEVELCHAT_MEMDIAG_DIR"] = str(Path(args.snapshots).resolve())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if reason := postgres_missing_reason():
        print(reason)
        return 1
    banner(
        "soak",
        f"{args.connections} connections, {args.minutes:g} min, churn {args.churn:g}/s, chat {args.chat_rate:g}/s",
    )
    database = PostgresDatabase("levelchat_soak")
    redis = RedisServer().start()
    try:
        setup_django(database.url)
        with tempfile.TemporaryDirectory(prefix="levelchat-soak-") as tmp:
            servers = ScaleServers(Path(tmp), database_url=database.url, redis_url=redis.url)
            try:
                result = asyncio.run(run(args, servers, redis))
            finally:
                servers.stop()
            result["log"] = log_errors(Path(tmp))
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()
        redis.stop()
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
