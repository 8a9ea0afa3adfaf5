from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from django_levelchat.client.signaling import Close, ClosedError, SignalingClient
from django_levelchat.models import Room
from django_levelchat.routing import websocket_urlpatterns
from django_levelchat.signaling import clock, consumers, janitor, liveness, presence
from django_levelchat.signaling.presence import MemoryPresence, RedisPresence
from django_levelchat.tokens import issue_token

PATH = "/levelchat/v1/signal"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
#: How long a test waits for a frame it expects. Generous: a wait ends as soon as the frame arrives, and a loaded
#: 2-core machine can stall an event loop for seconds.
WAIT = 15.0


class CommunicatorChannel:
    """Channels' in-process WebsocketCommunicator as a frame channel of the Python client's signaling layer."""

    def __init__(self, ws: WebsocketCommunicator) -> None:
        self.ws = ws

    async def send_text(self, text: str) -> None:
        await self.ws.send_to(text_data=text)

    async def receive(self, timeout: float) -> str | Close:
        out = await self.ws.receive_output(timeout)
        if out["type"] == "websocket.close":
            return Close(out.get("code", 1000), out.get("reason") or "")
        return out["text"]

    async def close(self, code: int = 1000) -> None:
        await self.ws.disconnect(code)

    def abort(self) -> None:
        raise NotImplementedError("an in-process socket cannot drop")


class Client(SignalingClient):
    """A test participant over an in-process WebSocket: the Python client's signaling layer (frames, requests,
    close reasons) on Channels' communicator, plus what only an in-process socket can do (``nothing``)."""

    def __init__(self, token: str | None, *, origin: tuple[bytes, bytes] | None = ORIGIN, query: bool = False) -> None:
        super().__init__("ws://testserver", token)
        headers = [origin] if origin else []
        subprotocols = ["levelchat.v1"]
        path = PATH
        if token is not None and query:
            path = f"{PATH}?token={token}"
        elif token is not None:
            subprotocols.append("token." + token)
        self.channel = CommunicatorChannel(
            WebsocketCommunicator(URLRouter(websocket_urlpatterns), path, headers=headers, subprotocols=subprotocols)
        )

    async def connect(self) -> tuple[bool, Any]:  # type: ignore[override]
        """(accepted, subprotocol or close code), as the communicator reports the handshake."""
        return await self.ws.connect()

    async def join(self, **hello: Any) -> dict[str, Any]:
        connected, _ = await self.connect()
        assert connected
        return await super().join(**hello)

    async def raw(self, timeout: float = 2) -> dict[str, Any]:
        """The next output: a frame dict, or {"type": "websocket.close", "code": ..., "reason": ...}."""
        out = await self.next(timeout)
        if isinstance(out, Close):
            return {"type": "websocket.close", "code": out.code, "reason": out.reason}
        return out

    async def recv(self, type_: str | None = None, timeout: float = 2) -> dict[str, Any]:
        try:
            return await super().recv(type_, timeout)
        except ClosedError as exc:
            raise AssertionError(str(exc)) from None

    async def request(self, frame: dict[str, Any], timeout: float = 2) -> dict[str, Any]:
        """Send a request with the id ``r1`` (unless it has one); return its ack or error."""
        try:
            return await super().request({"id": "r1", **frame}, timeout)
        except ClosedError as exc:
            raise AssertionError(str(exc)) from None

    async def closed(self, timeout: float = 2) -> dict[str, Any]:  # type: ignore[override]
        """Skip frames until the server closes; return the close message."""
        close = await super().closed(timeout)
        return {"type": "websocket.close", "code": close.code, "reason": close.reason}

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
def fresh_presence(monkeypatch):
    presence._store = None
    monkeypatch.setattr(consumers, "_late_by", 0.0)  # what one test taught the reorder window stays there
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


@pytest.fixture(params=["memory", "redis"])
def store(request, fake_clock, monkeypatch):
    """A fresh presence store of either kind, installed as the process's store (liveness and tombstone tests)."""
    if request.param == "memory":
        made = MemoryPresence()
    else:
        server = request.getfixturevalue("redis_server")
        made = RedisPresence(server.url, prefix=f"t{uuid.uuid4().hex[:10]}")
    monkeypatch.setattr(presence, "get_presence", lambda: made)
    for module in (janitor, liveness):
        monkeypatch.setattr(module, "get_presence", lambda: made)
    return made


def entry(pid: str) -> dict[str, Any]:
    """A presence entry of a connected participant ``pid``."""
    return {"id": pid, "identity": pid, "name": pid, "tracks": [], "channel": "", "state": "connected"}
