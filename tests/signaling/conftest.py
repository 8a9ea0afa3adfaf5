from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from django_levelchat.models import Room
from django_levelchat.routing import websocket_urlpatterns
from django_levelchat.signaling import clock, janitor, presence
from django_levelchat.tokens import issue_token

PATH = "/levelchat/v1/signal"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
#: How long a test waits for a frame it expects. Generous: a wait ends as soon as the frame arrives, and a loaded
#: 2-core machine can stall an event loop for seconds.
WAIT = 15.0


class Client:
    """A test participant over an in-process WebSocket (channels' WebsocketCommunicator)."""

    def __init__(self, token: str | None, *, origin: tuple[bytes, bytes] | None = ORIGIN, query: bool = False) -> None:
        self.token = token
        headers = [origin] if origin else []
        subprotocols = ["levelchat.v1"]
        path = PATH
        if token is not None and query:
            path = f"{PATH}?token={token}"
        elif token is not None:
            subprotocols.append("token." + token)
        self.ws = WebsocketCommunicator(
            URLRouter(websocket_urlpatterns), path, headers=headers, subprotocols=subprotocols
        )
        self.welcome: dict[str, Any] = {}
        self.id: str = ""

    async def connect(self) -> tuple[bool, Any]:
        return await self.ws.connect()

    async def join(self, **hello: Any) -> dict[str, Any]:
        connected, _ = await self.connect()
        assert connected
        await self.send({"type": "hello", "protocol": 1, "sdk": {"name": "test", "version": "0"}, **hello})
        self.welcome = await self.recv("welcome")
        self.id = self.welcome["you"]["id"]
        return self.welcome

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def raw(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next output: a frame dict, or {"type": "websocket.close", ...}."""
        out = await self.ws.receive_output(timeout)
        if out["type"] == "websocket.send":
            return json.loads(out["text"])
        return out

    async def recv(self, type_: str | None = None, timeout: float = WAIT) -> dict[str, Any]:
        """The next frame (of ``type_``, skipping others)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.raw(max(0.01, deadline - loop.time()))
            if type_ is None or frame.get("type") == type_:
                return frame
            if frame.get("type") == "websocket.close":
                raise AssertionError(f"closed {frame} while waiting for {type_}")

    async def request(self, frame: dict[str, Any], timeout: float = WAIT) -> dict[str, Any]:
        """Send a request with an id; return its ack or error."""
        frame = {"id": "r1", **frame}
        await self.send(frame)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            reply = await self.raw(max(0.01, deadline - loop.time()))
            if reply.get("type") in ("ack", "error") and reply.get("ref") == frame["id"]:
                return reply
            if reply.get("type") == "websocket.close":
                raise AssertionError(f"closed {reply} while waiting for the answer to {frame['type']}")

    async def closed(self, timeout: float = WAIT) -> dict[str, Any]:
        """Skip frames until the server closes; return the close message."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            out = await self.raw(max(0.01, deadline - loop.time()))
            if out.get("type") == "websocket.close":
                return out

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.ws.receive_nothing(timeout)

    async def drain(self) -> list[dict[str, Any]]:
        frames = []
        while not await self.ws.receive_nothing(0.05):
            frames.append(await self.raw())
        return frames

    async def disconnect(self, code: int = 1000) -> None:
        await self.ws.disconnect(code)


@pytest.fixture(autouse=True)
def fresh_presence():
    presence._store = None
    yield
    presence._store = None


class FakeClock:
    """Stands in for ``signaling.clock``: time moves only when a test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    """Liveness time under the test's control (heartbeats, janitor cut-offs)."""
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake.now)
    return fake


@pytest.fixture(autouse=True)
async def stop_janitor():
    yield
    await janitor.stop()


@pytest.fixture
def signal_room(transactional_db) -> Room:
    return Room.objects.create(name="Signal room")


@pytest.fixture
def token_for(signal_room):
    def make(identity: str, room: Room | None = None, **kwargs: Any) -> str:
        return issue_token(room or signal_room, identity, **kwargs)

    return make


@pytest.fixture
def client_for(token_for):
    made: list[Client] = []

    def make(identity: str, **kwargs: Any) -> Client:
        client = Client(token_for(identity, **kwargs))
        made.append(client)
        return client

    yield make
