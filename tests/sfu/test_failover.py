"""Two ``runsfu`` workers on Redis behind a real daphne: a worker killed with SIGKILL mid-call loses its room to
the other; clients are told (``sfu-state`` unavailable, then ready), renegotiate, and media flows again. A worker
killed while recording leaves a playable partial file and a ``failed`` recording."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import av
import pytest

from django_levelchat.recording.spool import recording_dir, track_files
from django_levelchat.sfu.leases import RedisLeases
from django_levelchat.tokens import issue_token
from tests.livecluster import WSClient, sfu_cluster
from tests.sfu.peers import HEIGHT, WIDTH, PatternTrack, wait_for
from tests.sfu.signaled import SignaledPeer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]


@pytest.fixture
def cluster(tmp_path, redis_server):
    with sfu_cluster(tmp_path, redis_server.url) as c:
        yield c


async def _both_workers_registered(redis_url: str) -> RedisLeases:
    leases = RedisLeases(redis_url)
    deadline = asyncio.get_running_loop().time() + 180
    while len(await leases.live_workers()) < 2:
        assert asyncio.get_running_loop().time() < deadline, "the two runsfu workers did not register"
        await asyncio.sleep(0.2)
    return leases


async def test_killed_worker_hands_its_room_to_the_other(cluster, redis_server) -> None:
    leases = await _both_workers_registered(redis_server.url)

    room = cluster.create_room(room_type="live")
    host = SignaledPeer(WSClient(cluster.port, issue_token(room, "host", role="broadcaster")))
    viewer = SignaledPeer(WSClient(cluster.port, issue_token(room, "viewer", role="viewer")))
    try:
        await host.join()
        reply = await host.publish_video("TR_cam", [PatternTrack()])
        assert reply["type"] == "ack", reply
        await viewer.join()
        await wait_for(lambda: viewer.peer is not None and len(viewer.peer.frames) >= 5, what="frames before")
        first = await leases.holder(room)
        assert first in cluster.workers

        cluster.workers[first].send_signal(signal.SIGKILL)
        cluster.workers[first].wait(10)
        for person in (host, viewer):
            await wait_for(lambda p=person: _states(p) == ["unavailable", "ready"], timeout=60, what="sfu-state")
        second = await leases.holder(room)
        assert second is not None and second != first

        # What the SDK does on "ready": a fresh connection, the SFU tracks published again, a new offer.
        reply = await host.request({"type": "unpublish", "track": "TR_cam"})
        assert reply["type"] == "ack", reply
        reply = await host.publish_video("TR_cam", [PatternTrack()])
        assert reply["type"] == "ack", reply
        await wait_for(
            lambda: viewer.peer is not None and len(viewer.peer.frames) >= 5, timeout=60, what="frames after"
        )
        assert viewer.peer is not None and viewer.peer.sizes() == {(WIDTH, HEIGHT)}
    finally:
        await host.close()
        await viewer.close()


def _states(person: SignaledPeer) -> list[str]:
    return [f["state"] for f in person.events if f.get("type") == "sfu-state"]


def _decodable_seconds(path: Path) -> float:
    """Seconds of video that decode from ``path`` (a file may be mid-write: decoding stops at its torn end)."""
    first = last = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                if frame.pts is not None:
                    seconds = float(frame.pts * stream.time_base)
                    first = seconds if first is None else first
                    last = seconds
    except (av.FFmpegError, IndexError):
        pass
    return 0.0 if first is None or last is None else last - first


async def test_worker_killed_mid_recording_leaves_a_playable_partial_file_and_a_failed_row(cluster, redis_server):
    leases = await _both_workers_registered(redis_server.url)
    room = cluster.create_room(room_type="live")
    host = SignaledPeer(WSClient(cluster.port, issue_token(room, "host", role="host")))
    try:
        await host.join()
        assert (await host.publish_video("TR_cam", [PatternTrack()]))["type"] == "ack"
        started = await host.request({"type": "record-start"})
        assert started["type"] == "ack", started
        spool = recording_dir(cluster.spool, started["recording"])

        def on_disk() -> float:
            return max(
                (_decodable_seconds(path) for path, meta in track_files(spool) if meta.kind == "video"), default=0
            )

        await wait_for(lambda: on_disk() >= 3.0, timeout=180, what="3 s of recorded video on disk")
        before = on_disk()  # what had reached the disk just before the kill
        holder = await leases.holder(room)
        cluster.workers[holder].send_signal(signal.SIGKILL)
        cluster.workers[holder].wait(10)

        # The other worker takes the room over, fails the recording and tells the room.
        await wait_for(
            lambda: any(e.get("type") == "recording" and e.get("state") == "failed" for e in host.events),
            timeout=120,
            what="the recording failed event",
        )
    finally:
        await host.close()
    cluster.manage("levelchat_recordings", "--once")
    row = cluster.manage(
        "shell",
        "-c",
        "import json; from django_levelchat.models import Recording; "
        f"r = Recording.objects.get(public_id={started['recording']!r}); "
        "print(json.dumps([r.status, r.partial, [[f.kind, f.name] for f in r.files.all()]]))",
    )
    status, partial, files = json.loads(row.splitlines()[-1])
    assert (status, partial) == ("failed", True)
    videos = [name for kind, name in files if kind == "video"]
    assert len(videos) == 1, files
    assert _decodable_seconds(cluster.media / videos[0]) >= before - 0.1  # a frame of slack for the remux
