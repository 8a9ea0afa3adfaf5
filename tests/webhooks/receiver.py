"""A real HTTP webhook receiver on loopback (a threaded ``http.server``) that records what it gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """Answers 200 unless ``script`` (statuses popped per request) says otherwise; ``hold`` blocks answers."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[int] = []
        self.hold: threading.Event | None = None
        self.cond = threading.Condition()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/levelchat?src=test"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) != length:  # the sender died mid-request: nothing arrived that a receiver could act on
                    self.close_connection = True
                    return
                with receiver.cond:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append(Received(dict(self.headers.items()), body, status))
                    receiver.cond.notify_all()
                    hold = receiver.hold
                if hold is not None:
                    hold.wait(60)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 128  # several deliverers connect at once
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down for real: the port refuses connections until ``start()`` binds it again."""
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
        self.server = None

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: condition not met; got {[r.event['type'] for r in self.requests]}")
                self.cond.wait(left)
            return list(self.requests)

    def delivered(self) -> list[dict[str, Any]]:
        """Events answered with 2xx, in arrival order."""
        with self.cond:
            return [r.event for r in self.requests if 200 <= r.status < 300]
