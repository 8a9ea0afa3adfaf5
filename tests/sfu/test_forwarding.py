"""Encoded forwarding end to end with real aiortc peers on loopback: publisher -> SFU -> decoding subscribers.

Small on purpose (320x180 at 15 fps, a few seconds): the machine is shared. Deadlines are generous and nothing
asserts a duration; what is asserted is that frames decode at the published size, that a late joiner gets a
picture (which needs an upstream keyframe request, since the publisher's GOP is 3000 frames), and that requests
collapse instead of storming the publisher.
"""

from __future__ import annotations

from typing import Any

import pytest
from aioice.ice import get_host_addresses

from django_levelchat import protocol
from django_levelchat.sfu import sdp as sdp_rules
from django_levelchat.sfu.room import SfuConfig, SfuRoom
from tests.sfu.peers import HEIGHT, WIDTH, PatternTrack, RawPeer, wait_for

PUB = "PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7A"
SUBS = ["PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7B", "PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7C"]
LATE = "PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7D"

pytestmark = pytest.mark.timeout(300)
ADDRESS = get_host_addresses(use_ipv4=True, use_ipv6=False)[0]  # aioice gathers no loopback candidates


class Harness:
    def __init__(self, **config: Any) -> None:
        self.peers: dict[str, RawPeer] = {}
        # One local address is advertised: what reaches the peers is the filtered SDP, and it connects.
        settings = SfuConfig(allow_private_candidates=True, candidate_addresses=frozenset({ADDRESS}), **config)
        self.room = SfuRoom("RM_test", self._send, settings)

    async def _send(self, pid: str, frame: dict) -> None:
        await self.peers[pid].deliver(frame)

    async def _to_sfu(self, pid: str, description) -> None:
        await self.room.signal(pid, description=description)

    def peer(self, pid: str) -> RawPeer:
        self.peers[pid] = RawPeer(pid, self._to_sfu)
        return self.peers[pid]

    async def close(self) -> None:
        for peer in self.peers.values():
            await peer.close()
        await self.room.close()


@pytest.fixture
async def harness():
    h = Harness()
    yield h
    await h.close()


async def test_publisher_to_two_subscribers_and_a_late_joiner(harness: Harness) -> None:
    room = harness.room
    publisher = harness.peer(PUB)
    mids = await publisher.publish_video("TR_cam", [PatternTrack()])
    await room.publish(PUB, {"sid": "TR_cam", "kind": "video", "source": "camera", "mids": mids})
    await room.signal(PUB, description=publisher.offer())
    await wait_for(lambda: publisher.pc.connectionState == "connected", what="publisher connected")
    candidates = [line for line in publisher.pc.remoteDescription.sdp.splitlines() if line.startswith("a=candidate")]
    assert candidates and all(f" {ADDRESS} " in line for line in candidates)

    subscribers = [harness.peer(pid) for pid in SUBS]
    for sub in subscribers:
        await room.join(sub.pid)
    for sub in subscribers:
        await wait_for(lambda sub=sub: len(sub.frames) >= 10, what=f"frames at {sub.pid}")
        assert sub.sizes() == {(WIDTH, HEIGHT)}
        assert {f["track"] for f in sub.frames} == {"TR_cam"}  # msid carries the published track's sid

    layer = room.peers[PUB].layers[mids[0]]
    assert layer.buffer.keyframes >= 1
    requests_before = publisher.keyframe_requests
    late = harness.peer(LATE)
    await room.join(LATE)
    await wait_for(lambda: len(late.frames) >= 5, what="frames at the late joiner")
    assert late.sizes() == {(WIDTH, HEIGHT)}
    # The late joiner's picture needed a keyframe the publisher only makes on request (its GOP is 3000 frames).
    assert publisher.keyframe_requests > requests_before
    assert layer.keyframes.sent >= 2  # one for the first subscribers, one for the late joiner
    # Requests from three subscribers (subscribe + their own PLIs) collapsed: far fewer went upstream.
    assert layer.keyframes.sent <= layer.keyframes.requested
    assert room.stats()["forwards"] == 3


async def test_unsupported_codec_is_refused_with_bad_sdp(harness: Harness) -> None:
    from django_levelchat import protocol

    publisher = harness.peer(PUB)
    await publisher.publish_video("TR_cam", [PatternTrack()])
    sdp = publisher.pc.localDescription.sdp.replace("VP8/90000", "VP9/90000")
    with pytest.raises(protocol.ProtocolError) as info:
        await harness.room.signal(PUB, description=protocol.SessionDescription(type="offer", sdp=sdp))
    assert info.value.code == protocol.ErrorCode.BAD_SDP


