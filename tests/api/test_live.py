"""The live actions of the REST API against real in-process WebSocket participants (signaling consumer)."""

from __future__ import annotations

from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from django_levelchat.models import ApiKey, Participant, Room
from tests.signaling.conftest import Client, fresh_presence, stop_janitor  # noqa: F401  (autouse fixtures)

from .conftest import BASE, JsonClient

pytestmark = pytest.mark.django_db(transaction=True)

CAMERA = {"sid": "TR_cam1", "kind": "video", "source": "camera"}
MIC = {"sid": "TR_mic1", "kind": "audio", "source": "microphone"}


class Api:
    """The REST client, callable from async tests (the views run in a thread, as under ASGI)."""

    def __init__(self, full_key: str) -> None:
        self.client = JsonClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {full_key}")

    async def __call__(self, method: str, path: str, data: object = None, **extra: object):
        call = getattr(self.client, method)
        return await sync_to_async(call)(f"{BASE}{path}", data, **extra)


@pytest.fixture
async def api() -> Api:
    _, full = await sync_to_async(ApiKey.create_key)("backend")
    return Api(full)


@pytest.fixture
async def live_room(api) -> str:
    resp = await api("post", "/rooms", {"name": "Live"})
    return resp.json()["id"]


async def join(api: Api, room_id: str, identity: str, **token: object) -> Client:
    resp = await api("post", f"/rooms/{room_id}/tokens", {"identity": identity, **token})
    assert resp.status_code == 201, resp.json()
    client = Client(resp.json()["token"])
    await client.join()
    return client


async def test_backend_with_only_an_api_key(api):
    """Create a room, mint a token, watch the roster, remove a participant, end and archive the room."""
    resp = await api("post", "/rooms", {"name": "Support call", "room_type": "1to1"})
    assert resp.status_code == 201
    room_id = resp.json()["id"]
    alice = await join(api, room_id, "alice", name="Alice")
    await alice.request({"type": "publish", "track": CAMERA})
    bob = await join(api, room_id, "bob")
    await alice.drain()

    roster = (await api("get", f"/rooms/{room_id}/participants?live=true")).json()["results"]
    by_identity = {p["identity"]: p for p in roster}
    assert set(by_identity) == {"alice", "bob"} and by_identity["alice"]["name"] == "Alice"
    assert [t["sid"] for t in by_identity["alice"]["tracks"]] == ["TR_cam1"] and by_identity["bob"]["tracks"] == []
    assert (await api("get", f"/rooms/{room_id}")).json()["status"] == "active"

    resp = await api("post", f"/rooms/{room_id}/participants/bob/remove")
    assert resp.status_code == 200 and resp.json() == {"identity": "bob", "removed": True}
    close = await bob.closed()
    assert (close["code"], close["reason"]) == (4403, "removed")
    assert (await alice.recv("participant-left"))["reason"] == "removed"
    resp = await api("post", f"/rooms/{room_id}/participants/bob/remove")
    assert resp.status_code == 404 and resp.json()["code"] == "not_connected"
    detail = (await api("get", f"/rooms/{room_id}/participants/bob")).json()
    assert detail["live"] is False and detail["sessions"][0]["leave_reason"] == "removed"

    assert (await api("post", f"/rooms/{room_id}/end")).json()["status"] == "ended"
    assert (await alice.closed())["code"] == 4403
    assert (await api("post", f"/rooms/{room_id}/archive")).json()["status"] == "archived"
    history = (await api("get", f"/rooms/{room_id}/participants")).json()
    assert history["count"] == 2 and not any(p["live"] for p in history["results"])


async def test_mute(api, live_room):
    alice = await join(api, live_room, "alice")
    await alice.request({"type": "publish", "track": CAMERA})
    await alice.request({"type": "publish", "track": MIC})
    await alice.drain()
    resp = await api("post", f"/rooms/{live_room}/participants/alice/mute", {"kind": "audio"})
    assert resp.status_code == 200
    assert resp.json() == {"identity": "alice", "muted": True, "track": None, "kind": "audio"}
    muted = await alice.recv("track-muted")
    assert (muted["track"], muted["muted"]) == ("TR_mic1", True)
    resp = await api("post", f"/rooms/{live_room}/participants/alice/mute", {"track": "TR_cam1"})
    assert resp.status_code == 200 and (await alice.recv("track-muted"))["track"] == "TR_cam1"
    resp = await api("post", f"/rooms/{live_room}/participants/alice/mute", {"track": "TR_cam1", "kind": "video"})
    assert resp.status_code == 400 and "kind" in resp.json()["fields"]
    for body in ({"kind": "smell"}, {"track": "cam1"}, {"track": 1}, {"what": "x"}):
        assert (await api("post", f"/rooms/{live_room}/participants/alice/mute", body)).status_code == 400, body
    resp = await api("post", f"/rooms/{live_room}/participants/nobody/mute", {})
    assert resp.status_code == 404 and resp.json()["code"] == "not_connected"


