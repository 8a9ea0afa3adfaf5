"""A fresh join's admission (revocation, room state, room size, identity claim) is one atomic presence step, the
same on both stores; on Redis it is one script, so the roster never travels to the joining process."""

from __future__ import annotations

import uuid

import pytest

from django_levelchat.signaling.presence import AdmissionRequest, MemoryPresence, RedisPresence


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryPresence()
    server = request.getfixturevalue("redis_server")
    return RedisPresence(server.url, prefix=f"t{uuid.uuid4().hex[:10]}")


def ask(identity: str, pid: str, **changes) -> AdmissionRequest:
    fields = {"issued_at": 100.0, "joinable": True, "hidden": False, "max_participants": 3, "replace": True}
    return AdmissionRequest(identity=identity, pid=pid, **{**fields, **changes})


async def join(store, room: str, identity: str, pid: str, *, hidden: bool = False) -> None:
    admission = await store.admit(room, ask(identity, pid, hidden=hidden))
    assert admission.outcome == "ok"
    entry = {"id": pid, "identity": identity, "name": identity, "tracks": [], "hidden": hidden, "channel": "c"}
    assert await store.add_if_claimed(room, entry)


async def test_admission_outcomes(store):
    room = "RM_a"
    await join(store, room, "alice", "PA_1")
    await join(store, room, "rec", "PA_2", hidden=True)
    await join(store, room, "bob", "PA_3")

    first = await store.admit(room, ask("carol", "PA_4"))
    assert (first.outcome, first.others, first.previous, first.stale) == ("ok", 2, None, ())
    await store.add_if_claimed(room, {"id": "PA_4", "identity": "carol", "name": "", "tracks": [], "hidden": False})

    full = await store.admit(room, ask("dave", "PA_5"))
    assert (full.outcome, full.others) == ("full", 3), "hidden members do not count"
    assert (await store.admit(room, ask("rec2", "PA_6", hidden=True))).outcome == "ok", "a hidden join is never full"

    again = await store.admit(room, ask("alice", "PA_7"))
    assert (again.outcome, again.others, again.previous, again.stale) == ("ok", 2, "PA_1", ("PA_1",)), (
        "the identity's own session does not count toward the size, and is named to be replaced"
    )
    kept = await store.admit(room, ask("bob", "PA_8", replace=False))
    assert (kept.outcome, kept.previous) == ("taken", "PA_3")

    await store.revoke(room, "bob", 150.0)
    assert (await store.admit(room, ask("bob", "PA_9", issued_at=150.0))).outcome == "removed"
    assert (await store.admit(room, ask("bob", "PA_9", issued_at=151.0, joinable=False))).outcome == "ended"
    assert (await store.admit(room, ask("bob", "PA_9", joinable=False, issued_at=99.0))).outcome == "removed", (
        "a removal is reported before the room's state, as the consumer always did"
    )


async def test_a_snapshot_can_reserve_the_seq_of_its_own_event(store):
    room = "RM_b"
    await join(store, room, "alice", "PA_1")
    assert await store.next_seq(room) == 1
    seq, roster, chat = await store.snapshot(room, reserve_seq=True)
    assert (seq, [e["id"] for e in roster], chat) == (2, ["PA_1"], [])
    assert (await store.snapshot(room))[0] == 2
    assert await store.next_seq(room) == 3


async def test_a_join_snapshot_reads_whether_its_meeting_moved_to_the_sfu(store):
    """A join's snapshot also reads the SFU promotion set in the same step (one round trip, not a lookup of its
    own); the memory store says it did not read it, and the caller asks the leases."""
    room = "RM_c"
    await join(store, room, "alice", "PA_1")
    snapshot, member = await store.snapshot_and_member(room, reserve_seq=True)
    assert member is None and snapshot[0] == 1 and [e["id"] for e in snapshot[1]] == ["PA_1"]
    if isinstance(store, MemoryPresence):
        assert (await store.snapshot_and_member(room, set_key="meetings"))[1] is None
        return
    meetings = f"{store.prefix}:sfu:meetings"
    snapshot, member = await store.snapshot_and_member(room, set_key=meetings)
    assert (snapshot[0], member) == (1, False)
    await store.redis.sadd(meetings, room)
    snapshot, member = await store.snapshot_and_member(room, reserve_seq=True, set_key=meetings)
    assert (snapshot[0], [e["id"] for e in snapshot[1]], member) == (2, ["PA_1"], True)


async def test_a_join_reads_the_promotion_with_its_snapshot(redis_server, levelchat_settings):
    """On Redis the promotion set is presence's to read when leases and presence share the server; never for a
    live or webinar room (always the SFU), nor in memory."""
    from django_levelchat.models import Room
    from django_levelchat.sfu.leases import get_leases
    from django_levelchat.signaling import media

    levelchat_settings(REDIS_URL=redis_server.url, REDIS_PREFIX=f"t{uuid.uuid4().hex[:10]}")
    meeting, live = Room(room_type=Room.RoomType.MEETING), Room(room_type=Room.RoomType.LIVE)
    assert media.promotion_set(meeting) == get_leases().meetings_key
    assert media.promotion_set(live) is None
    assert await media.uses_sfu(meeting, promoted=True) and not await media.uses_sfu(meeting, promoted=False)
    assert await media.uses_sfu(live, promoted=False), "live rooms use the SFU whatever the set says"
    levelchat_settings(REDIS_URL=None)
    assert media.promotion_set(meeting) is None
