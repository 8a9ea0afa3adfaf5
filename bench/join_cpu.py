"""CPU per join (G2): one daphne process (``bench.settings``, Redis, PostgreSQL) takes ``--sockets`` joins (rooms of
5, ``--concurrency`` at once) from this process, every socket kept open; prints the daphne's CPU per join over the
join phase, and with ``--profile PATH`` runs the daphne under cProfile and writes its stats there (the profile's
overhead inflates the CPU figure: measure without it). It never asserts.

    python -m bench.join_cpu --sockets 1000
    python -m bench.join_cpu --sockets 1000 --profile /tmp/join.prof   # then: python -m pstats /tmp/join.prof
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.servers import Cluster, PostgresDatabase, RedisServer
from bench.signaling import cpu_seconds
from django_levelchat.client.signaling import SignalingClient


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid`` (the event loop is the main thread, tid == pid; the others are the
    database threads)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def redis_commands(url: str) -> dict[str, int]:
    """Calls per command since the server started (INFO commandstats)."""
    import redis as sync_redis

    client = sync_redis.Redis.from_url(url)
    try:
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in client.info("commandstats").items()}
    finally:
        client.close()


class ProfiledCluster(Cluster):
    """Starts daphne under ``python -m cProfile -o PATH`` when ``profile`` is set."""

    profile: str | None = None

    def daphne_command(self) -> list[str]:
        if self.profile is None:
            return super().daphne_command()
        return [sys.executable, "-m", "cProfile", "-o", self.profile, "-m", "daphne"]


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="levelchat-joincpu-"))
    redis = RedisServer().start()
    database = PostgresDatabase("levelchat_joincpu")
    cluster = ProfiledCluster(
        tmp,
        settings="bench.settings",
        redis_url=redis.url,
        asgi="bench.asgi:application",
        database_url=database.url,
        daphne_args=("--websocket_connect_timeout", "60"),
    )
    cluster.profile = args.profile
    clients: list[SignalingClient] = []
    try:
        cluster.manage("migrate", "--verbosity", "0")
        made = cluster.manage(
            "shell",
            "-c",
            "from django_levelchat.models import Room; from django_levelchat.tokens import issue_token\n"
            f"for _ in range({(args.sockets + args.warmup) // 5 + 1}):\n"
            "    r = Room.objects.create(name='joincpu', max_participants=5)\n"
            "    [print(r.public_id, issue_token(r, f'm{i}', ttl=3600)) for i in range(5)]",
        ).splitlines()
        tokens = [line.split()[1] for line in made if " eyJ" in line]
        port = cluster.start()
        pid = next(iter(cluster.procs.values())).pid
        gate = asyncio.Semaphore(args.concurrency)

        async def join(token: str) -> None:
            async with gate:
                client = SignalingClient(f"ws://127.0.0.1:{port}", token, origin=f"http://127.0.0.1:{port}")
                await client.join(timeout=60)
                clients.append(client)

        await asyncio.gather(*(join(t) for t in tokens[: args.warmup]))  # imports, pools, first-use caches
        stats0 = redis_commands(redis.url)
        load0, cpu0, threads0, began = os.getloadavg()[0], cpu_seconds(pid), thread_cpu(pid), time.monotonic()
        await asyncio.gather(*(join(t) for t in tokens[args.warmup : args.warmup + args.sockets]))
        cpu, wall, threads = cpu_seconds(pid) - cpu0, time.monotonic() - began, thread_cpu(pid)
        loop_cpu = threads.get(pid, 0.0) - threads0.get(pid, 0.0)
        stats = redis_commands(redis.url)
        commands = {k: (v - stats0.get(k, 0)) / args.sockets for k, v in stats.items() if v > stats0.get(k, 0)}
        per = 1000 / args.sockets
        print(
            f"{args.sockets} joins in {wall:.1f} s ({args.sockets / wall:.0f}/s): daphne CPU {cpu:.2f} s = "
            f"{cpu * per:.2f} ms per join (event loop {loop_cpu * per:.2f}, other threads {(cpu - loop_cpu) * per:.2f})"
            f"{' (under cProfile)' if args.profile else ''} (load {load0:.1f} → {os.getloadavg()[0]:.1f})\n"
            f"Redis commands per join {sum(commands.values()):.1f}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(commands.items(), key=lambda kv: -kv[1]))
        )
    finally:
        for client in clients:
            client.abort()
        for proc in cluster.procs.values():
            proc.send_signal(signal.SIGINT)  # cProfile writes its stats on a clean exit
        for proc in cluster.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        cluster.procs.clear()
        redis.stop()
        database.drop()
    if args.profile:
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--profile", metavar="PATH")
    parser.add_argument("--top", type=int, default=60)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
