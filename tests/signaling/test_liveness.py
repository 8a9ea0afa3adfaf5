"""Deadline-based liveness, batched heartbeats and the janitor lease, on both presence stores.

Time is the test's (``fake_clock``); Redis is this session's private server (``redis_server``), each test under its
own key prefix. Nothing here waits for real time to pass.
"""

from __future__ import annotations

import uuid
import weakref

import pytest
import redis as sync_redis

from django_levelchat.signaling import janitor, liveness, presence
from django_levelchat.signaling.presence import RedisPresence
from tests.signaling.conftest import entry

#: What redis-py and the test itself send besides the sweep (connection set-up, the statistics).
SETUP_COMMANDS = {
    "cmdstat_client|setinfo",
    "cmdstat_hello",
    "cmdstat_config|resetstat",
    "cmdstat_info",
    "cmdstat_select",
}


async def test_expired_reads_only_the_silent_across_rooms(store, fake_clock):
    for r in range(50):
        for p in range(3):
            await store.add(f"RM_{r}", entry(f"PA_{r}_{p}"))
    fake_clock.advance(5)
    for r in range(50):
        if r != 7:
            await store.touch(f"RM_{r}", f"PA_{r}_0")
            await store.touch(f"RM_{r}", f"PA_{r}_1")
    await store.touch("RM_7", "PA_7_2")
    silent = {(f"RM_{r}", f"PA_{r}_2") for r in range(50) if r != 7} | {("RM_7", "PA_7_0"), ("RM_7", "PA_7_1")}
    assert set(await store.expired(fake_clock.now(), 1)) == silent
    assert await store.expired(fake_clock.now(), 10) == []
    for room, pid in silent:
        await store.remove(room, pid)
    assert await store.expired(fake_clock.now(), 1) == [], "removed sessions leave the index"
    assert await store.anyone()
    assert await store.present([("RM_3", "PA_3_0"), ("RM_3", "PA_3_2")]) == [True, False]


async def test_a_session_heard_after_the_sweep_read_it_is_not_removed(store, fake_clock):
    """The janitor reads the silent sessions, then removes them one by one: one that resumed in between (heard
    after the read) must keep its new socket, while a removal without the condition still removes."""
    await store.add("RM_r", entry("PA_resumed"))
    await store.add("RM_r", entry("PA_silent"))
    fake_clock.advance(20)
    cutoff = fake_clock.now() - 12
    assert set(await store.expired(fake_clock.now(), 12)) == {("RM_r", "PA_resumed"), ("RM_r", "PA_silent")}
    assert await store.touch("RM_r", "PA_resumed")  # a resume lands between the sweep's read and its removal
    assert await store.remove("RM_r", "PA_resumed", silent_before=cutoff) is None
    assert (await store.remove("RM_r", "PA_silent", silent_before=cutoff) or {}).get("id") == "PA_silent"
    assert [e["id"] for e in await store.roster("RM_r")] == ["PA_resumed"]
    assert (await store.remove("RM_r", "PA_resumed") or {}).get("id") == "PA_resumed"


