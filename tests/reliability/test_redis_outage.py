"""R01/R02: Redis dies for a few seconds and comes back empty. No socket ends with 1011, sends during the outage
get ``unavailable``, rosters converge and messages flow again, new joins work — without restarting daphne."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from django_levelchat.client.signaling import ClosedError
from django_levelchat.tokens import issue_token
from tests.livecluster import Cluster, WSClient
from tests.services import PostgresDatabase, RedisServer, postgres_missing_reason, redis_missing_reason

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


#: What a wait for a condition allows on a loaded 2-core machine; the figures printed are what the goals judge.
WAIT_S = 30
CANDIDATE = {"candidate": "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host", "sdpMid": "0"}


@pytest.fixture
def restart_cluster(tmp_path):
    """Two daphne processes on a Redis of their own, with a resume window longer than the outage."""
    if reason := redis_missing_reason():
        pytest.skip(reason)
    server = RedisServer().start()
    # PostgreSQL when there is one, as deployed: two processes writing one SQLite file lock each other out.
    database = None if postgres_missing_reason() else PostgresDatabase("levelchat_outage")
    cluster = Cluster(tmp_path, redis_url=server.url, database_url=database.url if database else None)
    # A 2 s reorder window: this test checks that ordering works with the counter Redis lost, not how the window
    # compares with a loaded machine's stalls (class 8's test does that with the default window).
    cluster.env["LEVELCHAT_TEST_OVERRIDES"] = json.dumps(
        {"PING_INTERVAL": 2, "PING_TIMEOUT": 30, "CHAT_RATE": 1000, "CHAT_BURST": 1000, "SEQ_REORDER_WINDOW": 2}
    )
    cluster.manage("migrate", "--verbosity", "0")
    cluster.a, cluster.b = cluster.start(), cluster.start()
    cluster.redis = server
    yield cluster
    cluster.stop()
    server.stop()
    if database is not None:
        database.drop()


async def _until(condition, what: str, timeout: float = WAIT_S) -> float:
    """Seconds until the async ``condition()`` holds (polled); fails after ``timeout``."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def _roster(client: WSClient) -> set[str]:
    return {p["id"] for p in (await client.request({"type": "resync"}, timeout=WAIT_S))["roster"]}


async def _in_seq_order(client: WSClient, chats: int, last: int) -> list[int]:
    """Read ``chats`` chat-messages; return every seq that was not last+1 (where a §7 client would resync)."""
    gaps, got = [], 0
    async with asyncio.timeout(WAIT_S * 4):
        while got < chats:
            frame = await client.recv(timeout=WAIT_S)
            if frame["type"] == "resync":
                last = frame["seq"]
            elif (seq := frame.get("seq")) is not None:
                if seq != last + 1:
                    gaps.append(seq)
                last = max(last, seq)
                got += frame["type"] == "chat-message"
    return gaps


async def _twin_outcome(client: WSClient) -> str:
    try:
        frame = await client.recv("welcome", timeout=WAIT_S)
    except ClosedError as exc:
        return f"close:{exc.close.code}"
    client.welcome, client.id = frame, frame["you"]["id"]
    tail = await client.collect(1.0)  # a welcome can still be superseded by the other join a moment later
    return "close:4409" if any(f["type"] == "closing" and f["code"] == 4409 for f in tail) else "welcome"


async def test_redis_killed_and_restarted_empty_mid_call(restart_cluster):
    """G11/R01/R02 on the current code paths: ordered delivery, the atomic identity claim and held signals all live
    in Redis, which comes back empty. No socket ends 1011; rosters are right again and clients resume."""
    cluster = restart_cluster
    room = cluster.create_room()
    alice = WSClient(cluster.a, issue_token(room, "alice"))
    bob = WSClient(cluster.b, issue_token(room, "bob"))
    carol = WSClient(cluster.b, issue_token(room, "carol"))
    for client in (alice, bob, carol):
        await client.join(timeout=WAIT_S)
    await _until(lambda: _roster_is(alice, {bob.id, carol.id}), "roster before the outage")
    carol_resume = carol.welcome["resume"]

    cluster.redis.kill()
    killed_at = time.monotonic()
    await alice.send({"type": "chat", "id": "c1", "text": "anyone?"})
    assert (await alice.recv("error", timeout=WAIT_S))["code"] == "unavailable", "no silent loss"
    carol.abort()  # carol's network drops while Redis is away: she must be able to resume afterwards
    await alice.ping_for(max(0.0, 3 - (time.monotonic() - killed_at)))
    cluster.redis.start()  # empty: rosters, sequence numbers, identity claims and held signals are gone
    restored_at = time.monotonic()

    # The survivors keep pinging (as the SDK does) and get a server-initiated resync; the roster is right again.
    async def survivors_agree() -> bool:
        frames = await asyncio.gather(alice.ping_for(0.5), bob.ping_for(0.5))
        assert all(f["type"] != "closing" for fs in frames for f in fs), "sockets stay open"
        return await _roster_is(alice, {bob.id}) and await _roster_is(bob, {alice.id})

    roster_s = await _until(survivors_agree, "survivors' rosters after Redis returned")

    again = WSClient(cluster.a, carol.token)
    welcome = await again.join(timeout=WAIT_S, resume=carol_resume)
    resume_s = time.monotonic() - restored_at
    assert welcome["you"]["id"] == carol.id, "carol resumed her session"
    assert {p["id"] for p in welcome["roster"]} == {alice.id, bob.id}
    await _until(lambda: _roster_is(bob, {alice.id, carol.id}), "carol back in bob's roster")

    # Ordered delivery with a fresh seq counter: 3 x 20 chats from both processes reach everyone in order.
    readers = [asyncio.create_task(_in_seq_order(c, 60, (await _resync_seq(c)))) for c in (alice, bob, again)]
    await asyncio.gather(*(_chats(c, 20) for c in (alice, bob, again)))
    gaps = await asyncio.gather(*readers)
    assert gaps == [[], [], []], gaps

    # A signal across processes, and one held for carol while she reconnects (the held queue is in Redis).
    assert (await alice.request({"type": "signal", "to": carol.id, "candidate": CANDIDATE}, WAIT_S))["type"] == "ack"
    assert (await again.recv("signal", timeout=WAIT_S))["from"] == alice.id
    second_resume = again.welcome["resume"]
    again.abort()
    await _until(lambda: _reconnecting(bob, carol.id), "carol reconnecting")
    assert (await alice.request({"type": "signal", "to": carol.id, "candidate": CANDIDATE}, WAIT_S))["type"] == "ack"
    third = WSClient(cluster.b, carol.token)
    assert (await third.join(timeout=WAIT_S, resume=second_resume))["you"]["id"] == carol.id
    assert (await third.recv("signal", timeout=WAIT_S))["from"] == alice.id, "the held signal survived"

    # The identity claim works on the new Redis: two joins of one identity on both processes, one wins.
    token = issue_token(room, "dave")
    twins = [WSClient(cluster.a, token), WSClient(cluster.b, token)]
    await asyncio.gather(*(t.connect() for t in twins))
    await asyncio.gather(*(t.send({"type": "hello", "protocol": 1}) for t in twins))
    assert sorted(await asyncio.gather(*(_twin_outcome(t) for t in twins))) == ["close:4409", "welcome"]
    roster = (await alice.request({"type": "resync"}, timeout=WAIT_S))["roster"]
    assert [p["identity"] for p in roster].count("dave") == 1, roster
    print(
        f"\nRedis restarted empty: rosters right {roster_s:.2f} s after it returned, carol resumed at {resume_s:.2f} s"
        f" (load {os.getloadavg()[0]:.1f})"
    )
    for client in (alice, bob, third, *twins):
        await client.close()
    for port in (cluster.a, cluster.b):
        log = cluster.log(port)
        for bad in ("1011", "Exception inside application", "Task exception was never retrieved"):
            assert bad not in log, log[-4000:]


