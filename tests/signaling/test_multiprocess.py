"""Two (or three) daphne processes sharing Redis and PostgreSQL, driven by real WebSocket clients."""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets

from django_levelchat.tokens import issue_token
from tests.livecluster import Cluster, WSClient
from tests.services import PostgresDatabase, RedisServer, postgres_missing_reason, redis_missing_reason

pytestmark = [pytest.mark.redis, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The deployment shape: daphne processes sharing Redis (channel layer + presence) and PostgreSQL. The Redis is
    this module's own: the janitor lease must not be held by another suite's process on the session's Redis."""
    if reason := postgres_missing_reason() or redis_missing_reason():
        pytest.skip(reason)
    redis_server = RedisServer().start()
    database = PostgresDatabase("levelchat_multiprocess")
    c = Cluster(tmp_path_factory.mktemp("cluster"), redis_url=redis_server.url, database_url=database.url)
    c.redis_url = redis_server.url
    c.manage("migrate", "--verbosity", "0")
    c.a, c.b = c.start(), c.start()
    yield c
    c.stop()
    database.drop()
    redis_server.stop()


def token(room: str, identity: str, **kwargs) -> str:
    return issue_token(room, identity, **kwargs)


async def test_roster_relay_and_chat_across_processes(cluster):
    room, other = cluster.create_room(), cluster.create_room()
    alice = WSClient(cluster.a, token(room, "alice"))
    await alice.join()
    bob = WSClient(cluster.b, token(room, "bob"))
    welcome = await bob.join()
    assert [p["identity"] for p in welcome["roster"]] == ["alice"]
    assert (await alice.recv("participant-joined"))["participant"]["id"] == bob.id
    carol = WSClient(cluster.b, token(other, "carol"))
    await carol.join()

    cand = {"candidate": "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    await alice.send({"type": "signal", "to": bob.id, "from": carol.id, "candidate": cand})
    relayed = await bob.recv("signal")
    assert relayed["from"] == alice.id and relayed["candidate"]["candidate"] == cand["candidate"]
    await alice.send({"type": "signal", "id": "x", "to": carol.id, "candidate": cand})
    assert (await alice.recv("error"))["code"] == "unknown_participant"

    await bob.send({"type": "chat", "text": "hi from B"})
    assert (await alice.recv("chat-message"))["text"] == "hi from B"
    assert [f for f in await carol.collect(0.5) if f["type"] in ("chat-message", "signal")] == []
    for c in (alice, bob, carol):
        await c.close()


async def test_seq_is_per_room_and_monotonic_across_processes(cluster):
    room = cluster.create_room()
    alice = WSClient(cluster.a, token(room, "alice"))
    await alice.join()
    bob = WSClient(cluster.b, token(room, "bob"))
    await bob.join()
    for i in range(10):
        await (alice if i % 2 else bob).send({"type": "chat", "text": f"m{i}"})
    frames = [f for f in await alice.collect(1.0) if "seq" in f]
    seqs = [f["seq"] for f in frames]
    assert sorted(seqs) == list(range(seqs[0], seqs[0] + len(seqs))), "no gap, no duplicate"
    await alice.close()
    await bob.close()


async def test_duplicate_identity_across_processes(cluster):
    room = cluster.create_room()
    first = WSClient(cluster.a, token(room, "alice"))
    await first.join()
    watcher = WSClient(cluster.a, token(room, "watcher"))
    await watcher.join()
    second = WSClient(cluster.b, token(room, "alice"))
    await second.join()
    assert await first.closed() == (4409, "replaced")
    frames = [f for f in await watcher.collect(1.0) if f["type"].startswith("participant-")]
    assert [(f["type"], f.get("reason")) for f in frames] == [
        ("participant-left", "replaced"),
        ("participant-joined", None),
    ]
    await second.close()
    await watcher.close()


async def test_resume_on_the_other_process(cluster):
    room = cluster.create_room()
    alice = WSClient(cluster.a, token(room, "alice"))
    await alice.join()
    bob = WSClient(cluster.b, token(room, "bob"))
    await bob.join()
    await alice.collect(0.3)
    bob.abort()
    again = WSClient(cluster.a, bob.token)
    welcome = await again.join(resume={"session": bob.id, "credential": bob.welcome["resume"]["credential"]})
    assert welcome["you"]["id"] == bob.id
    assert [p["id"] for p in welcome["roster"]] == [alice.id]
    events = [f["type"] for f in await alice.ping_for(1.5)]
    assert "participant-left" not in events and "participant-joined" not in events
    await again.close()
    await alice.close()


async def test_killed_process_ghost_leaves_once(cluster):
    room = cluster.create_room()
    doomed = cluster.start()
    alice = WSClient(cluster.a, token(room, "alice"))
    await alice.join()
    dave = WSClient(doomed, token(room, "dave"))
    await dave.join()
    assert (await alice.recv("participant-joined"))["participant"]["id"] == dave.id
    killed_at = time.monotonic()
    cluster.kill(doomed)
    frames = await alice.ping_for(8)
    lefts = [f for f in frames if f["type"] == "participant-left"]
    assert len(lefts) == 1, frames
    assert lefts[0]["participant"]["id"] == dave.id and lefts[0]["reason"] == "connection_lost"
    assert time.monotonic() - killed_at < 15
    await alice.close()


async def test_killed_process_clients_resume_on_the_survivor(cluster):
    """G13/R06: one of two daphne processes is killed. A client that reconnects to the survivor resumes its session
    (same id, no leave/join seen by others); one that never comes back leaves exactly once, connection_lost."""
    room = cluster.create_room()
    doomed = cluster.start()
    alice = WSClient(cluster.a, token(room, "alice"))
    await alice.join(timeout=30)
    dave, erin = WSClient(doomed, token(room, "dave")), WSClient(doomed, token(room, "erin"))
    await dave.join(timeout=30)
    await erin.join(timeout=30)
    joined = {(await alice.recv("participant-joined", timeout=30))["participant"]["id"] for _ in range(2)}
    assert joined == {dave.id, erin.id}
    killed_at = time.monotonic()
    cluster.kill(doomed)
    again = WSClient(cluster.a, dave.token)
    welcome = await again.join(
        timeout=30, resume={"session": dave.id, "credential": dave.welcome["resume"]["credential"]}
    )
    resumed_s = time.monotonic() - killed_at
    assert welcome["you"]["id"] == dave.id

    async def ghost_leaves() -> tuple[float, list[dict]]:
        frames = []
        async with asyncio.timeout(60):
            while not any(f["type"] == "participant-left" for f in frames):
                await alice.send({"type": "ping"})
                frames += await alice.collect(0.5)
        left_s = time.monotonic() - killed_at
        frames += await alice.ping_for(3)  # and nothing more after it
        return left_s, frames

    keepalive = asyncio.create_task(again.ping_for(600))
    left_s, frames = await ghost_leaves()
    keepalive.cancel()
    lefts = [f for f in frames if f["type"] == "participant-left"]
    assert [(f["participant"]["id"], f["reason"]) for f in lefts] == [(erin.id, "connection_lost")], frames
    assert not any(f["type"] == "participant-joined" for f in frames), "dave's resume is not a new join"
    print(f"\nprocess killed: resumed on the survivor {resumed_s:.2f} s after, the ghost left once at {left_s:.1f} s")
    await again.close()
    await alice.close()


async def test_end_room_reaches_every_process(cluster):
    room = cluster.create_room()
    host = WSClient(cluster.a, token(room, "host", role="host"))
    await host.join()
    bob = WSClient(cluster.b, token(room, "bob"))
    await bob.join()
    await host.send({"type": "end-room", "id": "e"})
    assert (await bob.recv("room-ended"))["reason"] == "ended_by_host"
    assert await bob.closed() == (4403, "room_ended")
    late = WSClient(cluster.b, token(room, "late"))
    await late.connect()
    await late.send({"type": "hello", "protocol": 1})
    assert await late.closed() == (4403, "room_ended")


async def test_close_codes_over_real_sockets(cluster):
    room = cluster.create_room()
    bad = WSClient(cluster.a, token(room, "x")[:-3] + "abc")
    await bad.connect()
    assert await bad.closed() == (4401, "token_invalid")
    evil = WSClient(cluster.a, token(room, "x"), origin="https://evil.example")
    with pytest.raises(websockets.InvalidStatus) as exc:
        await evil.connect()
    assert exc.value.response.status_code == 403
    alice = WSClient(cluster.b, token(room, "alice"))
    await alice.join()
    await alice.ws.send("{not json")
    assert (await alice.recv("error"))["code"] == "bad_json"
    await alice.ws.send(b"\x00binary")
    assert await alice.closed() == (4400, "binary_frame")


async def test_t11_tokens_never_reach_the_logs(cluster):
    room = cluster.create_room()
    by_protocol = WSClient(cluster.a, token(room, "p"))
    await by_protocol.join()
    by_query = WSClient(cluster.a, None)
    query_token = token(room, "q")
    by_query.ws = await websockets.connect(
        f"ws://127.0.0.1:{cluster.a}/levelchat/v1/signal?token={query_token}",
        subprotocols=["levelchat.v1"],
        origin=by_query.origin,
    )
    await by_query.send({"type": "hello", "protocol": 1})
    await by_query.recv("welcome")
    await by_protocol.close()
    await by_query.close()
    log = cluster.log(cluster.a)
    for secret in (by_protocol.token.rsplit(".", 1)[1], query_token.rsplit(".", 1)[1]):
        assert secret not in log


async def test_no_1011_in_server_logs(cluster):
    await asyncio.sleep(0)
    for port in (cluster.a, cluster.b):
        log = cluster.log(port)
        assert "1011" not in log and "Traceback" not in log, log[-3000:]


async def test_stale_disconnect_cannot_overwrite_a_resumed_session(cluster):
    """The old socket's 'reconnecting' mark may land after the resume on another process: it must not win."""
    from django_levelchat.signaling.presence import RedisPresence

    room = cluster.create_room()
    bob = WSClient(cluster.a, token(room, "bob"))
    await bob.join()
    presence = RedisPresence(cluster.redis_url)
    entry = await presence.get(room, bob.id)
    old_channel = entry["channel"]
    bob.abort()
    again = WSClient(cluster.b, bob.token)
    await again.join(resume={"session": bob.id, "credential": bob.welcome["resume"]["credential"]})
    late = await presence.update_if(room, bob.id, {"channel": old_channel}, {"state": "reconnecting"})
    assert late is None
    current = await presence.get(room, bob.id)
    assert current["state"] == "connected" and current["channel"] != old_channel
    await again.close()


async def test_one_janitor_lease_and_takeover_when_its_process_dies(cluster):
    """One janitor across processes: the lease names one live process; when that process is killed another takes
    the lease over and the dead process's socket leaves exactly once. Last in this module: it kills a process."""
    import redis

    room = cluster.create_room()
    cluster.start()  # a third process, so that two remain
    by_pid = {proc.pid: port for port, proc in cluster.procs.items()}
    clients = {}
    for i, port in enumerate(by_pid.values()):
        clients[port] = WSClient(port, token(room, f"p{i}"))
        await clients[port].join()
    admin = redis.Redis.from_url(cluster.redis_url, decode_responses=True)

    async def holder_port(exclude: int | None = None) -> int:
        """Wait (pinging every client, so none goes silent) until a live process other than ``exclude`` holds."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            value = admin.get("levelchat:lease:janitor") or ""
            port = by_pid.get(int(value.split("-")[0] or 0)) if value else None
            if port is not None and port != exclude and port in cluster.procs:
                return port
            await asyncio.gather(*(c.ping_for(0.5) for p, c in clients.items() if p in cluster.procs))
        raise AssertionError(f"no live process holds the janitor lease: {admin.get('levelchat:lease:janitor')!r}")

    holder = await holder_port()
    dead = clients.pop(holder)
    cluster.kill(holder)
    killed_at = time.monotonic()
    survivor = await holder_port(exclude=holder)
    assert survivor != holder
    observer = next(iter(clients.values()))
    lefts: list[dict] = []
    while time.monotonic() - killed_at < 20 and not lefts:
        frames = await asyncio.gather(*(c.ping_for(0.5) for c in clients.values()))
        lefts = [f for f in frames[list(clients.values()).index(observer)] if f["type"] == "participant-left"]
    frames = await observer.ping_for(1.5)
    lefts += [f for f in frames if f["type"] == "participant-left"]
    assert [f["participant"]["id"] for f in lefts] == [dead.id], "the dead process's socket leaves exactly once"
    assert time.monotonic() - killed_at < 15
    admin.close()
    for client in clients.values():
        await client.close()
