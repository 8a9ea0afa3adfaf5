"""Recording a call on the SFU end to end: frames and server code start/stop it, everyone sees the event, the
worker copy-muxes the published track, the job finalises it into storage and it decodes to the expected length."""

from __future__ import annotations

import asyncio
import time

import av
import pytest
from asgiref.sync import sync_to_async

from django_levelchat.exceptions import IllegalTransition
from django_levelchat.models import Recording, Room
from django_levelchat.recording import jobs
from django_levelchat.recording.storage import recording_storage
from django_levelchat.sfu import embedded
from django_levelchat.signaling import control
from django_levelchat.tokens import issue_token
from tests.sfu.peers import HEIGHT, WIDTH, PatternTrack, wait_for
from tests.sfu.signaled import SignaledPeer
from tests.signaling.conftest import Client

pytestmark = [pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def recording_settings(settings, tmp_path):
    settings.LEVELCHAT = {
        **settings.LEVELCHAT,
        "SFU_ALLOW_PRIVATE_CANDIDATES": True,
        "RECORDING_SPOOL_DIR": str(tmp_path / "spool"),
        "RECORDING_LAYOUT": None,  # the composed file is tested in tests/recording; this test is about the live part
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "m"}},
    }


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


def _recorder(room: Room):
    """The recorder of ``room`` in this test loop's embedded worker."""
    worker = embedded._workers[asyncio.get_running_loop()][0]
    return worker.rooms[room.public_id].recording.recorder


async def _event(person: SignaledPeer, state: str) -> dict:
    await wait_for(
        lambda: any(e.get("type") == "recording" and e["state"] == state for e in person.events),
        what=f"recording {state} at {person.client.id}",
    )
    return next(e for e in person.events if e.get("type") == "recording" and e["state"] == state)


async def test_record_a_two_party_call_from_frames(recording_settings, people) -> None:
    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    host = people(room, "host", "host")
    viewer = people(room, "viewer", "viewer")
    await host.join()
    assert (await host.publish_video("TR_cam", [PatternTrack()]))["type"] == "ack"
    await viewer.join()
    assert viewer.peer is not None
    await wait_for(lambda: len(viewer.peer.frames) >= 5, what="the viewer gets the call")

    refused = await viewer.request({"type": "record-start"})
    assert refused["type"] == "error" and refused["code"] == "forbidden", refused
    started = await host.request({"type": "record-start"})
    assert started["type"] == "ack" and started["recording"].startswith("RC_"), started
    rec_id = started["recording"]
    for person in (host, viewer):  # everyone sees it (the UI's indicator follows this event)
        assert (await _event(person, "started"))["recording"] == rec_id
    again = await host.request({"type": "record-start"})
    assert again["type"] == "error" and again["code"] == "bad_state", again

    recorder = _recorder(room)
    await wait_for(lambda: recorder.frames >= 1, what="the first recorded (key)frame")
    began = time.monotonic()
    await wait_for(lambda: recorder.frames >= 45, timeout=120, what="3 s of recorded video")
    recorded_for = time.monotonic() - began + 1 / 15
    stopped = await host.request({"type": "record-stop"})
    assert stopped == {"type": "ack", "ref": stopped["ref"], "recording": rec_id}
    for person in (host, viewer):
        await _event(person, "stopped")

    rec = await Recording.objects.aget(public_id=rec_id)
    assert rec.status == "processing" and rec.started_by == "participant:host"
    assert await sync_to_async(jobs.run_pending)() == 1
    await rec.arefresh_from_db()
    assert rec.status == "ready", rec.error
    track = await rec.files.aget(role="track")
    assert (track.participant, track.kind, track.source, track.codec) == (room_pid(host), "video", "camera", "vp8")
    assert track.duration == pytest.approx(recorded_for, abs=1.0)
    with av.open(recording_storage().path(track.name)) as container:
        frames = list(container.decode(video=0))
    assert (frames[0].width, frames[0].height) == (WIDTH, HEIGHT)
    assert len(frames) >= 45


def room_pid(person: SignaledPeer) -> str:
    return person.client.id


