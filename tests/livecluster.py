"""Real servers for end-to-end tests: daphne subprocesses on loopback sharing one SQLite file and Redis, and a
signaling participant over a real WebSocket (``django_levelchat.client``'s signaling layer)."""

from __future__ import annotations

from pathlib import Path

from bench import servers
from bench.servers import ROOT, free_port
from django_levelchat.client.signaling import SignalingClient

__all__ = ["ROOT", "Cluster", "WSClient", "free_port"]


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
