"""R01/R02: Redis dies for a few seconds and comes back empty. No socket ends with 1011, sends during the outage
get ``unavailable``, rosters converge and messages flow again, new joins work — without restarting daphne."""

from __future__ import annotations

import asyncio
import time

import pytest

from django_levelchat.tokens import issue_token
from tests.livecluster import Cluster, WSClient
from tests.services import RedisServer, redis_missing_reason

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]


@pytest.fixture
def outage_cluster(tmp_path):
    if reason := redis_missing_reason():
        pytest.skip(reason)
    server = RedisServer().start()
    cluster = Cluster(tmp_path, redis_url=server.url)
    cluster.manage("migrate", "--verbosity", "0")
    cluster.a, cluster.b = cluster.start(), cluster.start()
    cluster.redis = server
    yield cluster
    cluster.stop()
    server.stop()


async def test_redis_outage_and_empty_restart(outage_cluster):
    cluster = outage_cluster
    room = cluster.create_room()
    alice = WSClient(cluster.a, issue_token(room, "alice"))
    await alice.join()
    bob = WSClient(cluster.b, issue_token(room, "bob"))
    await bob.join()
    await alice.collect(0.3)

    cluster.redis.kill()
    await alice.send({"type": "chat", "id": "c1", "text": "anyone?"})
    reply = await alice.recv("error", timeout=10)
    assert reply["code"] == "unavailable"
    await asyncio.sleep(1)
    cluster.redis.start()  # back, and empty: rosters, groups and sequence numbers are gone

    restored_at = time.monotonic()
    frames_a, frames_b = await asyncio.gather(alice.ping_for(4), bob.ping_for(4))
    assert all(f["type"] != "closing" for f in frames_a + frames_b), "sockets stay open"
    assert any(f["type"] == "resync" for f in frames_a) and any(f["type"] == "resync" for f in frames_b)

    await alice.send({"type": "resync", "id": "s"})
    snapshot = await alice.recv("resync")
    assert [p["id"] for p in snapshot["roster"]] == [bob.id], "the roster converged"
    await alice.send({"type": "chat", "text": "back"})
    assert (await bob.recv("chat-message"))["text"] == "back"
    carol = WSClient(cluster.a, issue_token(room, "carol"))
    welcome = await carol.join()
    assert {p["id"] for p in welcome["roster"]} == {alice.id, bob.id}
    assert time.monotonic() - restored_at < 15
    for client in (alice, bob, carol):
        await client.close()
    for port in (cluster.a, cluster.b):
        log = cluster.log(port)
        assert "1011" not in log and "Exception inside application" not in log, log[-4000:]
