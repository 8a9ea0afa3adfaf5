"""Issue 10 (5) and (10): offers with any m-line kind are judged per kind (data channels need no capability,
unknown kinds never crash), and signals to a participant who is reconnecting are held for its resume."""

from __future__ import annotations

import pytest

from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)

HEAD = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
DATA = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n"
AUDIO_SEND = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n"
AUDIO_RECV = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n"


def offer(*sections: str) -> dict:
    return {"type": "offer", "sdp": HEAD + "".join(sections)}


@pytest.mark.parametrize(
    ("caps", "sections", "relayed"),
    [
        (["subscribe:all"], [DATA], True),
        (["subscribe:all"], [AUDIO_RECV, DATA], True),
        (["subscribe:all"], [DATA, AUDIO_SEND], False),
        (["publish:mic"], [AUDIO_SEND, DATA], True),
        (["publish:*"], [DATA, DATA.replace("a=sctp", "a=sendonly\r\na=sctp")], True),
        (["subscribe:all"], ["m=text 9 RTP/AVP 98\r\na=sendrecv\r\n"], False),
        (["publish:camera"], ["m=text 9 RTP/AVP 98\r\na=sendrecv\r\n"], True),
        (["subscribe:all"], ["m=message 9 TCP/MSRP *\r\na=recvonly\r\n"], True),
        (["subscribe:all"], ["m=image 0 udptl t38\r\n"], True),  # port 0: disabled, sends nothing
        (["subscribe:all"], ["m=x-future 9 UDP/FOO 1\r\n"], False),
    ],
)
async def test_offer_relay_per_mline_kind(token_for, caps, sections, relayed):
    sender = Client(token_for("sender", role="host", capabilities=caps))
    receiver = Client(token_for("receiver"))
    await sender.join()
    await receiver.join()
    reply = await sender.request({"type": "signal", "to": receiver.id, "description": offer(*sections)})
    assert reply["type"] == ("ack" if relayed else "error"), reply
    if relayed:
        frame = await receiver.recv("signal")
        assert frame["from"] == sender.id and frame["description"]["sdp"] == offer(*sections)["sdp"]
    else:
        assert reply["code"] == "forbidden"
        assert [f for f in await receiver.drain() if f["type"] == "signal"] == []


async def test_signals_to_a_reconnecting_peer_are_delivered_on_resume(client_for, token_for):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    resume = bob.welcome["resume"]
    await bob.disconnect(code=1006)  # network drop: bob stays in the roster, reconnecting
    candidate = {"candidate": "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host", "sdpMid": "0"}
    restart = offer(AUDIO_RECV)
    for frame in ({"description": restart}, {"candidate": candidate}):
        reply = await alice.request({"type": "signal", "to": bob.id, **frame})
        assert reply["type"] == "ack", reply
    again = Client(token_for("bob"))
    welcome = await again.join(resume={"session": resume["session"], "credential": resume["credential"]})
    assert welcome["you"]["id"] == bob.id
    first, second = await again.recv("signal"), await again.recv("signal")
    assert first["description"]["sdp"] == restart["sdp"] and first["from"] == alice.id
    assert second["candidate"]["candidate"] == candidate["candidate"]
    assert await again.nothing(0.2), "each held signal is delivered once"


async def test_held_signals_are_bounded(client_for, token_for, levelchat_settings):
    levelchat_settings(PENDING_SIGNALS=3)
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    resume = bob.welcome["resume"]
    await bob.disconnect(code=1006)
    for i in range(10):
        cand = {"candidate": f"candidate:{i} 1 udp 1 127.0.0.1 {5000 + i} typ host", "sdpMid": "0"}
        assert (await alice.request({"type": "signal", "to": bob.id, "candidate": cand}))["type"] == "ack"
    again = Client(token_for("bob"))
    await again.join(resume={"session": resume["session"], "credential": resume["credential"]})
    held = [await again.recv("signal") for _ in range(3)]
    assert [f["candidate"]["candidate"].split()[0] for f in held] == ["candidate:7", "candidate:8", "candidate:9"]
    assert await again.nothing(0.2)
