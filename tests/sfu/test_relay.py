"""RelayBuffer (hook B) frame assembly, loss handling and keyframe-request collapsing, on synthetic packets."""

from __future__ import annotations

import asyncio
import types

from django_levelchat.sfu import sdp as sdp_rules
from django_levelchat.sfu.keyframes import KeyframeRequester
from django_levelchat.sfu.relay import LOSS_TIMEOUT, RelayBuffer, vp8_size
from tests.sfu.peers import wait_for

KEY = bytes([0x00, 0x00, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xB4, 0x00]) + b"k" * 20  # 320x180
DELTA = bytes([0x01, 0x00, 0x00]) + b"d" * 20


def packet(seq: int, ts: int, data: bytes, *, start: bool, marker: bool) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        ssrc=1234,
        sequence_number=seq % 65536,
        timestamp=ts % 2**32,
        marker=int(marker),
        payload=bytes([0x10 if start else 0x00]) + data,
        _data=data,
        extensions=types.SimpleNamespace(audio_level=None),
    )


class Recorder:
    def __init__(self) -> None:
        self.now = 0.0
        self.frames: list = []
        self.losses = 0
        self.buffer = RelayBuffer("video", self.frames.append, self.lost, clock=lambda: self.now)

    def lost(self) -> None:
        self.losses += 1


def test_frames_assemble_across_packets_reordering_and_wraparound() -> None:
    r = Recorder()
    seq = 65534  # wraps inside the second frame
    r.buffer.add(packet(seq, 0, KEY[:15], start=True, marker=False))
    r.buffer.add(packet(seq + 1, 0, KEY[15:], start=False, marker=True))
    r.buffer.add(packet(seq + 3, 3000, DELTA[10:], start=False, marker=True))  # out of order
    assert len(r.frames) == 1
    r.buffer.add(packet(seq + 2, 3000, DELTA[:10], start=True, marker=False))
    assert [f.keyframe for f in r.frames] == [True, False]
    assert r.frames[0].data == KEY and r.frames[1].data == DELTA
    assert r.frames[1].timestamp - r.frames[0].timestamp == 3000
    assert vp8_size(r.frames[0].data) == (320, 180)
    assert r.buffer.add(packet(seq + 1, 0, KEY[15:], start=False, marker=True)) == (False, None)  # late duplicate
    assert len(r.frames) == 2


def test_unrepaired_loss_waits_for_a_keyframe_and_asks_once() -> None:
    r = Recorder()
    r.buffer.add(packet(10, 0, KEY, start=True, marker=True))
    r.buffer.add(packet(12, 6000, DELTA, start=True, marker=True))  # 11 is lost
    assert len(r.frames) == 1 and r.losses == 0
    r.now += LOSS_TIMEOUT + 0.1  # NACK had its chance
    r.buffer.add(packet(13, 9000, DELTA, start=True, marker=True))
    assert r.losses == 1 and len(r.frames) == 1  # deltas after a loss are not decodable: held back
    r.buffer.add(packet(14, 12000, KEY, start=True, marker=True))
    assert len(r.frames) == 2 and r.frames[-1].keyframe
    r.buffer.add(packet(15, 15000, DELTA, start=True, marker=True))
    assert len(r.frames) == 3


async def test_keyframe_requests_collapse() -> None:
    sent: list[float] = []
    now = [100.0]
    requester = KeyframeRequester(lambda: sent.append(now[0]), min_interval=0.05, clock=lambda: now[0])
    for _ in range(10):
        requester.request()
    assert len(sent) == 1  # the first goes out at once, the other nine wait as one
    now[0] += 0.05
    await wait_for(lambda: len(sent) == 2, timeout=10, what="the deferred request")
    await asyncio.sleep(0.1)
    assert len(sent) == 2 and requester.requested == 10


