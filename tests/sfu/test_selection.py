"""Last-N video and top-3 audio with real aiortc peers on loopback: what a subscriber receives, not just state.

Publishers send tones at different amplitudes; aiortc's sender puts the RFC 6464 level on every audio packet and
the SFU ranks microphones by it without decoding. Everything waits on conditions (the machine is shared): the
assertions are about which tracks deliver frames once the ranking settled, never about how fast it settled.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_levelchat.sfu.room import SfuRoom
from tests.sfu.peers import PatternTrack, RawPeer, ToneTrack, wait_for
from tests.sfu.test_forwarding import Harness

pytestmark = pytest.mark.timeout(300)

SUB = "PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7Z"
AMPLITUDES = {"V": 1200, "W": 5000, "X": 12000, "Y": 2500, "Z": 8000}  # publication order is not loudness order


def pub_id(name: str) -> str:
    return f"PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S{name}0"


async def publish_audio(room: SfuRoom, peer: RawPeer, sid: str, track: ToneTrack) -> None:
    await room.join(peer.pid, subscribe=False)  # publish only: no offer from the SFU crosses ours
    transceiver = peer.pc.addTransceiver(track, direction="sendonly")
    await peer.pc.setLocalDescription(await peer.pc.createOffer())
    await room.publish(peer.pid, {"sid": sid, "kind": "audio", "source": "microphone", "mids": [transceiver.mid]})
    await room.signal(peer.pid, description=peer.offer())


def audio_tracks(peer: RawPeer, since: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for frame in peer.frames[since:]:
        if frame["kind"] == "audio":
            counts[frame["track"]] = counts.get(frame["track"], 0) + 1
    return counts


async def settled(peer: RawPeer, expected: set[str], kind: str, what: str) -> None:
    """Wait until a window of frames comes from exactly ``expected``, then check a fresh window says the same."""

    def window_ok(since: int) -> bool:
        frames = [f for f in peer.frames[since:] if f["kind"] == kind]
        return len(frames) >= 15 * len(expected) and {f["track"] for f in frames} == expected

    mark = [len(peer.frames)]

    def converged() -> bool:
        frames = [f for f in peer.frames[mark[0] :] if f["kind"] == kind]
        if len(frames) < 15 * len(expected):
            return False
        if {f["track"] for f in frames} == expected:
            return True
        mark[0] = len(peer.frames)  # not yet: look at a newer window
        return False

    await wait_for(converged, timeout=60, what=what)
    since = len(peer.frames)
    await wait_for(lambda: len([f for f in peer.frames[since:] if f["kind"] == kind]) >= 15 * len(expected), what=what)
    assert window_ok(since), (what, {f["track"] for f in peer.frames[since:] if f["kind"] == kind})


@pytest.fixture
async def top3():
    h = Harness(audio_top=3)
    yield h
    await h.close()


async def test_a_subscriber_gets_the_three_loudest_microphones_only(top3: Harness) -> None:
    room = top3.room
    tones: dict[str, ToneTrack] = {}
    for name, amplitude in AMPLITUDES.items():
        tones[name] = ToneTrack(amplitude)
        await publish_audio(room, top3.peer(pub_id(name)), f"TR_mic{name}", tones[name])
    sub = top3.peer(SUB)
    await room.join(SUB)
    await wait_for(lambda: room.stats()["forwards"] == 5, what="five forwarded microphones")

    await settled(sub, {"TR_micX", "TR_micZ", "TR_micW"}, "audio", "the three loudest")
    paused = {key[1] for key, forward in room.peers[SUB].forwards.items() if forward.track.paused}
    assert paused == {"TR_micV", "TR_micY"}
    assert room.audio_rank[:3] == [(pub_id("X"), "TR_micX"), (pub_id("Z"), "TR_micZ"), (pub_id("W"), "TR_micW")]

    # The quietest starts shouting: it is forwarded again and the third loudest is paused.
    tones["V"].set_amplitude(16000)
    await settled(sub, {"TR_micV", "TR_micX", "TR_micZ"}, "audio", "the new three loudest")
    assert room.peers[SUB].forwards[(pub_id("W"), "TR_micW")].track.paused


@pytest.fixture
async def last2():
    h = Harness(last_n=2)
    yield h
    await h.close()


async def test_last_n_video_follows_the_speaker_and_the_pins(last2: Harness) -> None:
    """Three cameras, N = 2: the speaker and the earliest publisher; pinning the third brings it in instead.

    The third publishes two simulcast layers: while nobody watches it, dynacast asks it to pause both.
    """
    room = last2.room
    peers: dict[str, RawPeer] = {}
    for name in ("A", "B"):
        peer = peers[name] = last2.peer(pub_id(name))
        await room.join(peer.pid, subscribe=False)
        mids = await peer.publish_video(f"TR_cam{name}", [PatternTrack(160, 90)])
        await room.publish(peer.pid, {"sid": f"TR_cam{name}", "kind": "video", "source": "camera", "mids": mids})
        await room.signal(peer.pid, description=peer.offer())
    c = peers["C"] = last2.peer(pub_id("C"))
    await room.join(c.pid, subscribe=False)
    mids = await c.publish_video("TR_camC", [PatternTrack(160, 90), PatternTrack(320, 180)])
    track: dict[str, Any] = {"sid": "TR_camC", "kind": "video", "source": "camera", "layers": ["q", "f"], "mids": mids}
    await room.publish(c.pid, track)
    await room.signal(c.pid, description=c.offer())
    speaker = peers["S"] = last2.peer(pub_id("S"))  # talks, with a camera published after everyone else's
    await room.join(speaker.pid, subscribe=False)
    transceivers = [
        speaker.pc.addTransceiver(PatternTrack(160, 90), direction="sendonly"),
        speaker.pc.addTransceiver(ToneTrack(), direction="sendonly"),
    ]
    await speaker.pc.setLocalDescription(await speaker.pc.createOffer())
    for sid, kind, transceiver in (("TR_camS", "video", transceivers[0]), ("TR_micS", "audio", transceivers[1])):
        source = "camera" if kind == "video" else "microphone"
        await room.publish(speaker.pid, {"sid": sid, "kind": kind, "source": source, "mids": [transceiver.mid]})
    await room.signal(speaker.pid, description=speaker.offer())

    sub = last2.peer(SUB)
    await room.join(SUB)
    await wait_for(lambda: room.stats()["forwards"] == 5, what="four cameras and a microphone")
    await settled(sub, {"TR_camS", "TR_camA"}, "video", "the speaker's and the earliest camera")
    await wait_for(lambda: c.layer_demands and c.layer_demands[-1]["layers"] == [], what="C's layers paused")

    await room.set_quality(SUB, "high", publisher=c.pid)  # the subscriber shows C large: pinned
    await settled(sub, {"TR_camC", "TR_camS"}, "video", "the pinned camera and the speaker's")
    assert sub.sizes(since=sub.frames[-1]["t"] - 0.5) >= {(320, 180)}
    await wait_for(lambda: c.layer_demands[-1]["layers"] == ["f"], what="C's full layer resumed")
    forwards = room.peers[SUB].forwards
    assert forwards[(pub_id("A"), "TR_camA")].track.paused and forwards[(pub_id("B"), "TR_camB")].track.paused