async def test_a_process_behind_keeps_its_sessions_a_gone_one_loses_them(store, fake_clock):
    """Silence is judged on the owning process's progress: a process whose event loop stalled (its mark stopped
    moving) has not read its sockets' pings yet, so its sessions stay until it catches up, or until it made no
    progress for a whole timeout (then it is gone, and its sessions stay resumable for the crash window after its
    last mark, while all its clients reconnect at once: G14). A healthy process's silent session and an entry
    without an owner go after the timeout, as before."""
    for pid, owner in [("PA_late", "proc-late"), ("PA_quiet", "proc-ok"), ("PA_old", None)]:
        await store.add("RM_p", {**entry(pid), "owner": owner} if owner else entry(pid))
    start = fake_clock.now()
    await store.touch_many({}, ("proc-late", start + 2))  # then its loop stalls
    fake_clock.advance(13)
    await store.touch_many({}, ("proc-ok", fake_clock.now()))
    assert set(await store.expired(fake_clock.now(), 12)) == {("RM_p", "PA_quiet"), ("RM_p", "PA_old")}
    for pid in ("PA_quiet", "PA_old"):
        await store.remove("RM_p", pid)
    fake_clock.advance(1)
    assert await store.expired(fake_clock.now(), 12) == [], "proc-late is behind, not gone"
    fake_clock.advance(1)  # proc-late made no progress for 12 s: gone, its clients reconnecting
    assert await store.expired(fake_clock.now(), 12) == [], "a dead process's session stays resumable"
    fake_clock.advance(presence.CRASH_WINDOW * 12 - 13.001)  # just inside the crash window after its mark
    assert await store.expired(fake_clock.now(), 12) == []
    fake_clock.advance(0.002)
    assert await store.expired(fake_clock.now(), 12) == [("RM_p", "PA_late")]


def test_the_crash_window_leaves_ghosts_inside_the_presence_ttl():
    """R06: a dead process's ghosts leave within 30 s at the defaults: the crash window after its last mark, plus
    a sweep interval before that mark and a janitor lease taken over from the dead process, and a sweep."""
    timeout, sweep = 12.0, 1.0
    assert presence.CRASH_WINDOW * timeout + sweep + janitor.lease_ttl() + sweep <= 30
    beat = mark = 100.0
    assert not presence.overdue(beat, mark, mark + 17.9, timeout)
    assert presence.overdue(beat, mark, mark + 18.0, timeout)
    assert not presence.overdue(beat, mark, mark + 11.0, timeout), "alive: judged on its own progress"
    assert presence.overdue(beat, None, beat + 12.1, timeout), "no mark: gone at the timeout"


async def test_batched_heartbeats_keep_sessions_and_report_lost_entries(store, fake_clock):
    restored: list[str] = []

    class Owner:
        def __init__(self, pid: str) -> None:
            self.pid = pid

        async def restore_presence(self) -> None:
            restored.append(self.pid)

    owners = [Owner("PA_a"), Owner("PA_b"), Owner("PA_c")]
    for owner in owners:
        await store.add("RM_x", entry(owner.pid))
        liveness.joined("RM_x", owner.pid, owner)
    try:
        fake_clock.advance(8)
        liveness.heard("RM_x", "PA_a", fake_clock.now())
        liveness.heard("RM_x", "PA_b", fake_clock.now())
        await store.remove("RM_x", "PA_b")  # gone behind its owner's back
        assert await liveness.flush() == 2
        assert await liveness.flush() == 0, "a flush writes each mark once"
        await _settle()
        assert restored == ["PA_b"]
        assert await store.expired(fake_clock.now(), 5) == [("RM_x", "PA_c")]
        assert await store.present([("RM_x", "PA_b")]) == [False], "a heartbeat never re-creates an entry"
    finally:
        for owner in owners:
            liveness.left("RM_x", owner.pid, owner)


async def test_redis_sweep_cost_does_not_grow_with_rooms(redis_server, fake_clock, monkeypatch, settings):
    """The sweep of 400 rooms with nothing expired issues the same few commands as a sweep of one."""
    store = RedisPresence(redis_server.url, prefix=f"t{uuid.uuid4().hex[:10]}")
    monkeypatch.setattr(janitor, "get_presence", lambda: store)
    monkeypatch.setattr(liveness, "get_presence", lambda: store)
    admin = sync_redis.Redis.from_url(redis_server.url)

    async def commands_per_sweep(rooms: int) -> int:
        for r in range(rooms):
            await store.add(f"RM_{rooms}_{r}", entry(f"PA_{r}"))
        admin.config_resetstat()
        await janitor.sweep_presence(fake_clock.now())
        stats = admin.info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if k not in SETUP_COMMANDS)

    one, many = await commands_per_sweep(1), await commands_per_sweep(400)
    admin.close()
    assert many == one <= 4, "ZRANGEBYSCORE (silent), ZREMRANGEBYSCORE + ZRANGE (speaking rooms), ZCARD"