def test_sdp_pinning_and_start_bitrate() -> None:
    offer = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99\r\na=mid:0\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
        "a=rtpmap:98 AV1/90000\r\na=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\n"
        "a=candidate:1 1 udp 2130706431 10.0.0.5 5000 typ host\r\n"
        "a=candidate:2 1 udp 1694498815 93.184.216.34 5000 typ srflx raddr 0.0.0.0 rport 0\r\n"
    )
    pinned = sdp_rules.pin_codecs(offer)
    assert "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n" in pinned and "AV1" not in pinned and "apt=98" not in pinned
    hinted = sdp_rules.add_start_bitrate(pinned, 1200)
    assert "a=fmtp:96 x-google-start-bitrate=1200" in hinted
    public = sdp_rules.drop_private_candidates(offer)
    assert "10.0.0.5" not in public and "93.184.216.34" in public


def test_a_re_offer_keeps_the_negotiated_payload_types() -> None:
    """aiortc numbers every section of its offers from its defaults (VP8 97, RTX 98, Opus 96); a browser that
    offered VP8 as 96 and Opus as 111 would then send with numbers the SFU's started receivers read as RTX or drop,
    and renumber new sections that collide with its own numbers, which the SFU's started senders do not follow.
    """
    negotiated = (
        "v=0\r\ns=-\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack pli\r\n"
        "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    )
    reoffer = (
        "v=0\r\ns=-\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98 99 100\r\na=mid:0\r\na=rtpmap:97 VP8/90000\r\n"
        "a=rtcp-fb:97 nack pli\r\na=rtpmap:98 rtx/90000\r\na=fmtp:98 apt=97\r\n"
        "a=rtpmap:99 H264/90000\r\na=rtpmap:100 rtx/90000\r\na=fmtp:100 apt=99\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 96 0\r\na=mid:1\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98\r\na=mid:2\r\na=rtpmap:97 VP8/90000\r\na=rtpmap:98 rtx/90000\r\n"
        "a=fmtp:98 apt=97\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:3\r\na=rtpmap:96 opus/48000/2\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98\r\na=mid:4\r\na=rtpmap:97 H264/90000\r\na=rtpmap:98 rtx/90000\r\n"
        "a=fmtp:98 apt=97\r\n"
    )
    _, media = sdp_rules._sections(sdp_rules.keep_payload_types(reoffer, negotiated))
    assert media[0] == [
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
        "a=mid:0",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack pli",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
    ]
    assert media[1] == ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:1", "a=rtpmap:111 opus/48000/2"]
    # New sections: the connection's numbers for its codecs (VP8 97 beside the browser's RTX 97 is a collision
    # Chrome resolves by renumbering), and numbers nobody uses for a codec the connection does not have yet.
    assert media[2][0] == "m=video 9 UDP/TLS/RTP/SAVPF 96 97" and "a=fmtp:97 apt=96" in media[2]
    assert media[3] == ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:3", "a=rtpmap:111 opus/48000/2"]
    assert media[4] == [
        "m=video 9 UDP/TLS/RTP/SAVPF 98 99",
        "a=mid:4",
        "a=rtpmap:98 H264/90000",
        "a=rtpmap:99 rtx/90000",
        "a=fmtp:99 apt=98",
    ]


def test_announced_address_and_candidate_filter() -> None:
    answer = (
        "v=0\r\ns=-\r\nm=video 40000 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 10.0.0.5\r\n"
        "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n"
        "a=candidate:2 1 udp 2130706431 172.17.0.1 40001 typ host\r\n"
        "a=candidate:3 1 udp 1694498815 93.184.216.34 40000 typ srflx raddr 10.0.0.5 rport 40000\r\n"
    )
    out = sdp_rules.rewrite_local_candidates(answer, announced="93.184.216.40", only=frozenset({"10.0.0.5"}))
    assert "172.17.0.1" not in out  # not an advertised local address
    assert "a=candidate:1 1 udp 2130706431 93.184.216.40 40000 typ host" in out
    assert "c=IN IP4 93.184.216.40" in out
    assert "93.184.216.34 40000 typ srflx" in out  # server-reflexive candidates are left alone
