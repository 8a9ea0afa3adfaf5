"""The Python client's SFU connection gives up its peer connection without stopping the tracks it published.

aiortc stops the track a sender sends when that sender stops (``RTCRtpSender._run_rtp``), so a connection that
sent the room's own track would, once closed (the worker died, the connection failed, glare, a session that could
not resume), leave the connection that replaces it nothing to send: a Python publisher went silent after an SFU
failover (tests/reliability/test_sfu_crash.py). Here a real connection negotiates on loopback, sends frames, is
closed, and a second connection sends the same track again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from django_levelchat.client import Room, SyntheticVideoTrack
from django_levelchat.client.mesh import LocalMedia

pytestmark = pytest.mark.timeout(120)


async def _frames_through(room: Room, media: LocalMedia) -> tuple[Any, RTCPeerConnection]:
    """A new receiving SFU connection of ``room`` sending ``media`` to a plain aiortc peer standing in for the
    worker; returns (the connection, the peer) once the peer decoded a frame."""
    far = RTCPeerConnection()
    got: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def answer(frame: Any) -> dict[str, Any]:
        description = frame.get("description")
        if description and description["type"] == "offer":
            await far.setRemoteDescription(RTCSessionDescription(**description))
            await far.setLocalDescription(await far.createAnswer())
            await connection.handle_signal({"description": {"type": "answer", "sdp": far.localDescription.sdp}})
        return {"type": "ack"}

    def on_track(track: Any) -> None:
        async def read() -> None:
            frame = await track.recv()
            if not got.done() and frame.width > 0:
                got.set_result(None)

        asyncio.ensure_future(read())

    far.on("track", on_track)
    connection = room._new_sfu(True)
    connection.request = answer  # the worker's side, in process
    await connection.publish([media])
    await asyncio.wait_for(got, 60)
    return connection, far


async def test_a_closed_sfu_connection_leaves_the_published_track_to_the_next() -> None:
    room = Room("not-used", "ws://127.0.0.1:9")  # never connected: only its SFU connections are used
    track = SyntheticVideoTrack(64, 48, 15)
    media = LocalMedia(sid="TR_camera-1", kind="video", source="camera", track=track)
    first, far = await _frames_through(room, media)
    await first.close()
    await far.close()
    assert track.readyState == "live"  # the room owns it: only unpublish and leave stop it

    second, far = await _frames_through(room, media)  # what a failover does next
    await second.close()
    await far.close()
    track.stop()