@pytest.mark.django_db(transaction=True)
async def test_lease_one_sweeper_and_takeover(redis_server, fake_clock, monkeypatch, levelchat_settings):
    """Two janitors on one Redis (as two processes would have): exactly one sweeps at a time; when it stops
    renewing (its process died), the other takes over once the lease lapses."""
    levelchat_settings(SWEEP_INTERVAL=1.0)
    monkeypatch.setattr(liveness, "_owners", weakref.WeakValueDictionary())  # no sockets of earlier tests
    store = RedisPresence(redis_server.url, prefix=f"t{uuid.uuid4().hex[:10]}")
    monkeypatch.setattr(janitor, "get_presence", lambda: store)
    monkeypatch.setattr(liveness, "get_presence", lambda: store)
    await store.add("RM_1", entry("PA_1"))  # something to watch
    first, second = janitor.Janitor("process-1"), janitor.Janitor("process-2")
    for _ in range(6):
        assert await first.tick(fake_clock.now())
        assert await second.tick(fake_clock.now()), "the other keeps watching, ready to take over"
        assert (first.holding, second.holding) == (True, False)
        fake_clock.advance(1.0)
    await store.touch("RM_1", "PA_1")
    assert (first.sweeps, second.sweeps) == (6, 0)

    fake_clock.advance(janitor.lease_ttl() - 1.5)  # process-1 died after its last renewal, 1 s ago
    await second.tick(fake_clock.now())
    assert not second.holding, "not before the lease lapses"
    fake_clock.advance(1.0)
    await second.tick(fake_clock.now())
    assert second.holding and second.sweeps == 1
    await first.tick(fake_clock.now())
    assert not first.holding, "a late renewal of the old holder does not take the lease back"

    await store.remove("RM_1", "PA_1")
    await second.tick(fake_clock.now())  # starts a database sweep (its own task): no active room either
    assert second.db_task is not None
    await second.db_task
    assert not await second.tick(fake_clock.now()), "nothing left: the holder lets go and stops"
    assert not await store.lease_held(janitor.LEASE, fake_clock.now())


async def test_silent_participant_removed_with_redis_presence(client_for, levelchat_settings, fake_clock, redis_server):
    """The consumer's heartbeats through the batch and the deadline index: the silent one leaves, once."""
    levelchat_settings(
        PING_TIMEOUT=9.0, SWEEP_INTERVAL=3600, REDIS_URL=redis_server.url, REDIS_PREFIX=f"t{uuid.uuid4().hex[:10]}"
    )
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    fake_clock.advance(4)
    await alice.send({"type": "ping"})
    await alice.recv("pong")
    fake_clock.advance(1)
    await alice.send({"type": "ping"})  # within PING_TIMEOUT/3 of the last mark: not written again
    await alice.recv("pong")
    fake_clock.advance(5)  # +10 s: bob silent past PING_TIMEOUT, alice last written at +4 s
    await janitor.sweep_presence(fake_clock.now())
    left = await alice.recv("participant-left")
    assert left["participant"]["id"] == bob.id and left["reason"] == "connection_lost"
    close = await bob.closed()
    assert (close["code"], close["reason"]) == (4001, "ping_timeout")
    await janitor.sweep_presence(fake_clock.now())
    await alice.send({"type": "ping"})
    frames = []
    while (frame := await alice.recv()).get("type") != "pong":
        frames.append(frame)
    assert not [f for f in frames if f["type"] == "participant-left"], "exactly one leave"
    await alice.disconnect()


async def _settle() -> None:
    """Let tasks spawned by a flush run (they need no time, only turns of the loop)."""
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0)
