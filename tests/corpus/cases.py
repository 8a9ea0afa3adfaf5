"""The malformed-frame corpus (G6): each case is a raw text frame and the error codes docs/protocol.md allows for it.

Built from the protocol's own examples and limits, so it grows with the protocol. Categories follow RELIABILITY.md
G6: JSON syntax, wrong types, unknown types, field bounds, unicode/encoding, SDP mutations, nesting/size. The state
machine sequences live in ``test_corpus.py`` (they need several frames).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from django_levelchat import protocol as p
from django_levelchat.protocol_examples import CLIENT_EXAMPLES

PEER = "PA_" + "0" * 26
HEAD = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
AUDIO = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n"
BAD_REQUEST = frozenset({"bad_request"})
Case = tuple[str, str, frozenset[str]]


def _frame(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def json_syntax() -> list[Case]:
    texts = [
        "{not json",
        " \n ",
        " ",
        "\t",
        "[]",
        '"str"',
        "null",
        "42",
        "true",
        "false",
        "{",
        "}",
        "{}}",
        "{{}",
        '{"type":"ping",}',
        "{'type':'ping'}",
        '{"type":"ping"} x',
        '{"type":"ping"}{"type":"ping"}',
        '{"type" "ping"}',
        '{"type":ping}',
        '{type:"ping"}',
        '{"type":"ping","ts":-}',
        '{"type":"ping","ts":0x1}',
        '{"type":"ping","ts":01}',
        '{"type":"ping","ts":.5}',
        '{"type":"ping","ts":1.}',
        '{"type":"ping","ts":+1}',
        '{"type":"pi\\ng"',
        '{"type":"\\x41"}',
        '{"type":"ping","a":[1,2,]}',
        '{"type":"ping"}\x00',
        "\ufeff" + '{"type":"ping"}',
        '{"type":"ping","type":"chat"}',
        '{"type":"ping","a":{"b":1,"b":2}}',
    ]
    return [(f"json-{i}", t, frozenset({"bad_json"})) for i, t in enumerate(texts)]


def _wrong_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [12345, "text", [value]]
    if isinstance(value, bool):
        return ["true", 1, None if False else [True]]
    if isinstance(value, int | float):
        return ["1", [1], {"n": 1}]
    if isinstance(value, list):
        return ["q", 7, {"a": 1}]
    return [12345, ["x"], {"x": 1}]


def wrong_types() -> list[Case]:
    cases: list[Case] = []
    for kind, example in CLIENT_EXAMPLES.items():
        for key, value in example.items():
            if key == "type":
                continue
            for j, wrong in enumerate(_wrong_values(value)):
                frame = {**copy.deepcopy(example), key: wrong}
                codes = {"bad_request", "bad_sdp"} if kind in ("signal", "sfu-signal") else {"bad_request"}
                cases.append((f"type-{kind}-{key}-{j}", _frame(frame), frozenset(codes)))
    return cases


def unknown_types() -> list[Case]:
    names = [
        "welcome",
        "ack",
        "error",
        "pong",
        "closing",
        "participant-joined",
        "room-ended",
        "sfu_signal",
        "Ping",
        "PING",
        "ping ",
        " ping",
        "chat\n",
        "x" * 300,
        "",
        "hello\x00",
        "signal/..",
        "track-published",
        "__proto__",
        "constructor",
    ]
    cases = [(f"unknown-{i}", _frame({"type": n}), frozenset({"unknown_type"})) for i, n in enumerate(names)]
    for i, value in enumerate([1, 1.5, True, None, [], {}, ["ping"], {"ping": 1}]):
        frame = {"type": value} if value is not None else {"id": "x"}
        cases.append((f"unknown-typed-{i}", _frame(frame), frozenset({"unknown_type"})))
    return cases


def field_bounds() -> list[Case]:
    over = {
        "chat": [{"text": "x" * (p.MAX_CHAT_LEN + 1)}, {"text": ""}, {"text": " \n\t "}, {"text": "hi", "to": "PA_x"}],
        "reaction": [{"emoji": "x" * (p.MAX_EMOJI_LEN + 1)}, {"emoji": ""}, {"emoji": "  "}],
        "leave": [{"reason": "r" * (p.MAX_REASON_LEN + 1)}],
        "end-room": [{"reason": "r" * (p.MAX_REASON_LEN + 1)}],
        "remove-participant": [{"participant": PEER, "reason": "r" * (p.MAX_REASON_LEN + 1)}, {"participant": "bob"}],
        "publish": [
            {"track": {"sid": "TR_" + "a" * 41, "kind": "video", "source": "camera"}},
            {"track": {"sid": "TR_", "kind": "video", "source": "camera"}},
            {"track": {"sid": "tr_a", "kind": "video", "source": "camera"}},
            {"track": {"sid": "TR_a b", "kind": "video", "source": "camera"}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "name": "n" * (p.MAX_NAME_LEN + 1)}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "layers": ["q", "h", "f", "f"]}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "layers": ["q", "q"]}},
            {"track": {"sid": "TR_a", "kind": "audio", "source": "microphone", "layers": ["q"]}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "mids": ["0"] * 4}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "mids": ["m" * 33]}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "camera", "mids": ["a\r\nb"]}},
            {"track": {"sid": "TR_a", "kind": "audio", "source": "camera"}},
            {"track": {"sid": "TR_a", "kind": "video", "source": "screen_audio"}},
        ],
        "audio-level": [{"level": 1.0001}, {"level": -0.0001}, {"level": 1e308}],
        "quality-report": [{"quality": "good", "score": 100.5}, {"quality": "good", "score": -1}, {"quality": "ok"}],
        "set-preferred-quality": [{"quality": "ultra"}, {"quality": ""}, {"quality": "low", "participant": "PA_1"}],
        "subscribe": [{"participant": PEER, "kind": "audio", "track": "TR_a"}, {"participant": PEER, "kind": "data"}],
        "hello": [
            {"protocol": 1, "sdk": {"name": "n" * (p.MAX_SDK_FIELD_LEN + 1), "version": "1"}},
            {"protocol": 1, "sdk": {"name": "n", "version": "v" * (p.MAX_SDK_FIELD_LEN + 1)}},
            {"protocol": 1, "resume": {"session": "s" * (p.MAX_SESSION_LEN + 1), "credential": "c"}},
            {"protocol": 1, "resume": {"session": "s", "credential": "c" * (p.MAX_CREDENTIAL_LEN + 1)}},
            {"protocol": 0},
            {"protocol": 1001},
            {"protocol": 2},
        ],
        "signal": [
            {"to": PEER, "candidate": {"candidate": "candidate:" + "1" * 300, "sdpMid": "0"}},
            {"to": PEER, "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host", "sdpMLineIndex": 32}},
            {"to": PEER, "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host", "sdpMLineIndex": -1}},
            {"to": PEER, "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host", "sdpMid": "m" * 33}},
            {"to": PEER, "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host"}},
            {"to": PEER, "candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host\r\na=x", "sdpMid": "0"}},
            {"to": PEER, "description": {"type": "offer"}},
            {"to": PEER},
        ],
        "mute": [{"track": "TR_a"}, {"track": "TR_" + "a" * 50, "muted": True}],
    }
    cases: list[Case] = []
    for kind, variants in over.items():
        for i, fields in enumerate(variants):
            cases.append((f"bound-{kind}-{i}", _frame({"type": kind, **fields}), BAD_REQUEST))
    for i, ref in enumerate(["", "x" * (p.MAX_ID_LEN + 1), "a\nb", 5, [], {}, True, "a\x00"]):
        cases.append((f"bound-id-{i}", json.dumps({"type": "ping", "id": ref}), BAD_REQUEST))
    return cases


def unicode_encoding() -> list[Case]:
    cases: list[Case] = []
    controls = [chr(c) for c in (0, 1, 7, 8, 0x0B, 0x0C, 0x1B, 0x1F, 0x7F, 0x85, 0x9F)]
    for i, ch in enumerate(controls):
        cases.append((f"uni-chat-{i}", _frame({"type": "chat", "text": f"a{ch}b"}), BAD_REQUEST))
        cases.append((f"uni-emoji-{i}", _frame({"type": "reaction", "emoji": f"{ch}"}), BAD_REQUEST))
    for i, field in enumerate(["text", "emoji", "reason"]):
        kind = {"text": "chat", "emoji": "reaction", "reason": "leave"}[field]
        text = f'{{"type":"{kind}","{field}":"a\\ud800b"}}'
        cases.append((f"uni-surrogate-{i}", text, frozenset({"bad_request", "bad_json"})))
        text = f'{{"type":"{kind}","{field}":"\\udfff"}}'
        cases.append((f"uni-lowsurrogate-{i}", text, frozenset({"bad_request", "bad_json"})))
    cases.append(("uni-leave-newline", _frame({"type": "leave", "reason": "a\nb"}), BAD_REQUEST))
    cases.append(
        ("uni-sdk-tab", _frame({"type": "hello", "protocol": 1, "sdk": {"name": "a\tb", "version": "1"}}), BAD_REQUEST)
    )
    cases.append(("uni-bom", "\ufeff" + _frame({"type": "ping"}), frozenset({"bad_json"})))
    cases.append(("uni-type-nul", '{"type":"ping\\u0000"}', frozenset({"unknown_type"})))
    return cases


def sdp_mutations() -> list[Case]:
    ok = HEAD + AUDIO
    mutations = [
        "",
        "v=1\r\n",
        "x=0\r\n" + ok,
        " v=0\r\n",
        "v=0\r\nfoo\r\n",
        ok.replace("\r\n", "\r"),
        ok + "\r\n",
        ok.replace("o=-", "O=-"),
        ok + "a=x\x00\r\n",
        ok + "a=\x07\r\n",
        ok + "a=" + "x" * (p.MAX_SDP_LINE_LEN + 1) + "\r\n",
        HEAD + AUDIO * (p.MAX_SDP_MLINES + 1),
        ok + "m=audio\r\n",
        ok + "m=audio x RTP/AVP 0\r\n",
        ok + "m=AUDIO 9 RTP/AVP 0\r\n",
        ok + "m=audio 999999 RTP/AVP 0\r\n",
        ok + "m=audio 9\r\n",
        ok + "a=candidate:garbage\r\n",
        ok + "a=candidate:1 1 udp 1 1.2.3.4 9 typ\r\n",
        ok + "a=candidate:1 1 udp 1 1.2.3.4 9 typ host\r\n" * (p.MAX_SDP_CANDIDATES_PER_MEDIA + 1),
        ok + "a=sendrecv\r\n",
        ok + "a=sendonly\r\na=inactive\r\n",
        ok + "a=fingerprint:sha-256 AB:CD\r\na=fingerprint:sha-256 AB:CE\r\n",
        HEAD + AUDIO + "a=fingerprint:sha-256 AB\r\n" + AUDIO + "a=fingerprint:sha-256 CD\r\n",
        ok + "a=fingerprint:sha-256\r\n",
        ok + "a=fingerprint: AB\r\n",
        ok + "=x\r\n",
        ok + "ab=x\r\n",
        ok + "1=x\r\n",
        ok + "a\r\n",
        ok + "\r\n",
        ok + "\n\n",
        "v=0\r\n" + "a=x\r\n" * 9000,
        ok + "a=x\x0c\r\n",
        "v=0\r\n\r\n",
        ok + "a=candidate:1 1 udp 1 1.2.3.4 9 typ host\r\n" * 1001,
        ok.replace("v=0", "v=0 "),
        "V=0\r\n",
        "\ufeffv=0\r\n",
        ok + "m=audio 9 RTP/AVP " + "1 " * 600 + "\r\n",
        ok + "m=" + "a" * 40 + " 9 RTP/AVP 0\r\n",
        ok + "m=audio 9/x RTP/AVP 0\r\n",
        ok + "m=audio 9 " + "R" * 65 + " 0\r\n",
        ok + "m=audio -9 RTP/AVP 0\r\n",
        ok + "b\r\n",
        ok + "a=x\rb=y\r\n",
        ok + "a=\x1b[31m\r\n",
        ok + "a=candidate:1 1 udp 1 1.2.3.4 9 typ host extra\r\n",
        ok + "a=fingerprint:sha-256 ZZ\r\n",
        ok + "m=audio 9 RTP/AVP 0\r\na=recvonly\r\na=recvonly\r\n",
    ]
    cases: list[Case] = []
    for i, sdp in enumerate(mutations):
        frame = {"type": "signal", "to": PEER, "description": {"type": "offer", "sdp": sdp}}
        cases.append((f"sdp-{i}", _frame(frame), frozenset({"bad_sdp"})))
    return cases


def nesting_and_size() -> list[Case]:
    deep_ok = '{"type":"ping","a":' + "[" * 15 + "]" * 15 + "}"
    texts = [
        "[" * 17 + "]" * 17,
        "[" * 5000 + "]" * 5000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        '{"type":"ping","a":' + "[" * 16 + "]" * 16 + "}",
        '{"type":"ping","a":' + "{" * 20 + "}" * 20 + "}",
        '{"type":"ping","ts":1e400}',
        '{"type":"ping","ts":-1e400}',
        '{"type":"ping","ts":NaN}',
        '{"type":"ping","ts":Infinity}',
        '{"type":"ping","ts":-Infinity}',
        '{"type":"ping","ts":9007199254740992}',
        '{"type":"ping","ts":-9007199254740992}',
        '{"type":"ping","ts":' + "9" * 5000 + "}",
        '{"type":"ping","a":"' + "[" * 100 + '"' + ',"b":' + "[" * 20 + "]" * 20 + "}",
    ]
    cases: list[Case] = [(f"nest-{i}", t, frozenset({"bad_json"})) for i, t in enumerate(texts)]
    assert p.decode_frame(deep_ok)  # the limit itself is fine
    many = '{"type":"chat","text":' + json.dumps("x" * 3000) + "}"
    cases.append(("size-chat-3000", many, BAD_REQUEST))
    cases.append(("size-array", '{"type":"ping","ts":[' + ",".join(["1"] * 20000) + "]}", BAD_REQUEST))
    cases.append(("size-keys", json.dumps({"type": "reaction", **{f"k{i}": i for i in range(3000)}}), BAD_REQUEST))
    cases.append(
        (
            "size-sdp",
            _frame({"type": "signal", "to": PEER, "description": {"type": "offer", "sdp": HEAD + "a=" + "x" * 40000}}),
            frozenset({"bad_sdp"}),
        )
    )
    cases.append(
        ("size-token", _frame({"type": "hello", "protocol": 1, "token": "t" * (p.MAX_TOKEN_LEN + 1)}), BAD_REQUEST)
    )
    cases.append(
        (
            "size-candidate",
            _frame({"type": "signal", "to": PEER, "candidate": {"candidate": "c" * 5000, "sdpMid": "0"}}),
            BAD_REQUEST,
        )
    )
    return cases


def all_cases() -> list[Case]:
    return (
        json_syntax()
        + wrong_types()
        + unknown_types()
        + field_bounds()
        + unicode_encoding()
        + sdp_mutations()
        + nesting_and_size()
    )
