"""One valid frame of every message type, both directions: the table the Python and JS protocol tests share.

Client frames are literal (they are what a client sends); server frames come from the builders in
``protocol.py`` (what the server sends). ``python -m django_levelchat.protocol_js`` copies both into the SDK's
generated module, so the JS tests check the same frames. Stdlib only, like ``protocol.py``.
"""

from __future__ import annotations

from typing import Any

from django_levelchat import protocol as p

ALICE = "PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7T"
BOB = "PA_01H8XKZ3ABCDEFGHJKMNPQRSTV"
TRACK = "TR_cam-1"

SDP = (
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:8pm6\r\n"
    "a=ice-pwd:0AbCdEfGhIjKlMnOpQrStUvW\r\n"
    "a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sendrecv\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC\r\n"
    "a=mid:1\r\n"
    "a=recvonly\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
)
#: Candidate strings as browsers and aiortc write them (RTCIceCandidate.candidate, with the "candidate:" prefix).
CANDIDATES = [
    "candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 ufrag 8pm6 network-id 1 network-cost 10",
    "candidate:0 1 UDP 2122252543 fe80::1c2f:9aff:fe3c:1%eth0 53690 typ host",
    "candidate:842163049 1 udp 1677729535 203.0.113.7 44323 typ srflx raddr 10.0.0.1 rport 44323",
    "candidate:1 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active",
    "candidate:3 1 udp 2113937151 4f8a2d3c-1b2e-4c5d-9e8f-0a1b2c3d4e5f.local 54321 typ host",
    "candidate:d41d8cd98f00b204e9800998ecf8427e 1 udp 2130706431 10.1.2.3 40000 typ host",
]

#: One valid frame per client message type (the examples of docs/protocol.md §5, with real values).
CLIENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "hello": {
        "type": "hello",
        "protocol": 1,
        "sdk": {"name": "levelchat-js", "version": "0.1.0"},
        "resume": {"session": "SE_abc", "credential": "eyJz:1tq2:abc"},
    },
    "signal": {"type": "signal", "to": BOB, "description": {"type": "offer", "sdp": SDP}},
    "publish": {
        "type": "publish",
        "id": "r1",
        "track": {"sid": TRACK, "kind": "video", "source": "camera", "muted": False, "layers": ["q", "h", "f"]},
    },
    "unpublish": {"type": "unpublish", "id": "r2", "track": TRACK},
    "mute": {"type": "mute", "track": TRACK, "muted": True},
    "subscribe": {"type": "subscribe", "participant": BOB, "kind": "video"},
    "unsubscribe": {"type": "unsubscribe", "participant": BOB, "track": TRACK},
    "set-preferred-quality": {"type": "set-preferred-quality", "quality": "low", "participant": BOB},
    "chat": {"type": "chat", "id": "r3", "text": "hello", "to": BOB},
    "reaction": {"type": "reaction", "emoji": "👍"},
    "hand": {"type": "hand", "raised": True},
    "audio-level": {"type": "audio-level", "level": 0.42},
    "quality-report": {"type": "quality-report", "quality": "good", "score": 78},
    "record-start": {"type": "record-start", "id": "r4"},
    "record-stop": {"type": "record-stop", "id": "r6"},
    "sfu-signal": {
        "type": "sfu-signal",
        "candidate": {"candidate": CANDIDATES[0], "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "8pm6"},
    },
    "resync": {"type": "resync", "id": "r5"},
    "ping": {"type": "ping", "ts": 1732600000000},
    "leave": {"type": "leave", "reason": "client_initiated"},
    "mute-participant": {"type": "mute-participant", "participant": BOB, "track": TRACK},
    "remove-participant": {"type": "remove-participant", "participant": BOB, "reason": "spam"},
    "end-room": {"type": "end-room", "reason": "done"},
}

_BOB = {"id": BOB, "identity": "bob", "name": "Bob", "role": "participant", "tracks": []}
_ALICE_SENDER = {"id": ALICE, "identity": "alice", "name": "Alice"}
_ROOM = {"id": "RM_demo", "name": "Demo", "room_type": "group", "status": "open", "metadata": {}}
_CAMERA = {"sid": TRACK, "kind": "video", "source": "camera", "muted": False, "layers": ["q", "h", "f"]}
_CANDIDATE = {"candidate": CANDIDATES[-1], "sdpMid": "0", "sdpMLineIndex": 0}

#: One frame per server message type, made by the builders the server uses.
SERVER_EXAMPLES: dict[str, dict[str, Any]] = {
    f["type"]: f
    for f in (
        p.welcome(
            you={**_ALICE_SENDER, "role": "host", "capabilities": [p.CHAT_SEND, p.SUBSCRIBE_ALL], "tracks": []},
            room=_ROOM,
            roster=[_BOB],
            ice_servers=[{"urls": ["stun:stun.example.org:3478"]}],
            ping_interval=10.0,
            ping_timeout=30.0,
            seq=41,
            resume={"session": "SE_abc", "credential": "eyJz:1tq2:abc", "expires_in": 30},
        ),
        p.resync(room=_ROOM, roster=[_BOB], seq=57, ref="r5"),
        p.participant_joined(participant=_BOB, seq=42),
        p.participant_left(participant={"id": BOB, "identity": "bob"}, reason="client_initiated", seq=43),
        p.participant_updated(participant={"id": ALICE, "capabilities": [p.CHAT_SEND]}, seq=44),
        p.participant_updated(participant={"id": BOB, "hand": 1732600000000}, seq=44),
        p.participant_reconnecting(participant=BOB, seq=45),
        p.participant_reconnected(participant=BOB, seq=46),
        p.track_published(participant=BOB, track=_CAMERA, seq=47),
        p.track_unpublished(participant=BOB, track=TRACK, reason="capability_revoked", seq=48),
        p.track_muted(participant=BOB, track="TR_mic", muted=True, by=ALICE, seq=49),
        p.chat_message(id="CM_01J", from_=_ALICE_SENDER, text="hello", ts=1732600000123, seq=50),
        p.reaction(from_=_ALICE_SENDER, emoji="👍", seq=51),
        p.active_speaker(participant=None, seq=52),
        p.connection_quality(participant=BOB, quality="poor", seq=53),
        p.recording(state="started", recording="RC_4kQ", seq=54),
        p.sfu_state(state="unavailable", reason="worker_lost", seq=55),
        p.room_ended(reason="ended_by_admin", seq=56),
        p.signal(from_=BOB, description={"type": "answer", "sdp": SDP}),
        p.sfu_signal(candidate=_CANDIDATE),
        p.layer_demand(track=TRACK, layers=["q", "h"]),
        p.subscribe(from_=BOB, kind="video"),
        p.unsubscribe(from_=BOB, kind="video"),
        p.set_preferred_quality(from_=BOB, quality="low"),
        p.ack("r3", id="CM_01J", ts=1732600000123),
        p.error(p.ErrorCode.FORBIDDEN, "publish:screen is not in your capabilities", ref="r1"),
        p.pong(1732600000000),
        p.closing(code=p.CloseCode.FORBIDDEN, reason=p.CloseReason.REMOVED, message="removed by an admin"),
    )
}
