"""Rooms over the REST API: create, list, get, change, end, archive, delete (T44, T45)."""

import pytest

from django_levelchat import lifecycle
from django_levelchat.api.serializers import RoomSerializer
from django_levelchat.models import CapabilityPolicy, Participant, Recording, Room

from .conftest import BASE

ROOM_KEYS = {
    "id",
    "name",
    "room_type",
    "status",
    "max_participants",
    "empty_timeout",
    "metadata",
    "policy",
    "created_at",
    "started_at",
    "ended_at",
    "archived_at",
    "end_reason",
}


def test_create_with_defaults(api, levelchat_settings):
    levelchat_settings(DEFAULT_MAX_PARTICIPANTS=8, DEFAULT_EMPTY_TIMEOUT=30)
    resp = api.post(f"{BASE}/rooms", {"name": "Standup"})
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert set(body) == ROOM_KEYS
    assert body["id"].startswith("RM_") and body["status"] == "created" and body["room_type"] == "meeting"
    assert (body["max_participants"], body["empty_timeout"], body["metadata"], body["policy"]) == (8, 30, {}, None)
    assert Room.objects.get(public_id=body["id"]).name == "Standup"


def test_create_with_every_field(api):
    CapabilityPolicy.objects.create(name="webinar", roles={"viewer": ["subscribe:all"]})
    data = {
        "name": "All hands",
        "room_type": "webinar",
        "max_participants": 500,
        "empty_timeout": 0,
        "metadata": {"team": "core", "n": [1, 2]},
        "policy": "webinar",
    }
    body = api.post(f"{BASE}/rooms", data).json()
    assert {k: body[k] for k in data} == data
    assert Room.objects.get(public_id=body["id"]).policy.name == "webinar"


@pytest.mark.parametrize(
    "data, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 123}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name": "ok", "room_type": "party"}, "room_type"),
        ({"name": "ok", "max_participants": 0}, "max_participants"),
        ({"name": "ok", "max_participants": 10**9}, "max_participants"),
        ({"name": "ok", "max_participants": "5"}, "max_participants"),
        ({"name": "ok", "max_participants": 5.5}, "max_participants"),
        ({"name": "ok", "max_participants": True}, "max_participants"),
        ({"name": "ok", "empty_timeout": -1}, "empty_timeout"),
        ({"name": "ok", "empty_timeout": 7 * 24 * 3600 + 1}, "empty_timeout"),
        ({"name": "ok", "metadata": []}, "metadata"),
        ({"name": "ok", "metadata": "x"}, "metadata"),
        ({"name": "ok", "metadata": {"big": "x" * 4100}}, "metadata"),
        ({"name": "ok", "metadata": {"nul": "a\x00"}}, "metadata"),
        ({"name": "ok", "metadata": {"d": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}}, "metadata"),  # > MAX_DEPTH
        ({"name": "ok", "policy": "nope"}, "policy"),
        ({"name": "ok", "policy": 1}, "policy"),
        # T45: mass assignment of read-only or unknown fields is refused, not silently applied.
        ({"name": "ok", "status": "ended"}, "status"),
        ({"name": "ok", "id": "RM_mine"}, "id"),
        ({"name": "ok", "api_key": "x"}, "api_key"),
        ({"name": "ok", "created_by": 1}, "created_by"),
    ],
)
def test_create_validation(api, data, field):
    resp = api.post(f"{BASE}/rooms", data)
    assert resp.status_code == 400, resp.json()
    body = resp.json()
    assert body["code"] == "invalid" and body["detail"] == "Invalid input." and field in body["fields"], body
    assert not Room.objects.exists()


def test_metadata_limit_is_4_kib_of_utf8(api):
    assert api.post(f"{BASE}/rooms", {"name": "a", "metadata": {"k": "x" * 4000}}).status_code == 201
    assert api.post(f"{BASE}/rooms", {"name": "a", "metadata": {"k": "é" * 2100}}).status_code == 400


def test_body_must_be_a_json_object(api):
    for body in ([], "x", 5):
        resp = api.post(f"{BASE}/rooms", body)
        assert resp.status_code == 400 and resp.json()["code"] == "invalid"


def test_list_filters_and_pagination(api):
    for i in range(5):
        Room.objects.create(name=f"m{i}")
    webinar = Room.objects.create(name="w", room_type="webinar")
    ended = Room.objects.create(name="e")
    lifecycle.end_room(ended)
    body = api.get(f"{BASE}/rooms").json()
    assert body["count"] == 7 and len(body["results"]) == 7 and body["next"] is None
    assert body["results"][0]["id"] == ended.public_id, "newest first"
    assert [r["id"] for r in api.get(f"{BASE}/rooms?room_type=webinar").json()["results"]] == [webinar.public_id]
    assert [r["id"] for r in api.get(f"{BASE}/rooms?status=ended").json()["results"]] == [ended.public_id]
    assert api.get(f"{BASE}/rooms?status=created&room_type=webinar").json()["count"] == 1
    page = api.get(f"{BASE}/rooms?limit=2&offset=2").json()
    assert page["count"] == 7 and len(page["results"]) == 2 and "offset=4" in page["next"]
    everything = [r["id"] for r in body["results"]]
    assert [r["id"] for r in page["results"]] == everything[2:4]


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "status=",
        "room_type=party",
        "limit=0",
        "limit=201",
        "limit=x",
        "offset=-1",
        "offset=1.5",
        "limit=",
    ],
)
def test_list_refuses_bad_query(api, query):
    resp = api.get(f"{BASE}/rooms?{query}")
    assert resp.status_code == 400 and resp.json()["code"] == "invalid"


