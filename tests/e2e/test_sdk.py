"""The browser SDK in real Chromium against a live server: joins, media, mesh, leave, reconnect, refusals.

Each page uses only ``/static/levelchat/levelchat.js`` (through ``tests/e2e/harness.js``); no UI is involved.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.live import WAIT_S

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def join(page: Any, token: str, **options: Any) -> str:
    result = page.evaluate("([token, options]) => lcTest.join(token, options)", [token, options])
    assert "id" in result, result
    return result["id"]


def subscribed(page: Any, participant_id: str) -> list[str]:
    return page.evaluate("(id) => lcTest.subscribedFrom(id)", participant_id)


def video_plays(page: Any, participant_id: str) -> dict[str, Any]:
    return page.evaluate("(id) => lcTest.videoPlays(id)", participant_id)


def events(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("lcTest.events")


def assert_receives(page: Any, other: str, timeout: float = WAIT_S) -> None:
    """``page`` gets track-subscribed for ``other``'s camera and mic, and the camera video plays."""
    wait_until(lambda: subscribed(page, other) == ["camera", "microphone"], timeout, message=f"subscribed to {other}")
    result = wait_until(lambda: (r := video_plays(page, other))["ok"] and r, timeout, message=f"video of {other} plays")
    assert result["width"] > 0 and result["t2"] > result["t1"]


def test_two_pages_join_and_receive_each_other(new_page, e2e_room, mint_token):
    alice, bob = new_page(), new_page()
    alice_id = join(alice, mint_token(e2e_room, "alice"))
    bob_id = join(bob, mint_token(e2e_room, "bob"))
    assert alice_id != bob_id
    assert_receives(alice, bob_id)
    assert_receives(bob, alice_id)
    # The mesh negotiated the most preferred codec both ends can send (AV1 ▸ VP9 ▸ H.264 ▸ VP8).
    expected = alice.evaluate(
        """() => {
          const have = RTCRtpSender.getCapabilities('video').codecs.map((c) => c.mimeType.toLowerCase());
          return ['video/av1', 'video/vp9', 'video/h264', 'video/vp8'].find((m) => have.includes(m));
        }"""
    )
    codecs = wait_until(lambda: alice.evaluate("lcTest.inboundVideoCodecs()") or None, 10, message="inbound codec")
    assert {c.lower() for c in codecs.values()} == {expected}
    names = alice.evaluate("lcTest.names()")
    assert names.index("participant-joined") < names.index("track-subscribed")
    assert alice.evaluate("lcTest.room.state") == "connected"
    assert alice.evaluate("lcTest.room.participants.size") == 1
    # The fake microphone beeps: the local speaking flag flips with no round trip, the server picks a speaker
    # from the reported levels, and the quality scorer reports a band for the local participant.
    wait_until(lambda: alice.evaluate("lcTest.room.localParticipant.isSpeaking"), 5, message="local speaking flag")
    wait_until(lambda: "active-speaker" in alice.evaluate("lcTest.names()"), 5, message="active-speaker")
    quality = wait_until(
        lambda: [e["args"] for e in events(alice) if e["name"] == "connection-quality"], 8, message="local quality"
    )
    assert quality[0][0] in ("excellent", "good")
    assert quality[0][1]["participant"] == alice_id


