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
