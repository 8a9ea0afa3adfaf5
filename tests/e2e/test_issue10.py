"""Issue 10 in real Chromium through the SDK's own peer connections: (5) a data channel negotiated over the mesh
(an offer with ``m=application``) carries a message; (10) both pages lose signaling 2 s apart and both connections
come back to ``stable`` with new ICE credentials, media flowing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.test_sdk import assert_receives, join, video_plays

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_data_channel_over_the_sdk_mesh(new_page, e2e_room, mint_token):
    alice, bob = new_page(), new_page()
    alice_id = join(alice, mint_token(e2e_room, "alice"))
    bob_id = join(bob, mint_token(e2e_room, "bob"))
    assert_receives(alice, bob_id)
    bob.evaluate(
        """(aliceId) => {
          window.dcReceived = [];
          lcTest.room.peerConnections.get(aliceId).ondatachannel = ({ channel }) => {
            channel.onmessage = (ev) => window.dcReceived.push([channel.label, ev.data]);
          };
        }""",
        alice_id,
    )
    alice.evaluate(
        """(bobId) => {
          const channel = lcTest.room.peerConnections.get(bobId).createDataChannel('app');
          channel.onopen = () => channel.send('hello over sctp');
        }""",
        bob_id,
    )
    received = wait_until(lambda: bob.evaluate("window.dcReceived") or None, 20, message="data-channel message")
    assert received == [["app", "hello over sctp"]]
    sdp = bob.evaluate("(id) => lcTest.room.peerConnections.get(id).remoteDescription.sdp", alice_id)
    assert "m=application" in sdp
    assert not [e for e in alice.evaluate("lcTest.events") if e["name"] == "error"]


def _state(page: Any, other: str) -> str:
    return page.evaluate("(id) => lcTest.room.peerConnections.get(id)?.signalingState", other)


@pytest.mark.parametrize("lower_first", [True, False], ids=["lower-id-first", "higher-id-first"])
def test_both_lose_signaling_two_seconds_apart(new_page, e2e_room, mint_token, levelchat_server, lower_first):
    if not levelchat_server.redis_url:
        pytest.skip("needs redis-server (the Redis channel layer reaches the server's sockets)")
    alice, bob = new_page(), new_page()
    alice_id = join(alice, mint_token(e2e_room, "alice"))
    bob_id = join(bob, mint_token(e2e_room, "bob"))
    assert_receives(alice, bob_id)
    assert_receives(bob, alice_id)
    before = {
        alice_id: alice.evaluate("lcTest.iceUfrags()")[bob_id],
        bob_id: bob.evaluate("lcTest.iceUfrags()")[alice_id],
    }
    first, second = sorted([alice_id, bob_id], reverse=not lower_first)
    levelchat_server.close_socket(e2e_room.public_id, first, "restart")
    time.sleep(2)  # the scenario itself: the second drop comes 2 s after the first
    levelchat_server.close_socket(e2e_room.public_id, second, "restart")

    def converged() -> bool:
        ufrags = {
            alice_id: alice.evaluate("lcTest.iceUfrags()")[bob_id],
            bob_id: bob.evaluate("lcTest.iceUfrags()")[alice_id],
        }
        return (
            _state(alice, bob_id) == "stable"
            and _state(bob, alice_id) == "stable"
            and all(ufrags[k] != before[k] for k in ufrags)
            and alice.evaluate("lcTest.room.state") == "connected"
            and bob.evaluate("lcTest.room.state") == "connected"
        )

    wait_until(converged, 30, message="both stable with new ICE credentials")
    assert video_plays(alice, bob_id)["ok"]
    assert video_plays(bob, alice_id)["ok"]
    assert alice.evaluate("lcTest.room.localParticipant.id") == alice_id