async def test_server_code_starts_and_stops_through_the_worker(recording_settings, people) -> None:
    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    host = people(room, "host", "broadcaster")
    await host.join()
    assert (await host.publish_video("TR_cam", [PatternTrack()]))["type"] == "ack"
    await wait_for(lambda: host.peer.pc.connectionState == "connected", what="publisher connected")

    rec = await sync_to_async(control.start_recording)(room, by="api:test")
    assert rec.status == "recording" and rec.started_by == "api:test"
    assert (await _event(host, "started"))["recording"] == rec.public_id
    with pytest.raises(IllegalTransition) as busy:
        await sync_to_async(control.start_recording)(room)
    assert busy.value.code == "recording_active"
    await wait_for(lambda: _recorder(room).frames >= 15, timeout=120, what="recorded video")
    rec = await sync_to_async(control.stop_recording)(rec, by="admin")
    assert rec.status == "processing"
    await _event(host, "stopped")
    with pytest.raises(IllegalTransition) as done:
        await sync_to_async(control.stop_recording)(rec)
    assert done.value.code == "recording_not_active"


async def test_a_restarted_worker_fails_what_it_left_recording(recording_settings) -> None:
    from django_levelchat import lifecycle
    from django_levelchat.sfu import recording

    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    left = await sync_to_async(lifecycle.create_recording)(room, worker="stable-id")
    await recording.fail_leftovers("stable-id")
    await left.arefresh_from_db()
    assert (left.status, left.partial, left.needs_processing) == ("failed", True, True)
    assert "restarted" in left.error


async def test_taking_over_a_dead_workers_room_fails_its_recording_and_tells_everyone(recording_settings) -> None:
    from django_levelchat import lifecycle
    from django_levelchat.sfu import recording

    room = await Room.objects.acreate(name="Live", room_type=Room.RoomType.LIVE)
    viewer = Client(issue_token(room, "viewer", role="viewer"))
    await viewer.join()
    lost = await sync_to_async(lifecycle.create_recording)(room, worker="dead")
    await recording.recover(room.public_id, "dead")
    event = await viewer.recv("recording", timeout=30)
    assert (event["state"], event["recording"], event["reason"]) == ("failed", lost.public_id, "worker_lost")
    await lost.arefresh_from_db()
    assert (lost.status, lost.partial) == ("failed", True)
    await viewer.close()


async def test_a_meeting_is_recorded_through_recording_legs(recording_settings, people) -> None:
    """Mesh media never reaches the SFU: the worker takes a meeting participant's send-only leg only while the
    room is recorded (a publish repeating a published sid, now with mids, answered by the worker) and closes
    it when the recording stops."""
    room = await Room.objects.acreate(name="Standup")  # a meeting: mesh
    host = people(room, "host", "host")
    await host.join()
    assert host.peer is not None
    camera = {"sid": "TR_cam", "kind": "video", "source": "camera"}
    assert (await host.request({"type": "publish", "track": camera}))["type"] == "ack"  # the mesh publish
    mids = await host.peer.publish_video("TR_cam", [PatternTrack()])
    leg = {**camera, "mids": mids}
    offer = {"type": "sfu-signal", "description": host.peer.offer().to_wire()}

    refused = await host.request({"type": "publish", "track": leg})
    assert refused["type"] == "error" and refused["code"] == "bad_state", refused  # nothing is recorded
    refused = await host.request(offer)
    assert refused["type"] == "error" and refused["code"] == "bad_state", refused
    clash = await host.request({"type": "publish", "track": {**leg, "source": "screen"}})
    assert clash["type"] == "error" and clash["code"] == "bad_request", clash  # a sid is one track

    started = await host.request({"type": "record-start"})
    assert started["type"] == "ack", started
    assert (await host.request({"type": "publish", "track": leg}))["type"] == "ack"
    assert (await host.request(offer))["type"] == "ack"
    published = [e["track"] for e in host.events if e.get("type") == "track-published"]
    assert published == [{**camera, "muted": False}]  # the leg told nobody anything new
    recorder = _recorder(room)
    await wait_for(lambda: recorder.frames >= 15, timeout=120, what="the leg's video is recorded")
    worker = embedded._workers[asyncio.get_running_loop()][0]
    served = worker.rooms[room.public_id]
    assert served.media.peers[host.client.id].leg
    assert not served.media.peers[host.client.id].forwards  # a leg receives nothing

    assert (await host.request({"type": "record-stop"}))["type"] == "ack"
    await wait_for(lambda: host.client.id not in served.media.peers, what="the worker closes the leg")
