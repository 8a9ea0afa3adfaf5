"""G14 reconnect storm: every socket of a deployment dropped at once, then resumed.

Two daphne processes on a private redis-server (and a throwaway PostgreSQL database when one answers, SQLite
otherwise), ``--sockets`` participants in rooms of ``--room-size``, each pinging every 5 s as the protocol asks.
Then two fresh processes are started and both old ones killed (``kill -9``: a crash or a hard restart); every client
reconnects with the SDK's backoff (``client.signaling.Backoff``: 250 ms doubling, ±25 %), the clients spread over
the fresh processes as a load balancer would, and resumes its session with the credential of its last ``welcome``. It prints how long until every client was back, how many kept their
participant id (resumed) or had to join afresh, the peak welcomes per second during the storm, and any identity
listed twice in a room's roster afterwards. It never asserts.

    python -m bench.reconnect_storm --sockets 1000
    LEVELCHAT_BENCH_OVERRIDES='{"JOIN_CONCURRENCY": 100000}' python -m bench.reconnect_storm   # no join gate
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import tempfile
import time
from pathlib import Path

import websockets

from bench.servers import Cluster, PostgresDatabase, RedisServer, postgres_missing_reason
from django_levelchat.client.signaling import Backoff, ClosedError, SignalingClient

#: Why reconnect attempts failed (printed: a storm's failures say what the servers did with it).
FAILURES: collections.Counter[str] = collections.Counter()


class Member:
    def __init__(self, room: str, identity: str, token: str) -> None:
        self.room, self.identity, self.token = room, identity, token
        self.client: SignalingClient | None = None
        self.first_id = ""
        self.resume: dict[str, str] = {}
        self.back_at: float | None = None
        self.resumed = False
        self.joined_at = 0.0
        self.attempts: list[str] = []  # what each reconnect attempt got (the diagnosis of a lost session)

    async def join(self, port: int) -> None:
        self.client = SignalingClient(f"ws://127.0.0.1:{port}", self.token, origin=f"http://127.0.0.1:{port}")
        welcome = await self.client.join(timeout=60)
        self.first_id = self.first_id or welcome["you"]["id"]
        self.resume = welcome["resume"]
        self.joined_at = time.monotonic()

    async def keep_alive(self) -> None:
        while True:
            await asyncio.sleep(5)
            if self.client is not None:
                try:
                    await self.client.send({"type": "ping"})
                    await self.client.collect(0.01)
                except Exception:
                    pass  # the storm: the reconnect loop takes over

    async def come_back(self, ports: list[int], started: float, first: int) -> None:
        """Reconnect with the SDK's backoff; attempt n goes to ``ports[first + n]`` (a load balancer spreads the
        clients over the processes: before, every first attempt went to the same one)."""
        backoff = Backoff(give_up_after=120)
        for retry in range(1000):
            delay = backoff.delay(retry, time.monotonic() - started)
            if delay is None:
                return
            await asyncio.sleep(delay)
            port = ports[(first + retry) % len(ports)]
            client = SignalingClient(f"ws://127.0.0.1:{port}", self.token, origin=f"http://127.0.0.1:{port}")
            try:
                welcome = await client.join(timeout=30, resume=self.resume)
            except Exception as exc:
                FAILURES[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
                self.attempts.append(f"{time.monotonic() - started:.1f}s {type(exc).__name__}: {str(exc)[:60]}")
                await client.close()
                continue
            self.client = client
            self.resumed = welcome["you"]["id"] == self.first_id
            self.attempts.append(f"{time.monotonic() - started:.1f}s {'resumed' if self.resumed else 'fresh'}")
            self.back_at = time.monotonic()
            return


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="levelchat-storm-"))
    redis = RedisServer().start()
    database = None if postgres_missing_reason() else PostgresDatabase("levelchat_storm")
    cluster = Cluster(tmp, settings="bench.settings", redis_url=redis.url, database_url=database and database.url)
    try:
        cluster.manage("migrate", "--verbosity", "0")
        ports = [cluster.start(), cluster.start()]
        made = cluster.manage(  # every room and token in one shell: one subprocess per room took minutes
            "shell",
            "-c",
            "from django_levelchat.models import Room; from django_levelchat.tokens import issue_token\n"
            f"for _ in range({args.sockets // args.room_size}):\n"
            f"    r = Room.objects.create(name='storm', max_participants={args.room_size})\n"
            f"    [print(r.public_id, issue_token(r, f'm{{i}}', ttl=3600)) for i in range({args.room_size})]",
        ).splitlines()
        made = [line.split() for line in made if " eyJ" in line]  # the shell may print warnings first
        rooms = list(dict.fromkeys(room for room, _ in made))
        members = [Member(room, f"m{n % args.room_size}", token) for n, (room, token) in enumerate(made)]
        gate = asyncio.Semaphore(args.concurrency)

        pingers: list[asyncio.Task[None]] = []

        async def join(n: int, member: Member) -> None:
            async with gate:
                await member.join(ports[n % 2])
            # Each client pings from its welcome on, as the protocol asks: pinging only once all had joined left
            # the first ones silent past PING_TIMEOUT, closed 4001 before the storm (30 % of them at load 7).
            pingers.append(asyncio.create_task(member.keep_alive()))

        began = time.monotonic()
        await asyncio.gather(*(join(n, m) for n, m in enumerate(members)))
        print(f"{len(members)} sockets joined in {time.monotonic() - began:.1f} s (load {os.getloadavg()[0]:.1f})")
        await asyncio.sleep(args.settle)

        # The replacements are up first (a loaded machine takes seconds to start daphne): the storm measures the
        # servers taking every client back, not their start-up.
        new_ports = [cluster.start(), cluster.start()]
        before = time.monotonic()
        # Sockets the servers had already closed before the storm: those sessions are gone, nothing can resume them.
        gone = [m for m in members if m.client is not None and m.client.ws.close_code is not None]
        if gone:
            codes = collections.Counter(f"{m.client.ws.close_code} {m.client.ws.close_reason}" for m in gone)
            ages = sorted(before - m.joined_at for m in gone)
            print(
                f"  closed by the servers before the storm: {len(gone)} {dict(codes)}; joined {ages[0]:.1f}–"
                f"{ages[-1]:.1f} s before it (all sockets: {min(before - m.joined_at for m in members):.1f}–"
                f"{max(before - m.joined_at for m in members):.1f} s)"
            )
        for port in ports:
            cluster.kill(port)
        storm = time.monotonic()
        for m in members:
            if m.client is not None and m.client.channel is not None:
                m.client.abort()
        await asyncio.gather(*(m.come_back(new_ports, storm, n) for n, m in enumerate(members)))
        back = [m.back_at - storm for m in members if m.back_at is not None]
        per_second = collections.Counter(int(t) for t in back)
        for pinger in pingers:
            pinger.cancel()  # the roster check reads the sockets now (two readers of one socket would collide)
        ended: collections.Counter[str] = collections.Counter()  # sockets the servers closed after the storm
        for m in members:
            ws = m.client.ws if m.client is not None and m.back_at is not None else None
            if ws is not None and ws.close_code is not None:
                ended[f"{ws.close_code} {ws.close_reason}".strip()] += 1
        duplicates = 0
        for room in rooms:
            for member in [m for m in members if m.room == room and m.back_at is not None and m.client is not None]:
                try:
                    roster = (await member.client.request({"type": "resync"}, timeout=30))["roster"]
                except (ClosedError, websockets.ConnectionClosed, TimeoutError):
                    continue
                identities = [p["identity"] for p in roster] + [member.identity]
                duplicates += len(identities) - len(set(identities))
                break
        print(
            "storm: both processes killed, every socket dropped; two fresh processes take them back\n"
            f"back: {len(back)}/{len(members)}, first at {min(back, default=float('nan')):.1f} s, last at "
            f"{max(back, default=float('nan')):.1f} s "
            f"(p50 {sorted(back)[len(back) // 2] if back else float('nan'):.1f} s); "
            f"resumed (same id) {sum(m.resumed for m in members)}, joined afresh "
            f"{sum(m.back_at is not None and not m.resumed for m in members)}\n"
            f"peak welcomes per second {max(per_second.values(), default=0)}; "
            f"duplicate identities in rosters {duplicates} (load {os.getloadavg()[0]:.1f})"
        )
        if ended:
            print(f"  sockets closed by the servers after they were back: {dict(ended)}")
        for reason, count in FAILURES.most_common(5):
            print(f"  failed attempts: {count} x {reason}")
        lost = [m for m in members if m.back_at is not None and not m.resumed and m not in gone]
        if lost:
            why = collections.Counter(" | ".join(a.split(" ", 1)[1] for a in m.attempts) for m in lost)
            print(f"  not resumed (open until the storm): {len(lost)}, by attempts: {dict(why.most_common(5))}")
            for m in lost[:5]:
                print(f"    {m.room} {m.identity}: joined {before - m.joined_at:.1f} s before the storm; {m.attempts}")
        for m in members:
            if m.client is not None:
                await m.client.close()
        for port in new_ports:
            if "1011" in cluster.log(port):
                print(f"daphne {port} logged a 1011")
    finally:
        cluster.stop()
        redis.stop()
        if database is not None:
            database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20, help="joins in flight while the sockets are opened")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds connected before the storm")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