def test_preferred_quality_and_unsubscribe_reach_the_publisher(new_page, e2e_room, mint_token):
    alice, bob = new_page(), new_page()
    alice_id = join(alice, mint_token(e2e_room, "alice"))
    bob_id = join(bob, mint_token(e2e_room, "bob"))
    assert_receives(bob, alice_id)

    def scale() -> float:
        return alice.evaluate(
            "(id) => lcTest.room.peerConnections.get(id).getSenders().find((s) => s.track?.kind === 'video')"
            ".getParameters().encodings[0].scaleResolutionDownBy",
            bob_id,
        )

    assert scale() == 1
    # Bob asks for low quality: Alice's sender toward Bob scales down by 4 (640x360 -> 160x90).
    bob.evaluate("lcTest.room.setPreferredQuality('low')")
    wait_until(lambda: scale() == 4, 5, message="Alice adapted her sender toward Bob")
    wait_until(lambda: 0 < video_plays(bob, alice_id)["width"] <= 160, 15, message="low-quality video from Alice")
    bob.evaluate("lcTest.room.setPreferredQuality('high')")
    wait_until(lambda: scale() == 1, 5, message="back to full resolution")
    # Bob stops Alice's video: track-unsubscribed at once; Alice stops sending video to Bob only.
    bob.evaluate("(id) => lcTest.room.unsubscribe(id, 'video')", alice_id)
    assert [e["args"][0]["source"] for e in events(bob) if e["name"] == "track-unsubscribed"] == ["camera"]
    wait_until(
        lambda: alice.evaluate(
            "(id) => !lcTest.room.peerConnections.get(id).getSenders().some((s) => s.track?.kind === 'video')", bob_id
        ),
        5,
        message="Alice stopped sending video to Bob",
    )
    bob.evaluate("(id) => lcTest.room.subscribe(id, 'video')", alice_id)
    wait_until(lambda: subscribed(bob, alice_id).count("camera") == 2, 5, message="re-subscribed")
    wait_until(lambda: video_plays(bob, alice_id)["ok"], 10, message="video again")


def test_three_party_mesh(new_page, e2e_room, mint_token):
    pages = [new_page() for _ in range(3)]
    ids = [join(page, mint_token(e2e_room, f"user{i}"), resolution="180p") for i, page in enumerate(pages)]
    for page, own in zip(pages, ids, strict=True):
        for other in ids:
            if other != own:
                assert_receives(page, other)
        assert page.evaluate("lcTest.room.peerConnections.size") == 2


def test_leave_gives_participant_left(new_page, e2e_room, mint_token):
    alice, bob = new_page(), new_page()
    alice_id = join(alice, mint_token(e2e_room, "alice"))
    bob_id = join(bob, mint_token(e2e_room, "bob"))
    assert_receives(alice, bob_id)
    bob.evaluate("lcTest.room.leave()")
    left = wait_until(
        lambda: [e for e in events(alice) if e["name"] == "participant-left"], 10, message="participant-left"
    )
    assert left[0]["args"][0]["participant"] == bob_id
    assert left[0]["args"][1] == "client_initiated"
    assert bob.evaluate("lcTest.room.state") == "disconnected"
    assert bob.evaluate("lcTest.room.disconnectError.code") == "left"
    # Bob's captures are stopped (camera light off) and Alice's tiles for Bob are gone.
    assert bob.evaluate("lcTest.room.localParticipant.tracks.size") == 0
    wait_until(lambda: alice.evaluate(f"document.querySelectorAll('[data-participant=\"{bob_id}\"]').length") == 0, 5)
    assert alice.evaluate("lcTest.room.participants.size") == 0
    assert alice_id


def test_signaling_drop_reconnects_and_media_keeps_flowing(new_page, e2e_room, mint_token, levelchat_server):
    if not levelchat_server.redis_url:
        pytest.skip("needs redis-server (the Redis channel layer reaches the server's sockets)")
    alice, bob = new_page(), new_page()
    alice_id = join(alice, mint_token(e2e_room, "alice"))
    bob_id = join(bob, mint_token(e2e_room, "bob"))
    assert_receives(bob, alice_id)
    assert_receives(alice, bob_id)
    ufrags_before = alice.evaluate("lcTest.iceUfrags()")

    levelchat_server.close_socket(e2e_room.public_id, alice_id, "restart")

    def states() -> list[str]:
        return [e["args"][0] for e in events(alice) if e["name"] == "connection-state"]

    wait_until(lambda: states()[-2:] == ["reconnecting", "connected"], 15, message="reconnecting then connected")
    assert alice.evaluate("lcTest.room.localParticipant.id") == alice_id
    assert alice.evaluate("lcTest.room.state") == "connected"
    # The same peer connection, with restarted ICE, and media still flowing both ways.
    wait_until(lambda: alice.evaluate("lcTest.iceUfrags()")[bob_id] != ufrags_before[bob_id], 10, message="ICE restart")
    assert video_plays(bob, alice_id)["ok"]
    assert video_plays(alice, bob_id)["ok"]
    # Bob never saw Alice leave.
    assert "participant-left" not in bob.evaluate("lcTest.names()")


