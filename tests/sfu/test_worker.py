"""The SFU behind the real signaling consumer: embedded worker (in-memory layer), live rooms, errors."""

from __future__ import annotations

import pytest

from django_levelchat.models import Room
from django_levelchat.sfu import leases
from django_levelchat.tokens import issue_token
from tests.sfu.peers import HEIGHT, WIDTH, PatternTrack, wait_for
from tests.sfu.signaled import SignaledPeer
from tests.signaling.conftest import Client

pytestmark = [pytest.mark.timeout(300), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sfu_settings(settings):
    settings.LEVELCHAT = {**settings.LEVELCHAT, "SFU_ALLOW_PRIVATE_CANDIDATES": True}


@pytest.fixture
async def people():
    made: list[SignaledPeer] = []

    def make(room: Room, identity: str, role: str) -> SignaledPeer:
        person = SignaledPeer(Client(issue_token(room, identity, role=role)))
        made.append(person)
        return person

    yield make
    for person in made:
        await person.close()


async def test_live_room_broadcaster_to_viewers_through_the_embedded_worker(sfu_settings, people) -> None:
    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    host = people(room, "host", "broadcaster")
    await host.join()
    reply = await host.publish_video("TR_cam", [PatternTrack()])
    assert reply["type"] == "ack", reply
    assert host.peer is not None
    await wait_for(lambda: host.peer.pc.connectionState == "connected", what="broadcaster connected to the SFU")

    viewers = [people(room, f"viewer{n}", "viewer") for n in range(2)]
    for viewer in viewers:
        await viewer.join()  # the SFU offers the room's tracks on its own: viewers only answer
    for viewer in viewers:
        assert viewer.peer is not None
        await wait_for(lambda v=viewer: len(v.peer.frames) >= 5, what="frames at a viewer")
        assert viewer.peer.sizes() == {(WIDTH, HEIGHT)}
    holder = await leases.get_leases().holder(room.public_id)
    assert holder is not None  # the room is leased to the embedded worker


async def test_sfu_signal_errors_are_answered_with_a_code(sfu_settings, people) -> None:
    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    host = people(room, "host", "broadcaster")
    await host.join()
    assert host.peer is not None
    await host.peer.publish_video("TR_cam", [PatternTrack()])
    sdp = host.peer.pc.localDescription.sdp.replace("VP8/90000", "VP9/90000")
    reply = await host.request({"type": "sfu-signal", "description": {"type": "offer", "sdp": sdp}})
    assert reply["type"] == "error" and reply["code"] == "bad_sdp", reply
    reply = await host.request({"type": "sfu-signal", "description": {"type": "answer", "sdp": sdp}})
    assert reply["type"] == "error" and reply["code"] == "bad_state", reply


async def test_without_a_worker_sfu_signal_is_unavailable(settings, people) -> None:
    settings.LEVELCHAT = {**settings.LEVELCHAT, "SFU_EMBEDDED": False}
    room = await Room.objects.acreate(name="Meeting")
    alice = people(room, "alice", "participant")
    await alice.join()
    reply = await alice.request({"type": "sfu-signal", "description": {"type": "offer", "sdp": "v=0\r\n"}})
    assert reply["type"] == "error" and reply["code"] == "sfu_unavailable", reply
