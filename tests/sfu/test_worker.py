"""The SFU behind the real signaling consumer: embedded worker (in-memory layer), live rooms, errors."""

from __future__ import annotations

import time

import aioice.ice
import pytest

from django_levelchat.models import Room
from django_levelchat.sfu import embedded, leases
from django_levelchat.signaling import media
from django_levelchat.tokens import issue_token
from tests.sfu.peers import HEIGHT, WIDTH, PatternTrack, RawPeer, ToneTrack, wait_for
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
    welcome = await host.join()
    assert welcome["room"]["sfu"] == "ready"
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


async def test_meeting_past_the_mesh_limit_moves_to_the_sfu(settings, people) -> None:
    settings.LEVELCHAT = {**settings.LEVELCHAT, "SFU_ALLOW_PRIVATE_CANDIDATES": True, "SFU_MESH_LIMIT": 2}
    room = await Room.objects.acreate(name="Standup")
    alice, bob = people(room, "alice", "participant"), people(room, "bob", "participant")
    assert "sfu" not in (await alice.join())["room"]  # a mesh room: no SFU state in the snapshot
    await bob.join()
    carol = people(room, "carol", "participant")
    await carol.join()  # the third member: past the limit of 2
    for person in (alice, bob, carol):
        await wait_for(lambda p=person: any(f.get("type") == "sfu-state" for f in p.events), what="sfu-state")
        assert [f["state"] for f in person.events if f.get("type") == "sfu-state"] == ["ready"]
    dave = people(room, "dave", "participant")
    assert (await dave.join())["room"]["sfu"] == "ready"

    reply = await alice.publish_video("TR_cam", [PatternTrack()])
    assert reply["type"] == "ack", reply
    for person in (bob, carol, dave):
        await wait_for(lambda p=person: p.peer is not None and len(p.peer.frames) >= 3, what="frames via the SFU")
    # Preferences now reach the worker (and, while browsers still mesh, the publisher as before).
    reply = await bob.request({"type": "set-preferred-quality", "quality": "low", "participant": alice.client.id})
    assert reply["type"] == "ack", reply
    worker = await embedded.ensure_worker()
    await wait_for(
        lambda: worker.rooms[room.public_id].media.peers[bob.client.id].quality == {alice.client.id: "low"},
        what="the preference at the worker",
    )


async def test_a_meeting_stays_on_the_mesh_when_no_sfu_can_take_it(settings) -> None:
    """With Redis and no ``runsfu`` worker, moving would leave a newcomer with neither a mesh nor an SFU."""
    settings.LEVELCHAT = {**settings.LEVELCHAT, "SFU_MESH_LIMIT": 2, "SFU_EMBEDDED": False}
    room = await Room.objects.acreate(name="Standup")
    assert not await media.outgrew_mesh(room, 3)
    assert not await leases.get_leases().promoted(room.public_id)
    await leases.get_leases().heartbeat("w1", 6.0)  # a runsfu worker comes up: the next join past the limit moves
    assert await media.outgrew_mesh(room, 4)
    assert await leases.get_leases().promoted(room.public_id)


async def test_active_speaker_from_the_audio_level_the_worker_sees(sfu_settings, people) -> None:
    """The broadcaster's packets carry RFC 6464 levels; the worker names the speaker without any client report."""
    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    host = people(room, "host", "broadcaster")
    await host.join()
    assert host.peer is not None
    transceiver = host.peer.pc.addTransceiver(ToneTrack(), direction="sendonly")
    await host.peer.pc.setLocalDescription(await host.peer.pc.createOffer())
    track = {"sid": "TR_mic", "kind": "audio", "source": "microphone", "mids": [transceiver.mid]}
    assert (await host.request({"type": "publish", "track": track}))["type"] == "ack"
    reply = await host.request({"type": "sfu-signal", "description": host.peer.offer().to_wire()})
    assert reply["type"] == "ack", reply
    viewer = people(room, "viewer", "viewer")
    await viewer.join()

    def speaker() -> str | None:
        frames = [f for f in viewer.events if f.get("type") == "active-speaker"]
        return frames[-1]["participant"] if frames else None

    await wait_for(lambda: speaker() == host.client.id, what="active-speaker naming the broadcaster")
    assert viewer.peer is not None
    await wait_for(lambda: any(f["kind"] == "audio" for f in viewer.peer.frames), what="the tone at the viewer")


async def test_a_viewer_may_not_send_media_to_the_sfu(sfu_settings, people) -> None:
    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    viewer = people(room, "viewer", "viewer")
    await viewer.join()
    assert viewer.peer is not None
    await viewer.peer.publish_video("TR_cam", [PatternTrack()])
    reply = await viewer.request({"type": "sfu-signal", "description": viewer.peer.offer().to_wire()})
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply


def _go_silent(peer: RawPeer) -> None:
    """The network path of a client's SFU connection is lost: everything sent to it is dropped from now on."""
    for transceiver in peer.pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        for stun in connection._protocols:
            stun.datagram_received = lambda data, addr: None


async def test_a_failed_sfu_connection_is_started_over(sfu_settings, people, monkeypatch) -> None:
    """ICE consent expires (a path lost, a starved machine): the worker tells that member ``unavailable`` then
    ``ready`` and offers a fresh connection; a publisher announces its tracks again on it, as after failover."""
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)  # consent fails after 6 unanswered checks
    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    host = people(room, "host", "broadcaster")
    await host.join()
    assert (await host.publish_video("TR_cam", [PatternTrack()]))["type"] == "ack"
    viewer = people(room, "viewer", "viewer")
    await viewer.join()
    first = viewer.peer
    assert first is not None
    await wait_for(lambda: len(first.frames) >= 3, what="frames at the viewer")

    def told(person: SignaledPeer) -> list[tuple[str, str | None]]:
        return [(f["state"], f.get("reason")) for f in person.events if f.get("type") == "sfu-state"]

    _go_silent(first)
    await wait_for(lambda: viewer.peer is not first, what="the viewer told its SFU connection is gone")
    await wait_for(lambda: len(viewer.peer.frames) >= 3, what="frames on the viewer's fresh connection")
    assert told(viewer) == [("unavailable", "connection_failed"), ("ready", None)]
    assert viewer.peer.sizes() == {(WIDTH, HEIGHT)}

    before = host.peer
    assert before is not None
    _go_silent(before)
    await wait_for(lambda: host.peer is not before, what="the host told its SFU connection is gone")
    assert told(host) == [("unavailable", "connection_failed"), ("ready", None)]
    assert told(viewer) == [("unavailable", "connection_failed"), ("ready", None)]  # only the failed member is told
    since = time.monotonic()
    assert (await host.publish_video("TR_cam", [PatternTrack()]))["type"] == "ack"  # announced again
    await wait_for(lambda: viewer.peer.sizes(since) == {(WIDTH, HEIGHT)}, what="the host's video again at the viewer")