def test_viewer_publish_rejects(new_page, e2e_room, mint_token):
    host, viewer, listener = new_page(), new_page(), new_page()
    host_id = join(host, mint_token(e2e_room, "host", role="broadcaster"))
    join(viewer, mint_token(e2e_room, "viewer", role="viewer"), publish=False, live="viewer")
    error = viewer.evaluate(
        "lcTest.room.publishCamera().then(() => null, (e) => ({ code: e.code, message: e.message }))"
    )
    assert error["code"] == "forbidden"
    assert "viewer" in error["message"]
    assert viewer.evaluate("lcTest.room.publishMic().catch((e) => e.code)") == "forbidden"
    # A viewer still receives: the mesh sends it recvonly media.
    assert_receives(viewer, host_id)
    # Without joinLive, the token's capabilities decide, client side too.
    join(listener, mint_token(e2e_room, "listener", role="viewer"), publish=False)
    assert listener.evaluate("lcTest.room.publishCamera().catch((e) => e.code)") == "forbidden"


def test_expired_token_gives_token_expired(new_page, e2e_room, mint_token):
    page = new_page()
    result = page.evaluate("(t) => lcTest.join(t)", mint_token(e2e_room, "late", expired=True))
    assert result["error"]["code"] == "token_expired"
    assert page.evaluate("lcTest.room.state") == "failed"
    assert page.evaluate("lcTest.room.disconnectError.closeCode") == 4401
    assert [e["args"][0]["code"] for e in events(page) if e["name"] == "error"] == ["token_expired"]


def test_screen_share_is_told_apart_from_the_camera(new_page, e2e_room, mint_token):
    alice, bob = new_page(), new_page()
    alice_id = join(alice, mint_token(e2e_room, "alice"))
    join(bob, mint_token(e2e_room, "bob"))
    assert_receives(bob, alice_id)
    # getDisplayMedia needs a user gesture: a click on a button that starts the share.
    alice.evaluate(
        """() => {
          const button = document.createElement('button');
          button.id = 'share';
          button.textContent = 'Share';
          button.onclick = () => { window.shared = lcTest.room.publishScreen().then((ts) => ts.map((t) => t.source)); };
          document.body.append(button);
        }"""
    )
    alice.click("#share")
    assert alice.evaluate("window.shared") == ["screen"]
    wait_until(lambda: "screen" in subscribed(bob, alice_id), 15, message="screen subscribed")
    # Each remote video landed on the right track: the screen element shows the 1280x720 fake screen.
    size = wait_until(
        lambda: bob.evaluate(
            """(id) => {
              const el = document.querySelector(`video[data-participant="${id}"][data-source="screen"]`);
              return el && el.videoWidth > 0 ? [el.videoWidth, el.videoHeight] : null;
            }""",
            alice_id,
        ),
        15,
        message="screen video plays",
    )
    camera = video_plays(bob, alice_id)
    assert camera["ok"]
    # The fake screen is 1280x720, the fake camera 640x480 captured at 360p (and ramping up from lower).
    assert size[0] > camera["width"] and size[0] >= 640, (size, camera)
    # Stopping the share unpublishes it everywhere.
    alice.evaluate("lcTest.room.unpublish(lcTest.room.localParticipant.screenTrack)")
    wait_until(lambda: "track-unpublished" in bob.evaluate("lcTest.names()"), 10, message="screen unpublished")
