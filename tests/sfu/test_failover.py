"""Two ``runsfu`` workers on Redis behind a real daphne: a worker killed with SIGKILL mid-call loses its room to
the other; clients are told (``sfu-state`` unavailable, then ready), renegotiate, and media flows again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

from django_levelchat.sfu.leases import RedisLeases
from django_levelchat.tokens import issue_token
from tests.livecluster import ROOT, Cluster, WSClient
from tests.sfu.peers import HEIGHT, WIDTH, PatternTrack, wait_for
from tests.sfu.signaled import SignaledPeer

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]


@pytest.fixture
def cluster(tmp_path, redis_server):
    c = Cluster(tmp_path, redis_url=redis_server.url)
    c.env["DJANGO_SETTINGS_MODULE"] = "tests.sfu.live_settings"
    c.manage("migrate", "--verbosity", "0")
    c.port = c.start()
    c.workers = {}
    for worker_id in ("wa", "wb"):
        log = open(tmp_path / f"sfu-{worker_id}.log", "wb")  # noqa: SIM115  (lives as long as the process)
        c.workers[worker_id] = subprocess.Popen(
            [sys.executable, "manage.py", "runsfu", "--workers", "1", "--worker-id", worker_id],
            cwd=ROOT,
            env=c.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield c
    for proc in c.workers.values():
        proc.terminate()
    for proc in c.workers.values():
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    c.stop()


async def test_killed_worker_hands_its_room_to_the_other(cluster, redis_server) -> None:
    leases = RedisLeases(redis_server.url)
    deadline = asyncio.get_running_loop().time() + 60
    while len(await leases.live_workers()) < 2:
        assert asyncio.get_running_loop().time() < deadline, "the two runsfu workers did not register"
        await asyncio.sleep(0.2)

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
