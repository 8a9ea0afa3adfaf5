"""Real servers for end-to-end tests: daphne subprocesses on loopback sharing one SQLite file and Redis, and a
signaling participant over a real WebSocket (``django_levelchat.client``'s signaling layer)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django_levelchat.client.signaling import SignalingClient

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


class WSClient(SignalingClient):
    """A signaling participant over a real WebSocket to ``127.0.0.1:port``: the Python client's signaling layer,
    sending the site's own Origin as a browser on that site would."""

    def __init__(self, port: int, token: str | None, *, origin: str | None = None) -> None:
        super().__init__(f"ws://127.0.0.1:{port}", token, origin=origin or f"http://127.0.0.1:{port}")
        self.port = port