async def test_simulcast_layers_follow_preferred_quality_and_demand(harness: Harness) -> None:
    """Three send-only transceivers (q, h, f); a subscriber's preference picks the layer, switching on a keyframe."""
    room = harness.room
    publisher = harness.peer(PUB)
    sizes = {"q": (160, 90), "h": (240, 136), "f": (320, 180)}
    mids = await publisher.publish_video("TR_cam", [PatternTrack(*sizes[n]) for n in ("q", "h", "f")])
    track = {"sid": "TR_cam", "kind": "video", "source": "camera", "layers": ["q", "h", "f"], "mids": mids}
    await room.publish(PUB, track)
    await room.signal(PUB, description=publisher.offer())
    sub = harness.peer(SUBS[0])
    await room.join(sub.pid)
    await room.set_quality(sub.pid, "low")
    await wait_for(lambda: sizes["q"] in sub.sizes(), what="the q layer")
    await wait_for(lambda: publisher.layer_demands, what="a layer-demand to the publisher")
    assert publisher.layer_demands[-1] == {"type": "layer-demand", "track": "TR_cam", "layers": ["q"]}

    await room.set_quality(sub.pid, "high")
    switched_at = len(sub.frames)
    await wait_for(lambda: any(f["size"] == sizes["f"] for f in sub.frames[switched_at:]), what="the f layer")
    forward = room.peers[sub.pid].forwards[(PUB, "TR_cam")]
    assert forward.track.current.name == "f" and forward.track.switches >= 1
    assert publisher.layer_demands[-1]["layers"] == ["f"]
    # After the switch only f frames arrive (the old layer is no longer forwarded).
    after = len(sub.frames)
    await wait_for(lambda: len(sub.frames) >= after + 5, what="frames after the switch")
    assert {f["size"] for f in sub.frames[after:]} == {sizes["f"]}


async def test_audio_is_forwarded(harness: Harness) -> None:
    from aiortc.mediastreams import AudioStreamTrack

    room = harness.room
    publisher = harness.peer(PUB)
    transceiver = publisher.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await publisher.pc.setLocalDescription(await publisher.pc.createOffer())
    await room.publish(PUB, {"sid": "TR_mic", "kind": "audio", "source": "microphone", "mids": [transceiver.mid]})
    await room.signal(PUB, description=publisher.offer())
    sub = harness.peer(SUBS[0])
    await room.join(sub.pid)
    await wait_for(lambda: len([f for f in sub.frames if f["kind"] == "audio"]) >= 20, what="audio frames")
    assert {f["track"] for f in sub.frames} == {"TR_mic"}


async def test_a_silent_layer_falls_back_to_the_best_live_one(harness: Harness) -> None:
    room = harness.room
    publisher = harness.peer(PUB)
    sizes = {"q": (160, 90), "h": (240, 136), "f": (320, 180)}
    mids = await publisher.publish_video("TR_cam", [PatternTrack(*sizes[n]) for n in ("q", "h", "f")])
    track = {"sid": "TR_cam", "kind": "video", "source": "camera", "layers": ["q", "h", "f"], "mids": mids}
    await room.publish(PUB, track)
    await room.signal(PUB, description=publisher.offer())
    sub = harness.peer(SUBS[0])
    await room.join(sub.pid)
    await room.set_quality(sub.pid, "high")
    await wait_for(lambda: sizes["f"] in sub.sizes(), what="the f layer")
    full = next(t for t in publisher.pc.getTransceivers() if t.mid == mids[2])
    full.sender.replaceTrack(None)  # the publisher stops sending f (CPU or bandwidth limits, a paused encoding)
    stopped = len(sub.frames)
    await wait_for(lambda: any(f["size"] == sizes["h"] for f in sub.frames[stopped:]), what="fallback to h")
    assert room.peers[sub.pid].forwards[(PUB, "TR_cam")].track.current.name == "h"


