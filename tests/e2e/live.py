"""A live levelchat server for browser tests and benchmarks: daphne in a subprocess on a free loopback port.

It serves ``example_project.asgi:application`` with a SQLite file database (``LEVELCHAT_SQLITE_PATH``), static
files (``LEVELCHAT_SERVE_STATIC=1``) and, given a Redis URL, the Redis channel layer (``LEVELCHAT_REDIS_URL``), so
a test process can reach the server's sockets through the channel layer.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
#: How long a browser test waits for a state it expects (seconds / Playwright milliseconds). Generous on purpose:
#: waits end as soon as the state is reached, and a loaded 2-core machine can stall a page for many seconds.
WAIT_S = 30.0
WAIT_MS = int(WAIT_S * 1000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A running daphne process and what a test needs to talk to it."""

    url: str
    db_path: Path
    redis_url: str | None
    log_path: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(repr=False)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/levelchat/v1/signal"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def participant_channel(self, room_id: str, participant_id: str) -> str | None:
        """The channel-layer name of a participant's socket, from Redis presence (Redis layer only)."""
        if not self.redis_url:
            return None
        import redis

        raw = redis.Redis.from_url(self.redis_url).hget(f"levelchat:{room_id}:roster", participant_id)
        return json.loads(raw).get("channel") if raw else None

    def close_socket(self, room_id: str, participant_id: str, reason: str = "restart") -> None:
        """Make the server close a participant's socket with ``reason`` (the code it maps to), like a restart."""
        from channels_redis.core import RedisChannelLayer

        channel = self.participant_channel(room_id, participant_id)
        if channel is None:
            raise RuntimeError(f"{participant_id} is not in the presence of {room_id}")

        async def send() -> None:
            layer = RedisChannelLayer(hosts=[self.redis_url])
            try:
                await layer.send(channel, {"type": "lc.close", "reason": reason})
            finally:
                await layer.close_pools()

        # A thread of its own: the caller's thread may be running an event loop (Playwright's sync API does).
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, send()).result(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(
    workdir: Path, *, secret_key: str, redis_url: str | None = None, extra_env: dict[str, Any] | None = None
) -> LiveServer:
    """Migrate a fresh SQLite file in ``workdir`` and start daphne on it; waits until it answers HTTP."""
    db_path = workdir / "db.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVELCHAT_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DJANGO_SECRET_KEY=secret_key,
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LEVELCHAT_SQLITE_PATH=str(db_path),
        LEVELCHAT_SERVE_STATIC="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    if redis_url:
        env["LEVELCHAT_REDIS_URL"] = redis_url
    env.update({k: str(v) for k, v in (extra_env or {}).items()})
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    port = free_port()
    log_path = workdir / "daphne.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "example_project.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", db_path, redis_url, log_path, process, env)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/sdk-test/", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"daphne did not answer within 30 s:\n{server.log_tail()}")
        time.sleep(0.1)
