"""Participant sessions over the REST API, and IDOR checks: another room's sessions never leak (T44)."""

import pytest

from django_levelchat import lifecycle
from django_levelchat.models import Participant

from .conftest import BASE

SESSION_KEYS = {
    "id",
    "identity",
    "name",
    "role",
    "capabilities",
    "metadata",
    "joined_at",
    "left_at",
    "leave_reason",
    "live",
    "tracks",
}


@pytest.fixture
def sessions(room, other_room):
    """alice left and rejoined, bob is live; in the other room alice and carol are live."""
    first = lifecycle.join(room, "alice", name="Alice", role="participant", capabilities=["chat:send"])
    lifecycle.leave(first, "left")
    second = lifecycle.join(room, "alice", name="Alice", role="participant", capabilities=["chat:send"])
    bob = lifecycle.join(room, "bob", role="host", capabilities=["room:admin"], metadata={"seat": 1})
    foreign = [
        lifecycle.join(other_room, "alice", role="participant", capabilities=[]),
        lifecycle.join(other_room, "carol", role="participant", capabilities=[]),
    ]
    return {"first": first, "second": second, "bob": bob, "foreign": foreign}


def test_list_live_and_past_sessions(api, room, sessions):
    body = api.get(f"{BASE}/rooms/{room.public_id}/participants").json()
    assert body["count"] == 3
    results = body["results"]
    assert set(results[0]) == SESSION_KEYS
    ids = [p["id"] for p in results]
    assert ids == [sessions["bob"].public_id, sessions["second"].public_id, sessions["first"].public_id]
    bob = results[0]
    assert bob["live"] is True and bob["left_at"] is None and bob["role"] == "host" and bob["metadata"] == {"seat": 1}
    assert bob["tracks"] == []
    first = results[2]
    assert first["live"] is False and first["leave_reason"] == "left" and first["left_at"]


def test_live_filter(api, room, sessions):
    live = api.get(f"{BASE}/rooms/{room.public_id}/participants?live=true").json()["results"]
    assert {p["id"] for p in live} == {sessions["bob"].public_id, sessions["second"].public_id}
    past = api.get(f"{BASE}/rooms/{room.public_id}/participants?live=false").json()["results"]
    assert [p["id"] for p in past] == [sessions["first"].public_id]
    for bad in ("yes", "1", "TRUE", ""):
        resp = api.get(f"{BASE}/rooms/{room.public_id}/participants?live={bad}")
        assert resp.status_code == 400 and resp.json()["code"] == "invalid", bad


def test_pagination(api, room, sessions):
    body = api.get(f"{BASE}/rooms/{room.public_id}/participants?limit=1&offset=1").json()
    assert body["count"] == 3 and [p["id"] for p in body["results"]] == [sessions["second"].public_id]


def test_t44_other_rooms_sessions_never_leak(api, room, other_room, sessions):
    foreign_ids = {p.public_id for p in sessions["foreign"]}
    for query in ("", "?live=true", "?live=false", "?limit=200"):
        listed = {p["id"] for p in api.get(f"{BASE}/rooms/{room.public_id}/participants{query}").json()["results"]}
        assert not listed & foreign_ids
    detail = api.get(f"{BASE}/rooms/{room.public_id}/participants/alice").json()
    assert not {p["id"] for p in detail["sessions"]} & foreign_ids
    resp = api.get(f"{BASE}/rooms/{room.public_id}/participants/carol")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found", "carol is only in the other room"
    other = {p["id"] for p in api.get(f"{BASE}/rooms/{other_room.public_id}/participants").json()["results"]}
    assert other == foreign_ids


def test_identity_detail_newest_first(api, room, sessions):
    body = api.get(f"{BASE}/rooms/{room.public_id}/participants/alice").json()
    assert body["identity"] == "alice" and body["live"] is True
    assert [p["id"] for p in body["sessions"]] == [sessions["second"].public_id, sessions["first"].public_id]
    lifecycle.leave(sessions["second"], "left")
    assert api.get(f"{BASE}/rooms/{room.public_id}/participants/alice").json()["live"] is False


def test_identity_detail_caps_at_100_sessions(api, room):
    Participant.objects.bulk_create(Participant(room=room, identity="loop", left_at=None) for _ in range(105))
    assert len(api.get(f"{BASE}/rooms/{room.public_id}/participants/loop").json()["sessions"]) == 100


def test_unknown_room_or_identity(api, room):
    assert api.get(f"{BASE}/rooms/RM_nope/participants").status_code == 404
    assert api.get(f"{BASE}/rooms/RM_nope/participants/alice").status_code == 404
    assert api.get(f"{BASE}/rooms/{room.public_id}/participants/nobody").status_code == 404
    assert api.get(f"{BASE}/rooms/{room.public_id}/participants").json()["count"] == 0
