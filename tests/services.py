"""Private backing services for the tests: a redis-server per test session on a free port and uniquely named
PostgreSQL databases, so two suites running at once on one machine (or a test that kills Redis) never share state.

PostgreSQL is the machine's server: ``LEVELCHAT_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``, what ``.ci/run`` sets up) names a role that may create databases.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

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

    def stop(self) -> None:
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
