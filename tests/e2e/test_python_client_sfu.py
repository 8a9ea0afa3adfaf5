"""The Python client on the SFU path (client/sfu.py) through the embedded SFU of a real daphne server.

- A live room: a Python broadcaster publishes the synthetic camera and tone; two viewers, and a third that joins
  late, receive them from the SFU (decoded at the published size, the drawn frame counter advancing) and hold no
  mesh connection.
- A meeting past the mesh limit (2 here): the third join moves it to the SFU; everyone's media then comes from the
  SFU and the mesh connections are gone. Media is small (160×120 at 10 fps) to stay light on a shared 2-core machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_levelchat import tokens
from django_levelchat.client import Room as ClientRoom
from django_levelchat.client import SyntheticVideoTrack, ToneAudioTrack, join_live, join_room, read_frame_counter
from django_levelchat.models import Room
from tests.e2e.conftest import in_db_thread, served
from tests.e2e.live import LiveServer
from tests.e2e.test_python_client import decoded_frames, until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

W, H, FPS = 160, 120, 10
DB_ALIAS = "python_sfu_e2e"  # this module's own server (in-memory layer: the SFU runs embedded)
MEDIA_WAIT_S = 90  # the embedded SFU starts on first need; a loaded machine is slow to the first frames


@pytest.fixture(scope="module")
def sfu_server(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[LiveServer]:
    limit = {"LEVELCHAT_SFU_MESH_LIMIT": 2}
    with served(tmp_path_factory.mktemp("python-sfu"), django_db_blocker, DB_ALIAS, extra_env=limit) as server:
        yield server


@pytest.fixture
def make_room(django_db_blocker: Any) -> Callable[[str], Callable[..., str]]:
    """``make_room(room_type)`` creates a room and returns ``mint(identity, role)`` for it."""

    def make(room_type: str) -> Callable[..., str]:
        room = in_db_thread(
            lambda: Room.objects.using(DB_ALIAS).create(name="Python SFU", room_type=room_type), django_db_blocker
        )

        def mint(identity: str, role: str = "participant") -> str:
            return in_db_thread(lambda: tokens.issue_token(room, identity, role=role), django_db_blocker)

        return mint

    return make


async def _receives(viewer: ClientRoom, host_id: str, *, audio: bool = True) -> None:
    """The viewer gets the host's camera (and microphone) from the SFU and decodes them."""

    def subscribed(source: str) -> Any:
        host = viewer.participants.get(host_id)
        publication = host.track_of(source) if host else None
        return publication.track if publication and publication.track else None

    video = await until(lambda: subscribed("camera"), MEDIA_WAIT_S, f"{viewer.local_participant.identity}: camera")
    frames = await decoded_frames(video, 5, timeout=MEDIA_WAIT_S)
    assert {(f.width, f.height) for f in frames} == {(W, H)}
    counters = [read_frame_counter(f) for f in frames]
    assert counters == sorted(counters) and counters[-1] > counters[0], counters
    if audio:
        mic = await until(lambda: subscribed("microphone"), MEDIA_WAIT_S, "microphone")
        assert (await decoded_frames(mic, 3, timeout=MEDIA_WAIT_S))[0].sample_rate > 0
    assert viewer.transport is None  # no mesh: one connection, to the SFU
    assert viewer.sfu is not None and viewer.sfu.receiving


async def test_live_room_python_broadcaster_to_python_viewers(sfu_server, make_room) -> None:
    mint = make_room(Room.RoomType.LIVE)
    url = sfu_server.url
    host = await join_live(mint("host", "broadcaster"), url=url, role="broadcaster")
    rooms = [host]
    try:
        assert host.sfu_state == "ready" and host.transport is None
        await host.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
        await host.publish_track(ToneAudioTrack(), source="microphone")
        viewers = [await join_live(mint(f"viewer{n}", "viewer"), url=url) for n in range(2)]
        rooms += viewers
        for viewer in viewers:
            await _receives(viewer, host.local_participant.id)
        late = await join_live(mint("late", "viewer"), url=url)
        rooms.append(late)
        await _receives(late, host.local_participant.id)
        assert host.sfu is not None and host.sfu.restarts == 0
    finally:
        for room in rooms:
            await room.leave()


async def test_meeting_past_the_mesh_limit_moves_its_python_members_to_the_sfu(sfu_server, make_room) -> None:
    mint = make_room(Room.RoomType.MEETING)
    url = sfu_server.url
    members: list[ClientRoom] = []
    try:
        for name in ("alice", "bob"):
            member = await join_room(mint(name), url=url)
            members.append(member)
            await member.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
        assert all(m.transport is not None and not m.on_sfu for m in members)  # two: a mesh
        carol = await join_room(mint("carol"), url=url)  # the third: past the limit
        members.append(carol)
        await carol.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
        await until(lambda: all(m.on_sfu for m in members), MEDIA_WAIT_S, "everyone moved to the SFU")
        for member in members:
            for other in members:
                if other is not member:
                    await _receives(member, other.local_participant.id, audio=False)
    finally:
        for member in members:
            await member.leave()
