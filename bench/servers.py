"""Real servers for the benchmarks (and the tests, which import them from here): daphne subprocesses on loopback,
a private redis-server on a free port, a throwaway PostgreSQL database. Nothing here imports Django or the app, so a
benchmark's measuring process stays light and ``bench`` never depends on ``tests``.

PostgreSQL is the machine's server: ``LEVELCHAT_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``, what ``.ci/run`` sets up) names a role that may create databases.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("LEVELCHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_missing_reason() -> str | None:
    """Why a private Redis cannot be started here, or None."""
    if shutil.which("redis-server") is None:
        return "needs the redis-server binary (Debian package redis-server; bash .ci/run installs it)"
    return None


def banner(title: str, details: str) -> None:
    """The first line of a benchmark's report: which benchmark, when, on what."""
    import daphne

    print(
        f"django_levelchat {title} · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · daphne {daphne.__version__} · {details}",
        flush=True,
    )


def postgres_missing_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None."""
    try:
        import psycopg
    except ImportError:
        return "needs psycopg (pip install -e '.[dev]')"
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"needs PostgreSQL at {POSTGRES_ADMIN_URL} (bash .ci/run starts it): {str(exc).strip()[:200]}"
    return None


class RedisServer:
    """A redis-server of our own on a free loopback port, keeping nothing on disk; can be killed and restarted."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="levelchat-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> RedisServer:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", self.dir],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode} (port {self.port} taken?)")
            try:
                if client.ping():
                    client.close()
                    return self
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer within {timeout} s")
            time.sleep(0.05)

    def kill(self) -> None:
        """``kill -9``: the server vanishes with everything it held."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        """``kill -STOP``: the server keeps its connections and answers nothing until ``resume``."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()  # a stopped server still dies of SIGKILL, but let it go in a known state
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresDatabase:
    """A throwaway database with a unique name on the machine's PostgreSQL, dropped afterwards."""

    def __init__(self, prefix: str) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        params = conninfo_to_dict(POSTGRES_ADMIN_URL)
        user = params.get("user", "postgres")
        password = f":{params['password']}" if params.get("password") else ""
        host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
        self.url = f"postgres://{user}{password}@{host}:{port}/{self.name}"
        self._admin = make_conninfo(POSTGRES_ADMIN_URL)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Cluster:
    """N daphne processes on loopback serving ``asgi`` with the settings module ``settings``; logs in ``tmp``."""

    def __init__(
        self,
        tmp: Path,
        *,
        settings: str,
        redis_url: str | None,
        asgi: str = "example_project.asgi:application",
        database_url: str | None = None,
        daphne_args: tuple[str, ...] = (),
    ) -> None:
        self.asgi = asgi
        self.daphne_args = daphne_args
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings,
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

    def daphne_command(self) -> list[str]:
        """How daphne is run (``bench.join_cpu`` runs it under cProfile)."""
        return [sys.executable, "-m", "daphne"]

    def start(self) -> int:
        port = free_port()
        log = open(self.logs / f"daphne-{port}.log", "wb")  # noqa: SIM115  (lives as long as the process)
        proc = subprocess.Popen(
            [*self.daphne_command(), "-b", "127.0.0.1", "-p", str(port), *self.daphne_args, self.asgi],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[port] = proc
        deadline = time.monotonic() + 90  # a loaded 2-core machine takes tens of seconds to import Django
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
