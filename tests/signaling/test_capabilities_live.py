"""Issue 10 (1) / T21, T25: effective capabilities are the token's ∩ the role's current ceiling in the room,
computed at join and recomputed live when the room's policy, the policy itself or the participant's grant change."""

from __future__ import annotations

import time

import jwt
import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from django_levelchat.conf import derived_signing_key
from django_levelchat.models import ApiKey, CapabilityPolicy, Participant, Room
from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)

SEND_VIDEO = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n"
CAMERA = {"sid": "TR_cam", "kind": "video", "source": "camera"}


def signed(room: Room, identity: str, role: str, caps: list[str]) -> str:
    """A correctly signed token whose caps exceed its role (what a buggy or compromised minting service sends)."""
    now = int(time.time())
    claims = {
        "iss": "django-levelchat",
        "sub": identity,
        "aud": room.public_id,
        "room": room.public_id,
        "iat": now,
        "exp": now + 600,
        "role": role,
        "caps": caps,
    }
    return jwt.encode(claims, derived_signing_key(), algorithm="HS256", headers={"kid": "default"})


async def test_token_caps_over_the_role_ceiling_are_cut_at_join(signal_room, client_for):
    host = client_for("host", role="host")
    await host.join()
    viewer = Client(signed(signal_room, "v", "viewer", ["publish:*", "room:admin", "subscribe:all", "record:control"]))
    welcome = await viewer.join()
    assert welcome["you"]["capabilities"] == ["subscribe:all"]
    for frame in (
        {"type": "publish", "track": CAMERA},
        {"type": "mute-participant", "participant": host.id},
        {"type": "end-room"},
        {"type": "record-start"},
        {"type": "signal", "to": host.id, "description": {"type": "offer", "sdp": SEND_VIDEO}},
    ):
        assert (await viewer.request(frame))["code"] == "forbidden", frame
    assert [f for f in await host.drain() if f["type"] in ("track-published", "signal", "track-muted")] == []
    row = await sync_to_async(Participant.objects.get)(identity="v")
    assert row.capabilities == ["subscribe:all"]


async def test_unknown_role_in_a_signed_token_gets_no_capabilities(signal_room):
    client = Client(signed(signal_room, "x", "superuser", ["publish:*", "chat:send"]))
    welcome = await client.join()
    assert welcome["you"]["capabilities"] == []
    assert (await client.request({"type": "chat", "text": "hi"}))["code"] == "forbidden"


def _policy(name: str, participant: list[str]) -> CapabilityPolicy:
    return CapabilityPolicy.objects.create(name=name, roles={"participant": participant})


async def _revoked(alice: Client, observer: Client) -> None:
    """Both see alice's ``participant-updated`` (without camera) and her camera ``track-unpublished``; the
    observer's own update (it shares the policy) may come in between."""
    for client in (alice, observer):
        update = gone = None
        while update is None or gone is None:
            frame = await client.raw(timeout=5)
            assert frame["type"] != "websocket.close", frame
            if frame["type"] == "participant-updated" and frame["participant"]["id"] == alice.id:
                update = frame
            elif frame["type"] == "track-unpublished":
                gone = frame
        assert not {"publish:*", "publish:camera"} & set(update["participant"]["capabilities"])
        assert (gone["participant"], gone["track"], gone["reason"]) == (alice.id, "TR_cam", "capability_revoked")
    assert (await alice.request({"type": "publish", "track": CAMERA}))["code"] == "forbidden"


async def _joined_publisher(room: Room, token_for) -> tuple[Client, Client]:
    alice, observer = Client(token_for("alice", room)), Client(token_for("observer", room))
    await alice.join()
    await observer.join()
    assert (await alice.request({"type": "publish", "track": CAMERA}))["type"] == "ack"
    await observer.recv("track-published")
    return alice, observer


async def test_rest_patch_of_the_room_policy_revokes_live(token_for):
    wide = await sync_to_async(_policy)("wide", ["publish:*", "subscribe:all", "chat:send"])
    await sync_to_async(_policy)("narrow", ["subscribe:all", "chat:send"])
    room = await sync_to_async(Room.objects.create)(name="r", policy=wide)
    alice, observer = await _joined_publisher(room, token_for)

    def patch(policy: str) -> int:
        _, key = ApiKey.create_key("k")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return api.patch(f"/levelchat/v1/rooms/{room.public_id}", {"policy": policy}, format="json").status_code

    assert await sync_to_async(patch)("narrow") == 200
    await _revoked(alice, observer)
    # Loosening again restores what the token grants (never more).
    assert await sync_to_async(patch)("wide") == 200
    update = await alice.recv("participant-updated", timeout=5)
    while update["participant"]["id"] != alice.id:
        update = await alice.recv("participant-updated", timeout=5)
    assert "publish:*" in update["participant"]["capabilities"]
    assert (await alice.request({"type": "publish", "track": CAMERA}))["type"] == "ack"


async def test_editing_the_policy_itself_revokes_live(token_for):
    policy = await sync_to_async(_policy)("editable", ["publish:*", "subscribe:all"])
    room = await sync_to_async(Room.objects.create)(name="r", policy=policy)
    alice, observer = await _joined_publisher(room, token_for)
    policy.roles = {"participant": ["publish:mic", "subscribe:all"]}
    await sync_to_async(policy.save)()
    await _revoked(alice, observer)
    assert (
        await alice.request(
            {"type": "publish", "track": {**CAMERA, "sid": "TR_mic", "kind": "audio", "source": "microphone"}}
        )
    )["type"] == "ack"


async def test_deleting_the_policy_falls_back_to_the_defaults(token_for):
    policy = await sync_to_async(_policy)("gone", ["subscribe:all"])
    room = await sync_to_async(Room.objects.create)(name="r", policy=policy)
    alice = Client(token_for("alice", room, capabilities=["subscribe:all"]))
    await alice.join()
    await sync_to_async(policy.delete)()
    await alice.send({"type": "ping", "id": "p"})
    assert (await alice.recv("pong"))["ref"] == "p"  # nothing to revoke, and nothing widened beyond the token


async def test_role_change_of_a_live_participant(signal_room, token_for):
    alice, observer = await _joined_publisher(signal_room, token_for)

    def demote() -> None:
        row = Participant.objects.get(public_id=alice.id)
        row.role = "viewer"
        row.save()

    await sync_to_async(demote)()
    await _revoked(alice, observer)
    assert (await alice.request({"type": "reaction", "emoji": "👍"}))["code"] == "forbidden"