def test_retrieve_and_unknown_ids(api, room):
    body = api.get(f"{BASE}/rooms/{room.public_id}").json()
    assert body["id"] == room.public_id and body["name"] == "Standup"
    for bad in ("RM_doesnotexist", str(room.pk), "1", room.public_id.lower()):
        resp = api.get(f"{BASE}/rooms/{bad}")
        assert resp.status_code == 404, bad
        assert resp.json() == {"code": "not_found", "detail": "Not found."}


def test_no_trailing_slash_routes(api, room):
    assert api.get(f"{BASE}/rooms/").status_code == 404
    assert api.get(f"{BASE}/rooms/{room.public_id}/").status_code == 404


def test_patch_fields(api, room):
    policy = CapabilityPolicy.objects.create(name="strict", roles={})
    data = {"name": "Renamed", "max_participants": 3, "empty_timeout": 60, "metadata": {"a": 1}, "policy": "strict"}
    resp = api.patch(f"{BASE}/rooms/{room.public_id}", data)
    assert resp.status_code == 200, resp.json()
    assert {k: resp.json()[k] for k in data} == data
    room.refresh_from_db()
    assert (room.name, room.max_participants, room.empty_timeout, room.policy) == ("Renamed", 3, 60, policy)
    assert api.patch(f"{BASE}/rooms/{room.public_id}", {"policy": None}).json()["policy"] is None
    assert api.patch(f"{BASE}/rooms/{room.public_id}", {}).status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        {"status": "archived"},
        {"id": "RM_x"},
        {"room_type": "1to1"},  # the type is fixed at creation
        {"ended_at": "2020-01-01T00:00:00Z"},
        {"max_participants": 0},
        {"name": ""},
        {"metadata": None},
    ],
)
def test_patch_refuses_read_only_and_bad_values(api, room, data):
    resp = api.patch(f"{BASE}/rooms/{room.public_id}", data)
    assert resp.status_code == 400, resp.json()
    room.refresh_from_db()
    assert room.status == "created" and room.name == "Standup"


def test_patch_never_writes_status_back(room):
    """A PATCH that loaded the room before a concurrent end_room saves only its own columns."""
    stale = Room.objects.get(pk=room.pk)
    lifecycle.end_room(room)
    serializer = RoomSerializer(stale, data={"name": "late"}, partial=True)
    assert serializer.is_valid()
    serializer.save()
    room.refresh_from_db()
    assert (room.status, room.name) == ("ended", "late")


def test_end_archive_delete_lifecycle(api, room):
    url = f"{BASE}/rooms/{room.public_id}"
    session = lifecycle.join(room, "alice", role="participant", capabilities=[])
    resp = api.delete(url)
    assert resp.status_code == 409 and resp.json()["code"] == "room_not_ended"
    resp = api.post(f"{url}/archive")
    assert resp.status_code == 409 and resp.json()["code"] == "illegal_transition"
    resp = api.post(f"{url}/end")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ended" and body["end_reason"] == "ended_by_api" and body["ended_at"]
    session.refresh_from_db()
    assert session.left_at is not None and session.leave_reason == "room_ended"
    assert api.post(f"{url}/end").json()["status"] == "ended", "ending an ended room is idempotent"
    assert api.post(f"{url}/archive").json()["status"] == "archived"
    assert api.post(f"{url}/archive").status_code == 200, "archiving an archived room is idempotent"
    resp = api.post(f"{url}/end")
    assert resp.status_code == 409 and resp.json()["code"] == "illegal_transition"
    resp = api.patch(url, {"name": "x"})
    assert resp.status_code == 409 and resp.json()["code"] == "room_archived"
    Recording.objects.create(room=room)
    assert api.delete(url).status_code == 204
    assert not Room.objects.filter(pk=room.pk).exists() and not Participant.objects.exists()
    assert api.delete(url).status_code == 404


def test_delete_ended_room(api, room):
    lifecycle.end_room(room)
    assert api.delete(f"{BASE}/rooms/{room.public_id}").status_code == 204


def test_actions_on_unknown_rooms_are_404(api):
    for path in ("end", "archive"):
        assert api.post(f"{BASE}/rooms/RM_nope/{path}").status_code == 404
    assert api.patch(f"{BASE}/rooms/RM_nope", {"name": "x"}).status_code == 404
    assert api.delete(f"{BASE}/rooms/RM_nope").status_code == 404


def test_staff_session_can_manage_rooms(staff):
    body = staff.post(f"{BASE}/rooms", {"name": "from admin"}).json()
    assert staff.post(f"{BASE}/rooms/{body['id']}/end").json()["status"] == "ended"