def test_auto_picks_the_best_layer_the_budget_allows() -> None:
    import types

    from django_levelchat.sfu.relay import Layer
    from django_levelchat.sfu.room import Source

    source = Source(
        PUB, {"sid": "TR_cam", "kind": "video", "source": "camera", "layers": ["q", "h", "f"], "mids": ["0", "1", "2"]}
    )
    for mid, bitrate in (("0", 150_000), ("1", 500_000), ("2", 1_400_000)):
        receiver = types.SimpleNamespace()
        layer = Layer(receiver, "video", mid, clock=lambda: 100.0)
        layer.bitrate, layer.last_frame_at = bitrate, 99.8
        source.bind(layer)
    assert source.pick("auto", budget=2_000_000, now=100.0).name == "f"
    assert source.pick("auto", budget=800_000, now=100.0).name == "h"
    assert source.pick("auto", budget=50_000, now=100.0).name == "q"  # nothing fits: the lowest
    assert source.pick("medium", budget=2_000_000, now=100.0).name == "h"  # never above the preference
    source.layers["h"].last_frame_at = 90.0  # h went silent
    assert source.pick("medium", budget=None, now=100.0).name == "q"


async def test_a_nack_is_answered_from_the_egress_history_as_rtx(harness: Harness) -> None:
    """The SFU sends forwarded packets itself (sfu.egress); a subscriber's NACK must still get the packet back."""
    from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket

    room = harness.room
    publisher = harness.peer(PUB)
    mids = await publisher.publish_video("TR_cam", [PatternTrack()])
    await room.publish(PUB, {"sid": "TR_cam", "kind": "video", "source": "camera", "mids": mids})
    await room.signal(PUB, description=publisher.offer())
    sub = harness.peer(SUBS[0])
    await room.join(sub.pid)
    await wait_for(lambda: len(sub.frames) >= 5, what="frames at the subscriber")

    receiver = sub.pc.getTransceivers()[0].receiver
    received: list[Any] = []
    original = receiver._handle_rtp_packet

    async def capture(packet: Any, arrival_time_ms: int) -> None:
        received.append(packet)
        await original(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = capture
    forward = room.peers[sub.pid].forwards[(PUB, "TR_cam")]
    sender, egress = forward.transceiver.sender, forward.track.egress
    lost = (egress.sequence_number - 3) & 0xFFFF  # sent a moment ago, still in the history
    await sender._handle_rtcp_packet(RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc, lost=[lost]))
    assert egress.retransmitted == 1

    def repaired() -> bool:
        return any(p.ssrc == sender._rtx_ssrc and p.payload[:2] == lost.to_bytes(2, "big") for p in received)

    await wait_for(repaired, what="the RTX copy of the lost packet")


def _numbered_like_chrome(description: protocol.SessionDescription) -> protocol.SessionDescription:
    """A publisher's offer with VP8 as 96 and RTX as 97 (Chrome's numbers), not aiortc's 97/98."""
    session, media = sdp_rules._sections(description.sdp)
    for section in media:
        sdp_rules._renumber(section, {"97": "96", "98": "97"})
    return protocol.SessionDescription(type="offer", sdp=sdp_rules._join(session, media))


async def test_a_browser_numbered_publisher_keeps_reaching_the_sfu_across_a_re_offer(harness: Harness) -> None:
    """aiortc's createOffer renumbers every section from its defaults. A re-offer made while a publisher's
    connection was still coming up started the SFU's receiver with VP8 = 97 (RTX for this publisher), so every
    packet was dropped; and the re-offer itself asked the publisher to send VP8 as 97."""
    room = harness.room
    first, second, viewer = harness.peer(PUB), harness.peer(SUBS[0]), harness.peer(SUBS[1])
    first_mids = await first.publish_video("TR_cam", [PatternTrack()])
    second_mids = await second.publish_video("TR_cam2", [PatternTrack()])
    await room.join(SUBS[0], subscribe=False)  # publishes only: no offer of the SFU crosses its own
    await room.publish(PUB, {"sid": "TR_cam", "kind": "video", "source": "camera", "mids": first_mids})
    await room.signal(PUB, description=_numbered_like_chrome(first.offer()))
    # At once, before the first connection is up: the second publisher's track makes the SFU re-offer to the first.
    await room.publish(SUBS[0], {"sid": "TR_cam2", "kind": "video", "source": "camera", "mids": second_mids})
    await room.signal(SUBS[0], description=_numbered_like_chrome(second.offer()))
    await room.join(SUBS[1])
    for sid in ("TR_cam", "TR_cam2"):
        await wait_for(lambda sid=sid: sum(f["track"] == sid for f in viewer.frames) >= 10, what=f"{sid} at the viewer")
    offered = [line for line in first.pc.remoteDescription.sdp.splitlines() if "VP8/90000" in line]
    assert offered[0] == "a=rtpmap:96 VP8/90000", offered  # its section kept the number it was negotiated with