async def _roster_is(client: WSClient, ids: set[str]) -> bool:
    return await _roster(client) == ids


async def _resync_seq(client: WSClient) -> int:
    return int((await client.request({"type": "resync"}, timeout=WAIT_S))["seq"])


async def _chats(client: WSClient, n: int) -> None:
    for i in range(n):
        await client.send({"type": "chat", "text": f"{client.id} {i}"})
        await asyncio.sleep(0.02)


async def _reconnecting(observer: WSClient, pid: str) -> bool:
    roster = (await observer.request({"type": "resync"}, timeout=WAIT_S))["roster"]
    return any(p["id"] == pid and p.get("state") == "reconnecting" for p in roster)


async def _timed_join(port: int, room: str, identity: str) -> tuple[float, WSClient]:
    client = WSClient(port, issue_token(room, identity))
    started = time.monotonic()
    await client.join(timeout=WAIT_S)
    return time.monotonic() - started, client


@pytest.mark.slow
async def test_redis_paused_three_seconds(restart_cluster):
    """G12/R03: Redis stops answering for 3 s (SIGSTOP) and goes on. Nothing closes 1011, joins made during the
    pause complete or are told to retry, and join latency is back to its baseline within 5 s of SIGCONT."""
    cluster = restart_cluster
    room = cluster.create_room(max_participants=1000)
    clients: list[WSClient] = []
    baseline = []
    for i in range(10):
        took, client = await _timed_join(cluster.a if i % 2 else cluster.b, room, f"base{i}")
        baseline.append(took)
        clients.append(client)
    bound = max(sorted(baseline)[-1], 0.05)  # the slowest of 10: a p90-ish baseline on this machine

    cluster.redis.pause()
    paused_joins = [asyncio.create_task(_timed_join(cluster.a, room, f"paused{i}")) for i in range(4)]
    await asyncio.sleep(3)  # the fault itself lasts 3 s (not a wait for a condition)
    cluster.redis.resume()
    resumed_at = time.monotonic()
    outcomes = await asyncio.gather(*paused_joins, return_exceptions=True)
    for outcome in outcomes:  # a join that met the pause either completed or was closed retryable (4013)
        if isinstance(outcome, BaseException):
            assert isinstance(outcome, ClosedError) and outcome.close.retryable, outcome
        else:
            clients.append(outcome[1])

    recovered_s = None
    for i in range(200):
        took, client = await _timed_join(cluster.a if i % 2 else cluster.b, room, f"after{i}")
        clients.append(client)
        if took <= 2 * bound:
            recovered_s = time.monotonic() - resumed_at
            break
    assert recovered_s is not None, "joins never got back to the baseline"
    for client in clients[:10]:
        assert (await client.request({"type": "ping"}, timeout=WAIT_S))["type"] == "pong", "sockets stayed open"
    print(
        f"\nRedis paused 3 s: baseline join {1000 * bound:.0f} ms (slowest of 10), a join within 2x of it again"
        f" {recovered_s:.2f} s after SIGCONT; joins during the pause: "
        f"{sum(not isinstance(o, BaseException) for o in outcomes)}/4 completed (load {os.getloadavg()[0]:.1f})"
    )
    assert recovered_s <= 5 + WAIT_S  # the goal is 5 s; the printed figure is what docs/reliability.md records
    for client in clients:
        await client.close()
    for port in (cluster.a, cluster.b):
        log = cluster.log(port)
        for bad in ("1011", "Exception inside application", "Task exception was never retrieved"):
            assert bad not in log, log[-4000:]
