"""Malformed input (T27–T33, T35): each case gets its documented error code, the socket stays up, nobody else
hears anything, and nothing ever ends with 1011."""

from __future__ import annotations

import json
import logging

import pytest

from django_levelchat import protocol
from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)

P = "PA_" + "0" * 26
SDP_OK = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n"


def _signal(sdp: str) -> str:
    return json.dumps({"type": "signal", "to": P, "description": {"type": "offer", "sdp": sdp}})


def corpus() -> list[tuple[str, str, str]]:
    """(case id, raw frame text, expected error code)."""
    cases: list[tuple[str, str, str]] = []
    for i, text in enumerate(
        [
            "{not json",
            "\t",
            " ",
            "[]",
            '"str"',
            "null",
            "42",
            "true",
            "{",
            "}",
            '{"type":"ping",}',
            "{'type':'ping'}",
            '{"type":"ping"} trailing',
            "\ufeff" + '{"type":"ping"}',
            '{"type":"ping","ts":NaN}',
            '{"type":"ping","ts":Infinity}',
            '{"type":"ping","ts":1e400}',
            '{"type":"ping","ts":123456789012345678901234567890}',
            '{"type":"ping","type":"chat"}',
            "[" * 5000 + "]" * 5000,
            '{"a":' * 10_000 + "1" + "}" * 10_000,
            '{"type":"chat","text":"\\ud800"}',
            '{"type":"ping"}\x00',
            "\x00",
            '{"type":"ping" "ts":1}',
            '{"type":ping}',
            '{"type":"ping","ts":-}',
            "[" * 17 + "]" * 17,
            '{"type":"ping","ts":0x10}',
            '{"type":"\\u0000"}',
        ]
    ):
        code = {'{"type":"\\u0000"}': "unknown_type", '{"type":"chat","text":"\\ud800"}': "bad_request"}.get(
            text, "bad_json"
        )
        cases.append((f"json-{i}", text, code))
    for i, value in enumerate([123, None, [], {}, True, "x" * 10_000, "BOGUS", "Hello", "hello ", "ping\n"]):
        frame = {"type": value} if value is not None else {"id": "x"}
        cases.append((f"type-{i}", json.dumps(frame), "unknown_type"))
    for i, name in enumerate(
        ["welcome", "ack", "error", "pong", "participant-joined", "room-ended", "sfu_signal", "x"]
    ):
        cases.append((f"server-type-{i}", json.dumps({"type": name}), "unknown_type"))
    bad_fields = {
        "signal": [
            {"to": 5},
            {"to": "bob"},
            {"to": P},
            {"to": P, "description": "x"},
            {"to": P, "candidate": 7},
            {"to": P, "description": {"type": "offer"}},
            {"to": P, "description": {"type": "bogus", "sdp": SDP_OK}},
            {"to": P, "candidate": {"candidate": "x" * 300, "sdpMid": "0"}},
            {"to": P, "candidate": {"candidate": "garbage", "sdpMid": "0"}},
            {"to": P, "description": {"type": "offer", "sdp": SDP_OK}, "candidate": {"candidate": "", "sdpMid": "0"}},
        ],
        "publish": [
            {},
            {"track": 1},
            {"track": {}},
            {"track": {"sid": "bad", "kind": "video", "source": "camera"}},
            {"track": {"sid": "TR_a", "kind": "audio", "source": "camera"}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "hologram"}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "muted": "no"}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "layers": ["q", "h", "f", "q"]}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "layers": ["x"]}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "name": "n" * 200}},
        ],
        "unpublish": [{}, {"track": 5}, {"track": "TR_" + "a" * 100}],
        "mute": [{"track": "TR_a"}, {"track": "TR_a", "muted": "yes"}, {"muted": True}],
        "subscribe": [
            {},
            {"participant": "bob"},
            {"participant": P, "kind": "smell"},
            {"participant": P, "kind": "audio", "track": "TR_a"},
        ],
        "unsubscribe": [{}, {"participant": 1}],
        "set-preferred-quality": [{}, {"quality": "ultra"}, {"quality": "low", "participant": "x"}],
        "chat": [
            {},
            {"text": ""},
            {"text": "   "},
            {"text": "x" * 2001},
            {"text": 5},
            {"text": "hi", "to": "bob"},
            {"text": ["a"]},
        ],
        "reaction": [{}, {"emoji": ""}, {"emoji": "x" * 40}, {"emoji": 1}],
        "audio-level": [{}, {"level": 2}, {"level": -1}, {"level": "loud"}, {"level": True}],
        "quality-report": [{}, {"quality": "superb"}, {"quality": "good", "score": 101}],
        "mute-participant": [{}, {"participant": "x"}],
        "remove-participant": [{}, {"participant": 3}],
        "end-room": [{"reason": 5}, {"reason": "r" * 100}],
        "leave": [{"reason": {}}],
        "ping": [{"ts": "now"}],
        "hello": [{"protocol": "1"}, {"protocol": 99}, {"protocol": 1, "resume": "x"}],
    }
    for kind, variants in bad_fields.items():
        for i, fields in enumerate(variants):
            cases.append((f"field-{kind}-{i}", json.dumps({"type": kind, **fields}), "bad_request"))
    for i, ref in enumerate([{}, [], 5, "", "x" * 65, "a\nb"]):
        cases.append((f"id-{i}", json.dumps({"type": "ping", "id": ref}), "bad_request"))
    sdp_mutations = [
        "x=0\r\n",
        "v=1\r\n",
        SDP_OK.replace("v=0", "v=0\x00"),
        SDP_OK + "m=audio 9 RTP/AVP 0\r\n" * 20,
        SDP_OK + "a=" + "x" * 5000 + "\r\n",
        SDP_OK + "a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n" * 60,
        "v=0\r\n" + "a=x\r\n" * 9000,
        "",
    ]
    for i, sdp in enumerate(sdp_mutations):
        cases.append((f"sdp-{i}", _signal(sdp), "bad_sdp"))
    return cases


