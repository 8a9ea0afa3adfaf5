"""The signaling layer of the Python client: frames over one WebSocket, and a session that survives drops.

``SignalingClient`` is one socket speaking ``protocol.py``'s frames (no reconnect): tests use it for raw frames,
benchmarks for many cheap participants. ``Session`` adds what the SDK does on top (docs/protocol.md §8–9):
keepalive pings, ``seq`` de-duplication and gap resync, request ids answered by ``ack``/``error``, and the
reconnect/resume loop (backoff 250 ms doubling to 8 s, ±25 % jitter, give up after 60 s; only the retryable
close codes are retried; a resume presents the ``welcome``'s resume credential). Nothing here touches media.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit, urlunsplit

import websockets

from django_levelchat import protocol as p

log = logging.getLogger("django_levelchat.client")

SDK_INFO = {"name": "levelchat-python", "version": "0.1.0"}
Frame = dict[str, Any]


def signal_url(url: str) -> str:
    """The signaling WebSocket URL for a site URL (``https://example.org``) or a full ``ws(s)://…`` URL."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not an http(s) or ws(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith(p.SIGNAL_PATH):
        path += p.SIGNAL_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class Close(NamedTuple):
    """How a socket ended: the close code and the reason (the ``closing`` frame's, which daphne does not drop).

    A tuple, so tests can write ``assert await client.closed() == (4401, "token_expired")``.
    """

    code: int
    reason: str = ""

    @property
    def retryable(self) -> bool:
        return self.code in p.RETRYABLE_CLOSE_CODES


class ClosedError(Exception):
    """The socket closed while a frame was awaited."""

    def __init__(self, close: Close, waiting_for: str = "") -> None:
        super().__init__(
            f"closed {close.code} {close.reason!r}" + (f" while waiting for {waiting_for}" if waiting_for else "")
        )
        self.close = close


class RequestError(Exception):
    """A request was answered with an ``error`` frame (``code``, ``message``, ``field`` as in docs/protocol.md §10)."""

    def __init__(self, frame: Mapping[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.code = str(frame.get("code"))
        self.field = frame.get("field")
        self.frame = dict(frame)


class Channel(Protocol):
    """A frame transport: a real WebSocket here, Channels' in-process communicator in the signaling tests."""

    async def send_text(self, text: str) -> None: ...

    async def receive(self, timeout: float) -> str | Close:
        """The next text frame, or the Close once the socket is gone (raises TimeoutError on timeout)."""
        ...

    async def close(self, code: int = 1000) -> None: ...

    def abort(self) -> None:
        """Drop the connection without a close frame, like a network failure."""
        ...


class WebSocketChannel:
    """A ``websockets`` client connection as a Channel."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(
        cls,
        url: str,
        token: str | None,
        *,
        origin: str | None = None,
        open_timeout: float = 10,
        query_token: bool = False,
    ) -> WebSocketChannel:
        """Connect; the token rides as the ``token.<jwt>`` subprotocol (or ``?token=`` with ``query_token``).

        No ``Origin`` header unless ``origin`` is given: the server accepts a missing one (non-browser client).
        """
        protocols = [p.SUBPROTOCOL]
        if token and query_token:
            url = f"{url}{'&' if '?' in url else '?'}token={token}"
        elif token:
            protocols.append(p.TOKEN_SUBPROTOCOL_PREFIX + token)
        ws = await websockets.connect(
            url,
            subprotocols=protocols,  # type: ignore[arg-type]
            origin=origin,  # type: ignore[arg-type]
            open_timeout=open_timeout,
            close_timeout=2,
            ping_interval=None,
            compression=None,
            proxy=None,
            max_size=p.MAX_SERVER_FRAME_BYTES,
        )
        return cls(ws)

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def receive(self, timeout: float) -> str | Close:
        try:
            async with asyncio.timeout(timeout):
                data = await self.ws.recv()
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            return Close(rcvd.code, rcvd.reason) if rcvd is not None else Close(p.ABNORMAL_CLOSURE)
        return data if isinstance(data, str) else data.decode("utf-8", "replace")

    async def close(self, code: int = 1000) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code)

    def abort(self) -> None:
        self.ws.transport.abort()


class SignalingClient:
    """One signaling socket: send frames (dicts, message objects or raw text) and read server frames.

    Every server frame is checked with ``protocol.parse_server_frame`` (a malformed one raises ProtocolError:
    in tests that is a server bug). The ``closing`` frame's code and reason are kept for ``closed()``.
    """

    def __init__(self, url: str, token: str | None, *, origin: str | None = None, query_token: bool = False) -> None:
        self.url = signal_url(url)
        self.token = token
        self.origin = origin
        self.query_token = query_token
        self.channel: Channel | None = None
        self.welcome: Frame = {}
        self.id = ""
        self.closing: Frame | None = None
        self._ids = itertools.count(1)

    async def connect(self) -> None:
        self.channel = await WebSocketChannel.open(
            self.url, self.token, origin=self.origin, query_token=self.query_token
        )

    async def join(self, *, timeout: float = 5, **hello: Any) -> Frame:
        """Connect, say ``hello`` (extra fields as given) and return the ``welcome`` (within ``timeout`` s)."""
        if self.channel is None:
            await self.connect()
        await self.send(hello_frame(**hello))
        self.welcome = await self.recv("welcome", timeout=timeout)
        self.id = self.welcome["you"]["id"]
        return self.welcome

    @property
    def ws(self) -> Any:
        """The underlying connection (a ``websockets`` client, or the transport a test channel wraps)."""
        return getattr(self.channel, "ws", None)

    @ws.setter
    def ws(self, connection: Any) -> None:
        self.channel = WebSocketChannel(connection)

    async def send(self, frame: Mapping[str, Any] | p.ClientMessage | str) -> None:
        """Send a message object (``protocol.Hello(...)``), a dict or raw text.

        Dicts are sent as given (``json.dumps``, NaN and all) so tests can send what a broken client would.
        """
        if isinstance(frame, p.ClientMessage):
            frame = p.encode(frame.to_wire())
        assert self.channel is not None, "not connected"
        await self.channel.send_text(frame if isinstance(frame, str) else json.dumps(frame))

    async def next(self, timeout: float = 5) -> Frame | Close:
        """The next server frame, or the Close when the socket ended."""
        assert self.channel is not None, "not connected"
        data = await self.channel.receive(timeout)
        if isinstance(data, Close):
            if self.closing is not None:
                code = data.code if data.code not in (1005, p.ABNORMAL_CLOSURE) else int(self.closing["code"])
                return Close(code, self.closing.get("reason") or data.reason)
            return data
        try:
            frame = p.parse_server_frame(data)
        except p.ProtocolError as exc:
            if exc.code != p.ErrorCode.UNKNOWN_TYPE:
                raise
            frame = p.decode_frame(data, max_bytes=p.MAX_SERVER_FRAME_BYTES)  # a newer server's type: passed on
        if frame.get("type") == "closing":
            self.closing = frame
        return frame

    async def recv(self, type_: str | None = None, timeout: float = 5) -> Frame:
        """The next frame (of ``type_``, skipping others); ClosedError if the socket ends first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            out = await self.next(max(0.01, deadline - loop.time()))
            if isinstance(out, Close):
                raise ClosedError(out, type_ or "a frame")
            if type_ is None or out.get("type") == type_:
                return out

    async def request(self, frame: Mapping[str, Any], timeout: float = 5) -> Frame:
        """Send ``frame`` with an ``id`` (``r<n>`` unless it has one) and return its ``ack`` or ``error``."""
        frame = {"id": f"r{next(self._ids)}", **frame}
        await self.send(frame)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            out = await self.next(max(0.01, deadline - loop.time()))
            if isinstance(out, Close):
                raise ClosedError(out, f"the answer to {frame['type']}")
            if out.get("type") in ("ack", "error", "resync", "pong") and out.get("ref") == frame["id"]:
                return out

    async def collect(self, seconds: float) -> list[Frame]:
        """Every frame that arrives within ``seconds`` (stops early when the socket closes)."""
        frames: list[Frame] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                out = await self.next(left)
            except TimeoutError:
                break
            if isinstance(out, Close):
                break
            frames.append(out)
        return frames

    async def closed(self, timeout: float = 5) -> Close:
        """Read until the server closes; return how (the reason from the ``closing`` frame when there was one)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            out = await self.next(max(0.01, deadline - loop.time()))
            if isinstance(out, Close):
                return out

    async def ping_for(self, seconds: float) -> list[Frame]:
        """Keep this session alive (a ping every 0.5 s) for ``seconds``; return what arrived, pongs left out."""
        frames: list[Frame] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self.send({"type": "ping"})
            frames += [f for f in await self.collect(0.5) if f["type"] != "pong"]
        return frames

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure: the session can be resumed)."""
        if self.channel is not None:
            self.channel.abort()

    async def close(self, code: int = 1000) -> None:
        if self.channel is not None:
            await self.channel.close(code)


def hello_frame(*, resume: Mapping[str, Any] | None = None, **fields: Any) -> Frame:
    """A ``hello`` of this protocol version from this client (``resume`` = the welcome's session + credential)."""
    frame: Frame = {"type": "hello", "protocol": p.PROTOCOL_VERSION, "sdk": dict(SDK_INFO), **fields}
    if resume is not None:
        frame["resume"] = {"session": resume["session"], "credential": resume["credential"]}
    return frame


# ---------------------------------------------------------------------------------------------- session


@dataclass(frozen=True)
class Backoff:
    """The SDK's reconnect policy: 250 ms doubling to 8 s, each delay ±25 %, give up 60 s after the loss."""

    initial: float = 0.25
    maximum: float = 8.0
    jitter: float = 0.25
    give_up_after: float = 60.0

    def delay(self, retry: int, elapsed: float, rand: Callable[[], float] = random.random) -> float | None:
        """Seconds before attempt ``retry`` (0-based), or None to give up."""
        if elapsed >= self.give_up_after:
            return None
        base = min(self.maximum, self.initial * 2 ** min(retry, 30))
        return max(0.0, min(base * (1 + self.jitter * (2 * rand() - 1)), self.give_up_after - elapsed))


class SessionState:
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    FAILED = "failed"


class JoinError(Exception):
    """The server refused the session (a final close such as 4401 ``token_expired``) or could not be reached."""

    def __init__(self, close: Close) -> None:
        super().__init__(f"{close.code} {close.reason}".strip())
        self.close = close


class Session:
    """A signaling session that outlives dropped sockets: reconnect with backoff and resume.

    ``on_welcome(welcome, resumed)`` runs for every welcome (``resumed`` False on the first and after a failed
    resume, when the server gave a new participant id); ``on_frame(frame)`` for every other frame in order
    (room events de-duplicated by ``seq``); ``on_state(state, close)`` for state changes.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        on_welcome: Callable[[Frame, bool], Awaitable[None] | None],
        on_frame: Callable[[Frame], Awaitable[None] | None],
        on_state: Callable[[str, Close | None], None] = lambda state, close: None,
        origin: str | None = None,
        backoff: Backoff = Backoff(),
        rand: Callable[[], float] = random.random,
        hello: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = signal_url(url)
        self.token = token
        self.origin = origin
        self.backoff = backoff
        self.rand = rand
        self.hello_fields = dict(hello or {})
        self._on_welcome = on_welcome
        self._on_frame = on_frame
        self._on_state = on_state
        self.state = SessionState.CONNECTING
        self.close_info: Close | None = None
        self.participant_id = ""
        self.last_seq = 0
        self.resumes = 0
        self.reconnects = 0
        self._client: SignalingClient | None = None
        self._resume: dict[str, str] | None = None
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._queue: list[Frame] = []
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Future[Frame] | None = None
        self._leaving = False
        self._ping_interval = 10.0
        self._ping_timeout = 30.0

    async def start(self) -> Frame:
        """Connect and join; return the first welcome or raise JoinError."""
        self._first = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="levelchat-session")
        return await self._first

    @property
    def connected(self) -> bool:
        return self.state == SessionState.CONNECTED and self._client is not None

    async def send(self, frame: Mapping[str, Any]) -> None:
        """Send now, or queue until the session is back (signals and events survive a short drop)."""
        if self.state in (SessionState.DISCONNECTED, SessionState.FAILED):
            raise JoinError(self.close_info or Close(1000, "left"))
        if self.connected:
            try:
                await self._client.send(frame)  # type: ignore[union-attr]
                return
            except websockets.ConnectionClosed:
                pass
        self._queue.append(dict(frame))

    async def request(self, frame: Mapping[str, Any], timeout: float = 15) -> Frame:
        """Send with a fresh ``id``; return the ``ack`` (or ``resync``/``pong``), raise RequestError on ``error``."""
        ref = f"py{next(self._ids)}"
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await self.send({**frame, "id": ref})
            async with asyncio.timeout(timeout):
                answer = await future
        finally:
            self._pending.pop(ref, None)
        if answer["type"] == "error":
            raise RequestError(answer)
        return answer

    def drop(self) -> None:
        """Drop the socket as the network would (no close frame); the session reconnects and resumes."""
        if self._client is not None:
            self._client.abort()

    async def leave(self, timeout: float = 5) -> None:
        """Leave on purpose (others see ``client_initiated``); the session cannot be resumed afterwards."""
        self._leaving = True
        if self.connected:
            with contextlib.suppress(Exception):
                await self.request({"type": "leave"}, timeout=timeout)
        await self.stop()

    async def stop(self) -> None:
        """End the session without leaving politely (tests use it to simulate a crash when combined with drop)."""
        self._leaving = True
        client = self._client
        if client is not None:
            await client.close(1000)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.state not in (SessionState.FAILED, SessionState.DISCONNECTED):
            self._set_state(SessionState.DISCONNECTED, Close(1000, "left"))
        self._fail_pending(Close(1000, "left"))

    # -- the loop

    def _set_state(self, state: str, close: Close | None = None) -> None:
        if state != self.state:
            self.state = state
            self.close_info = close
            self._on_state(state, close)

    def _fail_pending(self, close: Close) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ClosedError(close, "an answer"))
        self._pending.clear()

    async def _run(self) -> None:
        lost_at: float | None = None
        retry = 0
        ever_welcomed = False
        while True:
            close = await self._connect_once()
            if self._leaving:
                return
            welcomed = close is None  # None: the socket was welcomed and later ended (read in _serve)
            if welcomed:
                ever_welcomed = True
                close = await self._serve()
                if self._leaving:
                    return
                lost_at, retry = None, 0
            assert close is not None
            self._fail_pending(close)
            if not close.retryable:
                final = SessionState.DISCONNECTED if close.code in (1000, 4403, 4409) else SessionState.FAILED
                self._finish(final, close)
                return
            now = time.monotonic()
            lost_at = lost_at if lost_at is not None else now
            delay = self.backoff.delay(retry, now - lost_at, self.rand)
            if delay is None or not ever_welcomed and now - lost_at + (delay or 0) > 15:
                self._finish(SessionState.FAILED, close)
                return
            if ever_welcomed:
                self._set_state(SessionState.RECONNECTING, close)
            log.info("reconnect attempt %d in %.2f s (%s %s)", retry + 1, delay, close.code, close.reason)
            await asyncio.sleep(delay)
            retry += 1
            self.reconnects += 1

    def _finish(self, state: str, close: Close) -> None:
        self._set_state(state, close)
        if self._first is not None and not self._first.done():
            self._first.set_exception(JoinError(close))

    async def _connect_once(self) -> Close | None:
        """Open a socket and get its welcome; None when welcomed, else how it ended."""
        client = SignalingClient(self.url, self.token, origin=self.origin)
        try:
            await client.connect()
        except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
            log.info("could not open the signaling socket: %s", exc)
            status = getattr(getattr(exc, "response", None), "status_code", None)
            return Close(4403, "forbidden") if status == 403 else Close(p.ABNORMAL_CLOSURE, "open_failed")
        try:
            await client.send(hello_frame(resume=self._resume, **self.hello_fields))
            welcome = await client.recv("welcome", timeout=15)
        except ClosedError as exc:
            return exc.close
        except (TimeoutError, websockets.ConnectionClosed):
            client.abort()
            return Close(p.ABNORMAL_CLOSURE, "attempt_timeout")
        self._client = client
        resumed = bool(self.participant_id) and welcome["you"]["id"] == self.participant_id
        if resumed:
            self.resumes += 1
        self.participant_id = welcome["you"]["id"]
        resume = welcome.get("resume")
        self._resume = {"session": resume["session"], "credential": resume["credential"]} if resume else None
        self._ping_interval = max(1.0, float(welcome["ping_interval"]))
        self._ping_timeout = max(self._ping_interval + 1, float(welcome["ping_timeout"]))
        self.last_seq = int(welcome["seq"])
        self._set_state(SessionState.CONNECTED)
        if not resumed:
            self._queue.clear()  # what was queued was for the old session's peers
        await _maybe_await(self._on_welcome(welcome, resumed))
        queued, self._queue = self._queue, []
        for frame in queued:
            await self.send(frame)
        if self._first is not None and not self._first.done():
            self._first.set_result(welcome)
        return None

    async def _serve(self) -> Close:
        """Read the welcomed socket until it ends; keep it alive with pings; watch for silence."""
        client = self._client
        assert client is not None
        pinger = asyncio.create_task(self._ping_loop(client))
        try:
            while True:
                try:
                    out = await client.next(self._ping_timeout)
                except TimeoutError:
                    client.abort()
                    return Close(p.ABNORMAL_CLOSURE, "ping_timeout")
                except p.ProtocolError as exc:
                    log.warning("ignoring a server frame: %s", exc)
                    continue
                if isinstance(out, Close):
                    return out
                await self._dispatch(out)
        finally:
            pinger.cancel()
            self._client = None

    async def _ping_loop(self, client: SignalingClient) -> None:
        with contextlib.suppress(websockets.ConnectionClosed, AssertionError):
            while True:
                await asyncio.sleep(self._ping_interval)
                await client.send({"type": "ping", "ts": int(time.time() * 1000)})

    async def _dispatch(self, frame: Frame) -> None:
        type_ = frame.get("type")
        ref = frame.get("ref")
        if type_ in ("ack", "error", "pong", "resync") and ref in self._pending:
            future = self._pending.pop(ref)
            if not future.done():
                future.set_result(frame)
            if type_ != "resync":
                return
        if type_ in ("ack", "pong", "closing"):
            return
        if type_ == "resync":
            self.last_seq = int(frame["seq"])
        elif isinstance(frame.get("seq"), int):
            seq = frame["seq"]
            if seq <= self.last_seq:
                return  # a duplicate, or already in the snapshot
            gap = seq > self.last_seq + 1
            self.last_seq = seq
            if gap:
                log.info("seq gap; asking for a snapshot")
                await self.send({"type": "resync"})
        await _maybe_await(self._on_frame(frame))


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None:
        await value
