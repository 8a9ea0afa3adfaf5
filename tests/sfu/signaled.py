"""A test participant that talks to the SFU through the real signaling consumer (in-process WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import websockets

from django_levelchat import protocol
from tests.livecluster import WSClient
from tests.sfu.peers import RawPeer
from tests.signaling.conftest import Client

_ids = itertools.count(1)


class SignaledPeer:
    """A signaling client (in-process ``Client`` or a real-socket ``WSClient``) plus a raw aiortc peer whose
    ``sfu-signal`` frames go over the socket."""

    def __init__(self, client: Client | WSClient) -> None:
        self.client = client
        self.peer: RawPeer | None = None
        self.events: list[dict[str, Any]] = []
        self.answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None

    async def join(self) -> dict[str, Any]:
        welcome = await self.client.join()
        self.new_peer()
        self._reader = asyncio.ensure_future(self._read())
        self._pinger = asyncio.ensure_future(self._ping())
        return welcome

    async def _to_sfu(self, pid: str, description: protocol.SessionDescription) -> None:
        reply = await self.request({"type": "sfu-signal", "description": description.to_wire()})
        assert reply["type"] == "ack", reply

    def new_peer(self) -> RawPeer:
        """Start over with a fresh peer connection (after the SFU worker changed)."""
        self.peer = RawPeer(self.client.id, self._to_sfu)
        return self.peer

    async def _ping(self) -> None:
        """Keep the session alive as the SDK does: the janitor runs in-process too, and a participant silent for
        ``PING_TIMEOUT`` (3 s in the live settings, 12 s otherwise) is removed; a test waiting on a loaded machine
        can take longer than that between two of its own frames (the SFU then ignores the removed member)."""
        while True:
            await self.client.send({"type": "ping"})
            await asyncio.sleep(0.5)

    async def _next(self) -> dict[str, Any]:
        if isinstance(self.client, WSClient):
            try:
                return json.loads(await self.client.ws.recv())
            except websockets.ConnectionClosed:
                return {"type": "websocket.close"}
        return await self.client.raw(timeout=3600)

    async def _read(self) -> None:
        while True:
            try:
                frame = await self._next()
            except TimeoutError:
                continue
            if frame.get("type") in ("sfu-signal", "layer-demand"):
                assert self.peer is not None
                await self.peer.deliver(frame)
            elif frame.get("type") == "sfu-state" and frame["state"] == "unavailable" and self.peer is not None:
                old, self.peer = self.peer, RawPeer(self.client.id, self._to_sfu)
                self.events.append(frame)
                asyncio.ensure_future(old.close())
            elif frame.get("type") == "pong":
                continue
            elif frame.get("type") in ("ack", "error") and frame.get("ref") in self.answers:
                self.answers.pop(frame["ref"]).set_result(frame)
            else:
                self.events.append(frame)
            if frame.get("type") == "websocket.close":
                return

    async def request(self, frame: dict[str, Any], timeout: float = 90.0) -> dict[str, Any]:
        ref = f"r{next(_ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.answers[ref] = future
        await self.client.send({**frame, "id": ref})
        return await asyncio.wait_for(future, timeout)

    async def publish_video(self, sid: str, tracks: list[Any], layers: tuple[str, ...] = ()) -> dict[str, Any]:
        """Publish over the SFU: transceivers, ``publish`` with their mids, then the offer."""
        if self.peer is None:
            self.new_peer()
        assert self.peer is not None
        mids = await self.peer.publish_video(sid, tracks, layers)
        track: dict[str, Any] = {"sid": sid, "kind": "video", "source": "camera", "mids": mids}
        if layers:
            track["layers"] = list(layers)
        reply = await self.request({"type": "publish", "track": track})
        assert reply["type"] == "ack", reply
        return await self.request({"type": "sfu-signal", "description": self.peer.offer().to_wire()})

    async def close(self) -> None:
        for task in (self._pinger, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.peer is not None:
            await self.peer.close()
        with contextlib.suppress(Exception):
            if isinstance(self.client, WSClient):
                await self.client.close()
            else:
                await self.client.disconnect()
