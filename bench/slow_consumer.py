"""Slow consumers (issue 10, class 9): server RSS and healthy members' latency with and without non-readers.

One daphne process (Redis layer when LEVELCHAT_BENCH_REDIS_URL is set, in-memory otherwise). A busy room: healthy
members read everything while senders chat; phase 2 adds three members that never read. Prints, per phase, the
healthy members' chat latency p50/p95, the server's RSS at start and end, and how each non-reader ended. The
ratio line compares phase 2 with phase 1 of the same run. It prints; it never asserts.

    python -m bench.slow_consumer [--seconds 20] [--rate 100] [--healthy 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

import websockets  # noqa: E402

from django_levelchat.tokens import issue_token  # noqa: E402
from tests.livecluster import Cluster, WSClient  # noqa: E402

TEXT = "x" * 1500


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def non_reader(port: int, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/levelchat/v1/signal",
        subprotocols=["levelchat.v1", f"token.{token}"],
        origin=f"http://127.0.0.1:{port}",
        ping_interval=None,
        max_queue=1,
    )
    await ws.send(json.dumps({"type": "hello", "protocol": 1}))
    return ws


async def phase(cluster: Cluster, port: int, *, seconds: float, rate: float, healthy: int, slow: int) -> dict:
    room = cluster.create_room()
    members = [WSClient(port, issue_token(room, f"h{i}")) for i in range(healthy)]
    for m in members:
        await m.join()
    stalled = [await non_reader(port, issue_token(room, f"slow{i}")) for i in range(slow)]
    pid = cluster.procs[port].pid
    rss_start = rss_mb(pid)
    latencies: list[float] = []
    done = asyncio.Event()

    async def read(member: WSClient) -> None:
        while not done.is_set():
            try:
                async with asyncio.timeout(0.5):
                    frame = json.loads(await member.ws.recv())
            except TimeoutError:
                continue
            if frame.get("type") == "chat-message":
                sent = float(frame["text"].split(" ", 1)[0])
                latencies.append(time.monotonic() - sent)

    async def ping(member: WSClient) -> None:
        while not done.is_set():
            await member.send({"type": "ping"})
            await asyncio.sleep(1)

    readers = [asyncio.create_task(read(m)) for m in members]
    pingers = [asyncio.create_task(ping(m)) for m in members]
    senders = members[:4]
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        sender = senders[i % len(senders)]
        await sender.send({"type": "chat", "text": f"{time.monotonic()} {TEXT}"})
        i += 1
        await asyncio.sleep(1 / rate)
    await asyncio.sleep(2)
    done.set()
    await asyncio.gather(*readers, *pingers)
    rss_end = rss_mb(pid)
    endings = []
    for ws in stalled:
        try:
            async with asyncio.timeout(30):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("type") == "closing":
                        endings.append(f"{frame['code']} {frame['reason']}")
                        break
        except websockets.ConnectionClosed as exc:
            endings.append(str(exc.rcvd.code) if exc.rcvd else "1006 (dropped)")
        except TimeoutError:
            endings.append("still open")
    for m in members:
        await m.close()
    latencies.sort()
    return {
        "sent": i,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p95": latencies[int(len(latencies) * 0.95)] * 1000 if latencies else float("nan"),
        "rss_start": rss_start,
        "rss_end": rss_end,
        "slow_endings": endings,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=100, help="chats per second into the room")
    parser.add_argument("--healthy", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(Path(tmp), redis_url=os.environ.get("LEVELCHAT_BENCH_REDIS_URL"))
        cluster.env["LEVELCHAT_TEST_OVERRIDES"] = json.dumps(
            {
                "CHAT_RATE": 1000,
                "CHAT_BURST": 1000,
                "RATE_LIMIT_RATE": 1000,
                "RATE_LIMIT_BURST": 1000,
                "PING_INTERVAL": 5,
                "PING_TIMEOUT": 120,
            }
        )
        cluster.manage("migrate", "--verbosity", "0")
        port = cluster.start()
        try:
            base = await phase(cluster, port, seconds=args.seconds, rate=args.rate, healthy=args.healthy, slow=0)
            slow = await phase(cluster, port, seconds=args.seconds, rate=args.rate, healthy=args.healthy, slow=3)
        finally:
            cluster.stop()
    for name, r in (("baseline (0 non-readers)", base), ("3 non-readers", slow)):
        print(
            f"{name:26} chats {r['sent']:5}  healthy p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  "
            f"server RSS {r['rss_start']:6.1f} -> {r['rss_end']:6.1f} MB  non-readers: {r['slow_endings'] or '-'}"
        )
    print(
        f"ratio (3 non-readers / baseline): p95 x{slow['p95'] / base['p95']:.2f}, "
        f"RSS growth {slow['rss_end'] - slow['rss_start']:+.1f} MB vs {base['rss_end'] - base['rss_start']:+.1f} MB"
    )


if __name__ == "__main__":
    asyncio.run(main())
