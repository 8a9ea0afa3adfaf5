"""Real servers for end-to-end tests: daphne subprocesses on loopback sharing one SQLite file and Redis, and a
signaling participant over a real WebSocket (``django_levelchat.client``'s signaling layer)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench import servers
from bench.servers import ROOT, free_port
from django_levelchat.client.signaling import SignalingClient

__all__ = ["ROOT", "Cluster", "WSClient", "free_port", "sfu_cluster"]


class Cluster(servers.Cluster):
    """N daphne processes serving ``example_project.asgi`` with ``tests.live_settings``."""

    def __init__(
        self,
        tmp: Path,
        *,
        redis_url: str | None,
        asgi: str = "example_project.asgi:application",
        database_url: str | None = None,
    ) -> None:
        super().__init__(tmp, settings="tests.live_settings", redis_url=redis_url, asgi=asgi, database_url=database_url)


class WSClient(SignalingClient):
    """A signaling participant over a real WebSocket to ``127.0.0.1:port``: the Python client's signaling layer,
    sending the site's own Origin as a browser on that site would."""

    def __init__(self, port: int, token: str | None, *, origin: str | None = None) -> None:
        super().__init__(f"ws://127.0.0.1:{port}", token, origin=origin or f"http://127.0.0.1:{port}")
        self.port = port


@contextlib.contextmanager
def sfu_cluster(tmp: Path, redis_url: str, *, env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """One daphne and two ``runsfu`` workers (``wa``, ``wb``) on Redis, SFU test settings (tests/sfu/live_settings:
    loopback candidates, 2 s leases). ``cluster.port`` is the daphne, ``cluster.workers`` the worker processes;
    recordings go to ``cluster.spool`` and ``cluster.media``."""
    c = Cluster(tmp, redis_url=redis_url)
    c.env["DJANGO_SETTINGS_MODULE"] = "tests.sfu.live_settings"
    c.spool, c.media = tmp / "spool", tmp / "media"  # type: ignore[attr-defined]
    c.env["LEVELCHAT_MEDIA_ROOT"] = str(tmp / "media")
    c.env["LEVELCHAT_TEST_OVERRIDES"] = json.dumps(
        {"RECORDING_SPOOL_DIR": str(tmp / "spool"), "RECORDING_LAYOUT": None}
    )
    c.env.update(env or {})
    c.manage("migrate", "--verbosity", "0")
    c.port = c.start()  # type: ignore[attr-defined]
    workers: dict[str, subprocess.Popen[bytes]] = {}
    c.workers = workers  # type: ignore[attr-defined]
    try:
        for worker_id in ("wa", "wb"):
            log = open(tmp / f"sfu-{worker_id}.log", "wb")  # noqa: SIM115  (lives as long as the process)
            workers[worker_id] = subprocess.Popen(
                [sys.executable, "manage.py", "runsfu", "--workers", "1", "--worker-id", worker_id],
                cwd=ROOT,
                env=c.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        yield c
    finally:
        for proc in workers.values():
            proc.terminate()
        for proc in workers.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        c.stop()
