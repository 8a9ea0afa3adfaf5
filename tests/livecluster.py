"""Real servers for end-to-end tests: daphne subprocesses on loopback sharing one SQLite file and Redis, and a
WebSocket client (the ``websockets`` package) that speaks the signaling protocol."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """N daphne processes serving ``example_project.asgi`` with ``tests.live_settings``."""

    def __init__(
        self,
        tmp: Path,
        *,
        redis_url: str | None,
        asgi: str = "example_project.asgi:application",
        database_url: str | None = None,
    ) -> None:
        self.asgi = asgi
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.live_settings",
            "LEVELCHAT_SQLITE_PATH": str(tmp / "db.sqlite3"),
            "PYTHONPATH": str(ROOT),
        }
        if redis_url:
            self.env["LEVELCHAT_REDIS_URL"] = redis_url
        if database_url:
            self.env["LEVELCHAT_DATABASE_URL"] = database_url
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.logs = tmp

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    def create_room(self, **fields: Any) -> str:
        code = (
            f"from django_levelchat.models import Room; print(Room.objects.create(name='e2e', **{fields!r}).public_id)"
        )
        return self.manage("shell", "-c", code).splitlines()[-1]

    def start(self) -> int:
        port = free_port()
        log = open(self.logs / f"daphne-{port}.log", "wb")  # noqa: SIM115  (lives as long as the process)
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), self.asgi],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[port] = proc
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log(port)[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return port
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start")

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    def log(self, port: int) -> str:
        return (self.logs / f"daphne-{port}.log").read_text(errors="replace")


class WSClient:
    """A signaling participant over a real WebSocket."""

    def __init__(self, port: int, token: str | None, *, origin: str | None = None) -> None:
        self.port = port
        self.token = token
        self.origin = origin or f"http://127.0.0.1:{port}"
        self.ws: Any = None
        self.welcome: dict[str, Any] = {}
        self.id = ""

    async def connect(self) -> None:
        protocols = ["levelchat.v1"] + ([f"token.{self.token}"] if self.token else [])
        self.ws = await websockets.connect(
            f"ws://127.0.0.1:{self.port}/levelchat/v1/signal",
            subprotocols=protocols,
            origin=self.origin,
            open_timeout=5,
            ping_interval=None,
        )

    async def join(self, **hello: Any) -> dict[str, Any]:
        await self.connect()
        await self.send({"type": "hello", "protocol": 1, "sdk": {"name": "e2e", "version": "0"}, **hello})
        self.welcome = await self.recv("welcome")
        self.id = self.welcome["you"]["id"]
        return self.welcome

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, type_: str | None = None, timeout: float = 5) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.ws.recv())
                if type_ is None or frame["type"] == type_:
                    return frame

    async def collect(self, seconds: float) -> list[dict[str, Any]]:
        frames = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    frames.append(json.loads(await self.ws.recv()))
        except (TimeoutError, websockets.ConnectionClosed):
            pass
        return frames

    async def closed(self, timeout: float = 5) -> tuple[int | None, str]:
        """Read until the server closes; return (code, reason), the reason from the ``closing`` frame."""
        reason = ""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    frame = json.loads(await self.ws.recv())
                    if frame["type"] == "closing":
                        reason = frame["reason"]
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, reason or rcvd.reason) if rcvd else (None, reason)
        raise AssertionError("not closed")

    async def ping_for(self, seconds: float) -> list[dict[str, Any]]:
        """Keep this session alive (ping every 0.5 s) for ``seconds``; return what arrived meanwhile."""
        frames: list[dict[str, Any]] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self.send({"type": "ping"})
            frames += [f for f in await self.collect(0.5) if f["type"] != "pong"]
        return frames

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure)."""
        self.ws.transport.abort()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