CORPUS = corpus()


def test_corpus_is_large_and_unique():
    assert len(CORPUS) >= 125
    assert len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("batch", range(0, len(CORPUS), 15))
async def test_corpus(token_for, batch, caplog):
    listener = Client(token_for("listener"))
    await listener.join()
    fuzzer = Client(token_for("fuzzer"))
    await fuzzer.join()
    await listener.drain()
    with caplog.at_level(logging.ERROR, logger="django_levelchat"):
        for case_id, text, expected in CORPUS[batch : batch + 15]:
            await fuzzer.send(text)
            reply = await fuzzer.recv()
            assert reply["type"] == "error", (case_id, reply)
            assert reply["code"] == expected, (case_id, reply)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no unhandled exception"
    await fuzzer.send({"type": "ping", "ts": 1})
    assert (await fuzzer.recv())["type"] == "pong", "the socket is still up"
    assert await listener.nothing(0.1), "other participants heard nothing"


async def test_too_many_protocol_errors_close_4400(client_for):
    alice = client_for("alice")
    await alice.join()
    for _ in range(protocol.MAX_PROTOCOL_ERRORS + 1):
        await alice.send("{bad")
    close = await alice.closed()
    assert (close["code"], close["reason"]) == (4400, "too_many_errors")


async def test_state_machine_sequences(client_for, token_for):
    early = Client(token_for("early"))
    await early.connect()
    for frame in (
        {"type": "publish", "track": {"sid": "TR_a", "kind": "video", "source": "camera"}},
        {"type": "leave"},
        {"type": "resync"},
        {"type": "signal", "to": P, "candidate": {"candidate": ""}},
    ):
        await early.send(frame)
        assert (await early.recv("error"))["code"] == "bad_state"
    alice = client_for("alice")
    await alice.join()
    await alice.request({"type": "leave"})
    assert (await alice.closed())["code"] == 1000


async def test_flood_gets_rate_limited_then_4429(client_for, levelchat_settings):
    levelchat_settings(RATE_LIMIT_RATE=5, RATE_LIMIT_BURST=5, RATE_LIMIT_GRACE=0.3)
    flooder, bystander = client_for("flooder"), client_for("bystander")
    await flooder.join()
    await bystander.join()
    warned = False
    close = None
    for _ in range(2000):
        await flooder.send({"type": "ping"})
        while not await flooder.nothing(0.001):
            out = await flooder.raw()
            if out.get("code") == "rate_limited":
                warned = True
            if out["type"] == "websocket.close":
                close = out
                break
        if close:
            break
    assert warned, "a rate_limited warning comes before the close"
    assert close is not None and (close["code"], close["reason"]) == (4429, "rate_limited")
    await bystander.send({"type": "ping", "ts": 2})
    assert (await bystander.recv("pong"))["ts"] == 2