async def test_change_capabilities_mid_call(api, live_room):
    host = await join(api, live_room, "host", role="host")
    bob = await join(api, live_room, "bob")
    await bob.request({"type": "publish", "track": CAMERA})
    await host.drain()
    await bob.drain()
    url = f"/rooms/{live_room}/participants/bob"
    resp = await api("patch", url, {"capabilities": ["subscribe:all", "publish:mic"]})
    assert resp.status_code == 200
    assert resp.json() == {"identity": "bob", "capabilities": ["publish:mic", "subscribe:all"]}
    gone = await host.recv("track-unpublished")
    assert (gone["track"], gone["reason"]) == ("TR_cam1", "capability_revoked")
    assert (await bob.recv("participant-updated"))["participant"]["capabilities"] == ["publish:mic", "subscribe:all"]
    assert (await bob.request({"type": "publish", "track": {**CAMERA, "sid": "TR_cam2"}}))["code"] == "forbidden"
    session = await sync_to_async(Participant.objects.get)(identity="bob", left_at__isnull=True)
    assert session.capabilities == ["publish:mic", "subscribe:all"]

    resp = await api("patch", url, {"capabilities": ["room:admin"]})
    assert resp.status_code == 400 and resp.json()["code"] == "capability_ceiling", "a participant is no admin"
    resp = await api("patch", url, {"capabilities": ["fly:away"]})
    assert resp.status_code == 400 and resp.json()["code"] == "bad_capability"
    for body in ({}, {"capabilities": "chat:send"}, {"capabilities": ["chat:send"], "role": "host"}):
        assert (await api("patch", url, body)).status_code == 400, body
    assert (
        await api("patch", f"/rooms/{live_room}/participants/host", {"capabilities": ["room:admin"]})
    ).status_code == 200
    resp = await api("patch", f"/rooms/{live_room}/participants/nobody", {"capabilities": []})
    assert resp.status_code == 404 and resp.json()["code"] == "not_connected"


async def test_policy_ceiling_applies_to_capability_changes(api, live_room):
    from django_levelchat.models import CapabilityPolicy

    policy = await sync_to_async(CapabilityPolicy.objects.create)(name="audio", roles={"participant": ["publish:mic"]})
    await sync_to_async(Room.objects.filter(public_id=live_room).update)(policy=policy)
    await join(api, live_room, "bob")
    url = f"/rooms/{live_room}/participants/bob"
    assert (await api("patch", url, {"capabilities": ["publish:camera"]})).json()["code"] == "capability_ceiling"
    assert (await api("patch", url, {"capabilities": ["publish:mic"]})).status_code == 200


async def test_messages(api, live_room):
    alice = await join(api, live_room, "alice")
    bob = await join(api, live_room, "bob")
    await alice.drain()
    resp = await api("post", f"/rooms/{live_room}/messages", {"text": "maintenance at 5\nsave your work"})
    assert resp.status_code == 201
    frame = resp.json()
    for client in (alice, bob):
        message = await client.recv("chat-message")
        assert message["id"] == frame["id"] and message["text"] == "maintenance at 5\nsave your work"
        assert message["from"]["identity"] == "system"
    resp = await api("post", f"/rooms/{live_room}/messages", {"text": "psst", "to": "bob"})
    assert resp.status_code == 201 and resp.json()["to"] == "bob"
    assert (await bob.recv("chat-message"))["text"] == "psst"
    assert await alice.nothing(0.2), "a private message reaches only its recipient"
    resp = await api("post", f"/rooms/{live_room}/messages", {"text": "hi", "to": "nobody"})
    assert resp.status_code == 404 and resp.json()["code"] == "not_connected"
    for body in (
        {},
        {"text": ""},
        {"text": "   "},
        {"text": "x" * 2001},
        {"text": "a\x00"},
        {"text": 5},
        {"text": "a", "x": 1},
    ):
        assert (await api("post", f"/rooms/{live_room}/messages", body)).status_code == 400, body
    assert (await api("post", f"/rooms/{live_room}/messages", {"text": "é" * 2000})).status_code == 201


async def test_live_actions_on_an_ended_room_are_409(api, live_room):
    assert (await api("post", f"/rooms/{live_room}/end")).status_code == 200
    calls = [
        ("post", f"/rooms/{live_room}/participants/a/remove", None),
        ("post", f"/rooms/{live_room}/participants/a/mute", {}),
        ("patch", f"/rooms/{live_room}/participants/a", {"capabilities": []}),
        ("post", f"/rooms/{live_room}/messages", {"text": "hi"}),
    ]
    for method, path, body in calls:
        resp = await api(method, path, body)
        assert resp.status_code == 409 and resp.json()["code"] == "room_ended", path


async def test_live_actions_on_unknown_rooms_are_404(api):
    for method, path, body in [
        ("post", "/rooms/RM_nope/participants/a/remove", None),
        ("post", "/rooms/RM_nope/participants/a/mute", {}),
        ("patch", "/rooms/RM_nope/participants/a", {"capabilities": []}),
        ("post", "/rooms/RM_nope/messages", {"text": "hi"}),
    ]:
        assert (await api(method, path, body)).json()["code"] == "not_found", path


async def test_signaling_backend_down_answers_503(api, live_room):
    await join(api, live_room, "alice")
    with mock.patch("django_levelchat.signaling.rooms.get_presence", side_effect=ConnectionError("redis down")):
        resp = await api("post", f"/rooms/{live_room}/participants/a/remove")
        assert resp.status_code == 503 and resp.json()["code"] == "signaling_unavailable"
