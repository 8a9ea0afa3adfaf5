"""The signaling wire protocol (django_levelchat.protocol): pure unit and property tests, no DB."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_levelchat import protocol as p
from django_levelchat import protocol_examples as pe
from django_levelchat.protocol import ErrorCode, ProtocolError

ROOT = Path(__file__).resolve().parent.parent

ALICE, BOB, TRACK = pe.ALICE, pe.BOB, pe.TRACK
SDP, CANDIDATES = pe.SDP, pe.CANDIDATES

# One valid example per client message type: the table protocol_examples.py defines for Python and JS tests alike.
VALID: dict[str, dict] = copy.deepcopy(pe.CLIENT_EXAMPLES)

DROP = object()  # marks a key to delete


def frame(type_: str, **changes) -> dict:
    """A copy of the valid example with top-level changes; nested changes use 'a.b' keys."""
    obj = copy.deepcopy(VALID[type_])
    for key, value in changes.items():
        *parents, leaf = key.split("__")
        target = obj
        for parent in parents:
            target = target[parent]
        if value is DROP:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return obj


def parse_error(obj) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        p.parse_message(obj)
    return info.value


# ----------------------------------------------------------------------------------------------------------------
# Module hygiene
# ----------------------------------------------------------------------------------------------------------------


def test_imports_without_django():
    code = (
        "import sys; import django_levelchat.protocol as p; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_constants():
    assert p.PROTOCOL_VERSION == 1
    assert p.SUBPROTOCOL == "levelchat.v1"
    assert p.TOKEN_SUBPROTOCOL_PREFIX == "token."
    assert (p.MAX_FRAME_BYTES, p.MAX_DEPTH, p.MAX_ID_LEN, p.MAX_CHAT_LEN) == (65536, 16, 64, 2000)
    assert (p.MAX_NAME_LEN, p.MAX_METADATA_BYTES, p.MAX_SDP_BYTES, p.MAX_SDP_MLINES) == (128, 4096, 32768, 16)
    assert (p.MAX_CANDIDATE_LEN, p.MAX_LAYERS, p.MAX_TRACKS, p.MAX_EMOJI_LEN) == (256, 3, 8, 16)


def test_error_codes_are_the_documented_set():
    assert {c.value for c in ErrorCode} == {
        "bad_json",
        "bad_request",
        "bad_sdp",
        "unknown_type",
        "bad_state",
        "forbidden",
        "unknown_participant",
        "unknown_track",
        "too_large",
        "rate_limited",
        "sfu_unavailable",
        "unavailable",
        "internal",
    }


def test_close_codes_and_retry_policy():
    c = p.CloseCode
    assert (c.NORMAL, c.GOING_AWAY, c.SERVICE_RESTART, c.TRY_AGAIN_LATER) == (1000, 4001, 4012, 4013)
    assert (c.PROTOCOL_ERROR, c.TOKEN, c.FORBIDDEN, c.REPLACED, c.RATE_LIMITED) == (4400, 4401, 4403, 4409, 4429)
    assert 4408 not in {int(code) for code in c}, "slow consumers are closed 4013, not 4408"
    assert all(code == 1000 or 3000 <= code <= 4999 for code in c), "daphne can send only 1000 and 3000-4999"
    assert 1011 not in {int(code) for code in c}
    assert {1001, 1006, 1012, 1013, 4001, 4012, 4013} == p.RETRYABLE_CLOSE_CODES
    assert not any(4400 <= code < 4500 for code in p.RETRYABLE_CLOSE_CODES), "never retry 44xx"
    assert p.CLOSE_REASON_CODES[p.CloseReason.SLOW_CONSUMER] == c.TRY_AGAIN_LATER


def test_every_close_reason_has_one_code_and_fits_a_close_frame():
    assert set(p.CLOSE_REASON_CODES) == set(p.CloseReason)
    for reason in p.CloseReason:
        assert len(reason.value.encode()) <= p.MAX_CLOSE_REASON_BYTES


def test_token_error_codes_map_to_4401():
    for code in ("token_invalid", "token_expired", "token_not_yet_valid", "wrong_room", "token_ttl", "unknown_key"):
        assert p.CLOSE_REASON_CODES[code] == p.CloseCode.TOKEN


def test_capability_names_come_from_the_capabilities_module():
    from django_levelchat import capabilities as caps

    used = set(p.MESSAGE_CAPABILITY.values()) | set(caps.SOURCE_CAPABILITY.values())
    used |= {cap for caps_ in p.SEND_KIND_CAPABILITIES.values() for cap in caps_}
    assert used <= set(caps.VOCABULARY)


def test_client_message_registry():
    assert set(p.CLIENT_MESSAGES) == set(VALID)
    for type_, cls in p.CLIENT_MESSAGES.items():
        assert type_ == cls.TYPE
        assert cls.__dataclass_params__.frozen
        assert hasattr(cls, "__slots__")


def test_docs_cover_every_name():
    doc = (ROOT / "docs" / "protocol.md").read_text()
    names = [*p.CLIENT_MESSAGES, *p.SERVER_MESSAGE_TYPES, *(c.value for c in ErrorCode)]
    names += [*(r.value for r in p.CloseReason), *(r.value for r in p.LeaveReason)]
    missing = [n for n in names if f"`{n}`" not in doc]
    assert not missing
    for code in p.CloseCode:
        assert str(int(code)) in doc
    for const in ("MAX_FRAME_BYTES", "MAX_DEPTH", "MAX_CHAT_LEN", "MAX_SDP_MLINES", "MAX_EMOJI_LEN", "MAX_TRACKS"):
        assert f"`{const}`" in doc


# ----------------------------------------------------------------------------------------------------------------
# decode_frame
# ----------------------------------------------------------------------------------------------------------------

MALFORMED = [
    pytest.param("{not json", ErrorCode.BAD_JSON, id="syntax"),
    pytest.param("", ErrorCode.BAD_JSON, id="empty"),
    pytest.param("   ", ErrorCode.BAD_JSON, id="blank"),
    pytest.param("[]", ErrorCode.BAD_JSON, id="array"),
    pytest.param('"str"', ErrorCode.BAD_JSON, id="string"),
    pytest.param("null", ErrorCode.BAD_JSON, id="null"),
    pytest.param("42", ErrorCode.BAD_JSON, id="number"),
    pytest.param(None, ErrorCode.BAD_JSON, id="none"),
    pytest.param(42, ErrorCode.BAD_JSON, id="not-text"),
    pytest.param(b'{"type":"ping"}\xff', ErrorCode.BAD_JSON, id="invalid-utf8-bytes"),
    pytest.param(b"\xed\xa0\x80", ErrorCode.BAD_JSON, id="utf8-encoded-surrogate"),
    pytest.param(b"\xc0\xaf", ErrorCode.BAD_JSON, id="overlong-utf8"),
    pytest.param('{"a":"\ud800"}', ErrorCode.BAD_JSON, id="lone-surrogate-in-text"),
    pytest.param('\ufeff{"type":"ping"}', ErrorCode.BAD_JSON, id="bom-text"),
    pytest.param(b'\xef\xbb\xbf{"type":"ping"}', ErrorCode.BAD_JSON, id="bom-bytes"),
    pytest.param("x" * (100 * 1024), ErrorCode.TOO_LARGE, id="100KiB"),
    pytest.param(b"x" * (100 * 1024), ErrorCode.TOO_LARGE, id="100KiB-bytes"),
    pytest.param("é" * 40000, ErrorCode.TOO_LARGE, id="80000-utf8-bytes-40000-chars"),
    pytest.param("[" * 5000 + "]" * 5000, ErrorCode.BAD_JSON, id="deep-arrays"),
    pytest.param('{"a":' * 10_000 + "1" + "}" * 10_000, ErrorCode.BAD_JSON, id="deep-objects-1e4"),
    pytest.param("[" * 60_000, ErrorCode.BAD_JSON, id="unclosed-brackets"),
    pytest.param('{"a":' + "[" * 17 + "]" * 17 + "}", ErrorCode.BAD_JSON, id="depth-18"),
    pytest.param('{"x":1e400}', ErrorCode.BAD_JSON, id="1e400"),
    pytest.param('{"x":-1e400}', ErrorCode.BAD_JSON, id="-1e400"),
    pytest.param('{"x":NaN}', ErrorCode.BAD_JSON, id="NaN"),
    pytest.param('{"x":Infinity}', ErrorCode.BAD_JSON, id="Infinity"),
    pytest.param('{"x":-Infinity}', ErrorCode.BAD_JSON, id="-Infinity"),
    pytest.param('{"x":' + "9" * 5000 + "}", ErrorCode.BAD_JSON, id="huge-int-5000-digits"),
    pytest.param('{"x":9007199254740992}', ErrorCode.BAD_JSON, id="2**53"),
    pytest.param('{"type":"ping","type":"chat"}', ErrorCode.BAD_JSON, id="duplicate-key"),
    pytest.param('{"type":"ping"} {}', ErrorCode.BAD_JSON, id="two-values"),
    pytest.param("{'type':'ping'}", ErrorCode.BAD_JSON, id="single-quotes"),
    pytest.param('{"type":"ping",}', ErrorCode.BAD_JSON, id="trailing-comma"),
    pytest.param('{"a":"unterminated}', ErrorCode.BAD_JSON, id="unterminated-string"),
    pytest.param('{"a":"\x01"}', ErrorCode.BAD_JSON, id="raw-control-in-string"),
    pytest.param("[" * 100_000, ErrorCode.TOO_LARGE, id="bracket-bomb-over-limit"),
]


@pytest.mark.parametrize(("data", "code"), MALFORMED)
def test_decode_frame_rejects_malformed_input(data, code):
    with pytest.raises(ProtocolError) as info:
        p.decode_frame(data)
    assert info.value.code == code
    assert len(info.value.message) < 200  # never echoes the input


def test_decode_frame_accepts_the_limits():
    assert p.decode_frame('{"x":9007199254740991,"y":-9007199254740991}') == {
        "x": 2**53 - 1,
        "y": -(2**53 - 1),
    }
    assert p.decode_frame('{"a":' * 15 + "[]" + "}" * 15)  # depth 16
    # brackets inside strings do not count towards the depth
    assert p.decode_frame(json.dumps({"text": "[" * 20_000 + "{" * 20_000}))
    assert p.decode_frame(json.dumps({"text": '\\"[[[[' * 100}))
    exact = '{"p":"' + "x" * (p.MAX_FRAME_BYTES - 8) + '"}'
    assert len(exact) == p.MAX_FRAME_BYTES
    assert p.decode_frame(exact)
    with pytest.raises(ProtocolError) as info:
        p.decode_frame(exact[:-2] + 'x"}')
    assert info.value.code == ErrorCode.TOO_LARGE


def test_decode_frame_text_and_bytes_agree():
    text = '{"type":"chat","text":"héllo 👍","x":[1,2.5,true,null]}'
    assert p.decode_frame(text) == p.decode_frame(text.encode()) == p.decode_frame(bytearray(text.encode()))
    assert p.decode_frame(memoryview(text.encode()))["text"] == "héllo 👍"


def test_decode_frame_escaped_surrogate_pair_is_one_character():
    assert p.decode_frame('{"e":"\\ud83d\\udc4d"}') == {"e": "👍"}


# ----------------------------------------------------------------------------------------------------------------
# parse_message: valid examples
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", sorted(VALID))
def test_valid_example_parses_and_round_trips(type_):
    message = p.parse_frame(json.dumps(VALID[type_]))
    assert isinstance(message, p.CLIENT_MESSAGES[type_])
    assert type_ == message.TYPE
    assert message.id == VALID[type_].get("id")
    assert p.parse_message(message.to_wire()) == message
    assert p.parse_frame(p.encode(message.to_wire())) == message


def test_parsed_fields():
    hello = p.parse_message(VALID["hello"])
    assert hello == p.Hello(
        protocol=1,
        sdk=p.SdkInfo(name="levelchat-js", version="0.1.0"),
        resume=p.ResumeInfo(session="SE_abc", credential="eyJz:1tq2:abc"),
    )
    publish = p.parse_message(VALID["publish"])
    assert publish.track == p.TrackInfo(sid=TRACK, kind="video", source="camera", layers=("q", "h", "f"))
    signal = p.parse_message(VALID["signal"])
    assert signal.to == BOB and signal.description.type == "offer" and signal.candidate is None
    sfu = p.parse_message(VALID["sfu-signal"])
    assert sfu.candidate == p.IceCandidate(
        candidate=CANDIDATES[0], sdpMid="0", sdpMLineIndex=0, usernameFragment="8pm6"
    )
    assert p.parse_message({"type": "audio-level", "level": 1}).level == 1
    assert p.parse_message({"type": "ping"}).ts is None
    assert p.parse_message(
        {"type": "publish", "track": {"sid": "TR_m", "kind": "audio", "source": "microphone"}}
    ).track == (p.TrackInfo(sid="TR_m", kind="audio", source="microphone", muted=False))


def test_unknown_fields_are_ignored_and_from_is_never_kept():
    obj = frame("chat", **{"from": ALICE, "caps": ["room:admin"], "extra": {"deep": [1, 2]}})
    message = p.parse_message(obj)
    assert not hasattr(message, "from_") and "from" not in message.to_wire()
    assert "caps" not in message.to_wire()
    signal = p.parse_message(frame("signal", **{"from": ALICE}))
    assert "from" not in signal.to_wire()


def test_null_means_absent_for_optional_fields():
    assert p.parse_message(frame("chat", to=None)).to is None
    assert p.parse_message(frame("hello", sdk=None, resume=None)).sdk is None
    assert p.parse_message({"type": "ping", "id": None}).id is None


@pytest.mark.parametrize(
    "candidate", [*CANDIDATES, ""], ids=[*(f"c{i}" for i in range(len(CANDIDATES))), "end-of-candidates"]
)
def test_candidates_accepted(candidate):
    message = p.parse_message({"type": "signal", "to": BOB, "candidate": {"candidate": candidate, "sdpMid": "0"}})
    assert message.candidate.candidate == candidate


def test_end_of_candidates_may_omit_mid_and_index():
    message = p.parse_message({"type": "sfu-signal", "candidate": {"candidate": "", "sdpMid": None}})
    assert message.candidate == p.IceCandidate(candidate="")


def test_rollback_needs_no_sdp():
    message = p.parse_message({"type": "signal", "to": BOB, "description": {"type": "rollback"}})
    assert message.description == p.SessionDescription(type="rollback", sdp="")
    assert p.parse_message({"type": "signal", "to": BOB, "description": {"type": "rollback", "sdp": ""}})


def test_publish_with_sfu_mids():
    obj = frame("publish", track__mids=["0", "1", "2"])
    assert p.parse_message(obj).track.mids == ("0", "1", "2")
    single = {"type": "publish", "track": {"sid": "TR_a", "kind": "audio", "source": "microphone", "mids": ["3"]}}
    assert p.parse_message(single).track.mids == ("3",)


def test_id_is_kept_as_ref_on_errors():
    error = parse_error({"type": "chat", "id": "r9", "text": ""})
    assert (error.code, error.field, error.ref) == (ErrorCode.BAD_REQUEST, "text", "r9")
    frame_ = error.to_frame()
    assert frame_ == {"type": "error", "code": "bad_request", "message": error.message, "ref": "r9", "field": "text"}


# ----------------------------------------------------------------------------------------------------------------
# parse_message: each bad field → its field name
# ----------------------------------------------------------------------------------------------------------------

BR = ErrorCode.BAD_REQUEST
BAD_FIELDS = [
    # id
    ("ping", {"id": {"x": 1}}, BR, "id"),
    ("ping", {"id": 5}, BR, "id"),
    ("ping", {"id": ""}, BR, "id"),
    ("ping", {"id": "x" * 65}, BR, "id"),
    ("ping", {"id": "a\nb"}, BR, "id"),
    ("ping", {"id": True}, BR, "id"),
    # type
    ("ping", {"type": "bogus"}, ErrorCode.UNKNOWN_TYPE, "type"),
    ("ping", {"type": 123}, ErrorCode.UNKNOWN_TYPE, "type"),
    ("ping", {"type": DROP}, ErrorCode.UNKNOWN_TYPE, "type"),
    ("ping", {"type": "x" * 10_000}, ErrorCode.UNKNOWN_TYPE, "type"),
    ("ping", {"type": "Ping"}, ErrorCode.UNKNOWN_TYPE, "type"),
    ("ping", {"type": ["ping"]}, ErrorCode.UNKNOWN_TYPE, "type"),
    # hello
    ("hello", {"protocol": DROP}, BR, "protocol"),
    ("hello", {"protocol": "1"}, BR, "protocol"),
    ("hello", {"protocol": 1.0}, BR, "protocol"),
    ("hello", {"protocol": True}, BR, "protocol"),
    ("hello", {"protocol": 2}, BR, "protocol"),
    ("hello", {"protocol": 0}, BR, "protocol"),
    ("hello", {"sdk": "js"}, BR, "sdk"),
    ("hello", {"sdk__name": DROP}, BR, "sdk.name"),
    ("hello", {"sdk__name": "x" * 65}, BR, "sdk.name"),
    ("hello", {"sdk__version": 1}, BR, "sdk.version"),
    ("hello", {"resume": []}, BR, "resume"),
    ("hello", {"resume__session": DROP}, BR, "resume.session"),
    ("hello", {"resume__session": "S" * 65}, BR, "resume.session"),
    ("hello", {"resume__credential": ""}, BR, "resume.credential"),
    ("hello", {"resume__credential": "c" * 1025}, BR, "resume.credential"),
    ("hello", {"token": 12}, BR, "token"),
    ("hello", {"token": "t" * (p.MAX_TOKEN_LEN + 1)}, BR, "token"),
    # signal
    ("signal", {"to": DROP}, BR, "to"),
    ("signal", {"to": "bob"}, BR, "to"),
    ("signal", {"to": "PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7"}, BR, "to"),  # 25 chars
    ("signal", {"to": "PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7I"}, BR, "to"),  # I is not Crockford
    ("signal", {"to": "pa_01j9zq4v8m6y7k2n3p4q5r6s7t"}, BR, "to"),
    ("signal", {"to": ALICE + "\n"}, BR, "to"),
    ("signal", {"to": ["PA_"]}, BR, "to"),
    ("signal", {"description": DROP}, BR, "description"),
    ("signal", {"candidate": {"candidate": "", "sdpMid": "0"}}, BR, "description"),  # both
    ("signal", {"description": "v=0"}, BR, "description"),
    ("signal", {"description__type": "offerz"}, BR, "description.type"),
    ("signal", {"description__type": DROP}, BR, "description.type"),
    ("signal", {"description__sdp": DROP}, BR, "description.sdp"),
    ("signal", {"description__sdp": 5}, ErrorCode.BAD_SDP, "description.sdp"),
    ("signal", {"description__sdp": "hello"}, ErrorCode.BAD_SDP, "description.sdp"),
    ("signal", {"description": {"type": "rollback", "sdp": SDP}}, BR, "description.sdp"),
    # sfu-signal (candidate)
    ("sfu-signal", {"candidate": "candidate:1"}, BR, "candidate"),
    ("sfu-signal", {"candidate__candidate": DROP}, BR, "candidate.candidate"),
    ("sfu-signal", {"candidate__candidate": 1}, BR, "candidate.candidate"),
    ("sfu-signal", {"candidate__candidate": "c" * 257}, BR, "candidate.candidate"),
    ("sfu-signal", {"candidate__candidate": "a=" + CANDIDATES[0]}, BR, "candidate.candidate"),
    ("sfu-signal", {"candidate__candidate": CANDIDATES[0] + "\r\na=ice-lite"}, BR, "candidate.candidate"),
    ("sfu-signal", {"candidate__candidate": "candidate:1 1 udp"}, BR, "candidate.candidate"),
    ("sfu-signal", {"candidate__sdpMid": 0}, BR, "candidate.sdpMid"),
    ("sfu-signal", {"candidate__sdpMid": "0\r\na=x"}, BR, "candidate.sdpMid"),
    ("sfu-signal", {"candidate__sdpMid": "m" * 33}, BR, "candidate.sdpMid"),
    ("sfu-signal", {"candidate__sdpMid": None, "candidate__sdpMLineIndex": None}, BR, "candidate.sdpMid"),
    ("sfu-signal", {"candidate__sdpMLineIndex": -1}, BR, "candidate.sdpMLineIndex"),
    ("sfu-signal", {"candidate__sdpMLineIndex": 1.5}, BR, "candidate.sdpMLineIndex"),
    ("sfu-signal", {"candidate__sdpMLineIndex": "0"}, BR, "candidate.sdpMLineIndex"),
    ("sfu-signal", {"candidate__sdpMLineIndex": 10**6}, BR, "candidate.sdpMLineIndex"),
    ("sfu-signal", {"candidate__usernameFragment": "a b"}, BR, "candidate.usernameFragment"),
    ("sfu-signal", {"candidate": DROP}, BR, "description"),
    # publish
    ("publish", {"track": DROP}, BR, "track"),
    ("publish", {"track": TRACK}, BR, "track"),
    ("publish", {"track__sid": DROP}, BR, "track.sid"),
    ("publish", {"track__sid": "cam"}, BR, "track.sid"),
    ("publish", {"track__sid": "TR_" + "a" * 41}, BR, "track.sid"),
    ("publish", {"track__sid": "TR_a b"}, BR, "track.sid"),
    ("publish", {"track__kind": "data"}, BR, "track.kind"),
    ("publish", {"track__kind": "audio"}, BR, "track.kind"),  # camera is video
    ("publish", {"track__source": "webcam"}, BR, "track.source"),
    ("publish", {"track__source": "microphone"}, BR, "track.kind"),
    ("publish", {"track__muted": "false"}, BR, "track.muted"),
    ("publish", {"track__muted": 0}, BR, "track.muted"),
    ("publish", {"track__layers": "qhf"}, BR, "track.layers"),
    ("publish", {"track__layers": ["q", "h", "f", "q"]}, BR, "track.layers"),
    ("publish", {"track__layers": ["q"] * 10_000}, BR, "track.layers"),
    ("publish", {"track__layers": ["q", "q"]}, BR, "track.layers"),
    ("publish", {"track__layers": ["x"]}, BR, "track.layers"),
    ("publish", {"track__layers": [1]}, BR, "track.layers"),
    (
        "publish",
        {"track": {"sid": "TR_m", "kind": "audio", "source": "microphone", "layers": ["q"]}},
        BR,
        "track.layers",
    ),
    ("publish", {"track__name": "n" * 129}, BR, "track.name"),
    ("publish", {"track__name": 5}, BR, "track.name"),
    ("publish", {"track__mids": ["0"]}, BR, "track.mids"),  # three layers need three mids
    ("publish", {"track__mids": ["0", "1", "1"]}, BR, "track.mids"),
    ("publish", {"track__mids": ["0", "1", "a=x\r\n"]}, BR, "track.mids"),
    # unpublish / mute
    ("unpublish", {"track": DROP}, BR, "track"),
    ("unpublish", {"track": {"sid": TRACK}}, BR, "track"),
    ("mute", {"track": "TR_"}, BR, "track"),
    ("mute", {"muted": DROP}, BR, "muted"),
    ("mute", {"muted": "yes"}, BR, "muted"),
    ("mute", {"muted": 1}, BR, "muted"),
    # subscribe / unsubscribe
    ("subscribe", {"participant": DROP}, BR, "participant"),
    ("subscribe", {"participant": "bob"}, BR, "participant"),
    ("subscribe", {"kind": "screen"}, BR, "kind"),
    ("subscribe", {"track": "nope"}, BR, "track"),
    ("subscribe", {"track": TRACK}, BR, "track"),  # kind and track together
    ("unsubscribe", {"participant": 7}, BR, "participant"),
    ("unsubscribe", {"track": 7}, BR, "track"),
    # set-preferred-quality
    ("set-preferred-quality", {"quality": DROP}, BR, "quality"),
    ("set-preferred-quality", {"quality": "ultra"}, BR, "quality"),
    ("set-preferred-quality", {"quality": "LOW"}, BR, "quality"),
    ("set-preferred-quality", {"participant": "everyone"}, BR, "participant"),
    # chat
    ("chat", {"text": DROP}, BR, "text"),
    ("chat", {"text": ""}, BR, "text"),
    ("chat", {"text": "   \n\t "}, BR, "text"),
    ("chat", {"text": "x" * 2001}, BR, "text"),
    ("chat", {"text": "x" * 1_000_000}, BR, "text"),
    ("chat", {"text": 5}, BR, "text"),
    ("chat", {"text": ["hi"]}, BR, "text"),
    ("chat", {"text": "nul\x00byte"}, BR, "text"),
    ("chat", {"text": "bell\x07"}, BR, "text"),
    ("chat", {"text": "c1\x85"}, BR, "text"),
    ("chat", {"text": "lone \ud83d surrogate"}, BR, "text"),
    ("chat", {"to": "bob"}, BR, "to"),
    # hand: a boolean; only your own hand goes up
    ("hand", {"raised": DROP}, BR, "raised"),
    ("hand", {"raised": "yes"}, BR, "raised"),
    ("hand", {"raised": True, "participant": BOB}, BR, "raised"),
    ("hand", {"raised": False, "participant": "bob"}, BR, "participant"),
    # reaction
    ("reaction", {"emoji": DROP}, BR, "emoji"),
    ("reaction", {"emoji": ""}, BR, "emoji"),
    ("reaction", {"emoji": "   "}, BR, "emoji"),
    ("reaction", {"emoji": "👍" * 17}, BR, "emoji"),
    ("reaction", {"emoji": "\n"}, BR, "emoji"),
    ("reaction", {"emoji": 128077}, BR, "emoji"),
    # audio-level
    ("audio-level", {"level": DROP}, BR, "level"),
    ("audio-level", {"level": True}, BR, "level"),
    ("audio-level", {"level": False}, BR, "level"),
    ("audio-level", {"level": 1.01}, BR, "level"),
    ("audio-level", {"level": -0.1}, BR, "level"),
    ("audio-level", {"level": "0.5"}, BR, "level"),
    ("audio-level", {"level": float("nan")}, BR, "level"),
    ("audio-level", {"level": float("inf")}, BR, "level"),
    ("audio-level", {"level": 10**400}, BR, "level"),
    # quality-report
    ("quality-report", {"quality": DROP}, BR, "quality"),
    ("quality-report", {"quality": "great"}, BR, "quality"),
    ("quality-report", {"quality": "unknown"}, BR, "quality"),
    ("quality-report", {"score": 101}, BR, "score"),
    ("quality-report", {"score": -1}, BR, "score"),
    ("quality-report", {"score": True}, BR, "score"),
    ("quality-report", {"score": "78"}, BR, "score"),
    # ping
    ("ping", {"ts": "now"}, BR, "ts"),
    ("ping", {"ts": True}, BR, "ts"),
    ("ping", {"ts": 1e300}, BR, "ts"),
    ("ping", {"ts": [1]}, BR, "ts"),
    # leave / admin
    ("leave", {"reason": "r" * 65}, BR, "reason"),
    ("leave", {"reason": 3}, BR, "reason"),
    ("leave", {"reason": "a\r\nb"}, BR, "reason"),
    ("mute-participant", {"participant": DROP}, BR, "participant"),
    ("mute-participant", {"participant": "x"}, BR, "participant"),
    ("mute-participant", {"track": "x"}, BR, "track"),
    ("mute-participant", {"kind": "both"}, BR, "kind"),
    ("mute-participant", {"kind": "audio"}, BR, "track"),  # kind and track together
    ("remove-participant", {"participant": DROP}, BR, "participant"),
    ("remove-participant", {"reason": {}}, BR, "reason"),
    ("end-room", {"reason": "x" * 65}, BR, "reason"),
]


@pytest.mark.parametrize(
    ("type_", "changes", "code", "field"),
    BAD_FIELDS,
    ids=[f"{t}-{field}-{i}" for i, (t, _, _, field) in enumerate(BAD_FIELDS)],
)
def test_bad_field_is_named(type_, changes, code, field):
    obj = frame(type_, id="q1", **changes) if "id" not in changes else frame(type_, **changes)
    error = parse_error(obj)
    assert (error.code, error.field) == (code, field), error.message
    if field != "id":
        assert error.ref == obj.get("id")
    assert len(error.message) < 200  # never echoes a huge value


def test_every_message_type_has_bad_field_cases():
    covered = {type_ for type_, *_ in BAD_FIELDS}
    fieldless = {"record-start", "record-stop", "resync"}
    assert covered | fieldless == set(VALID)


@pytest.mark.parametrize("obj", [[], "x", None, 1, ["type", "ping"]])
def test_parse_message_rejects_non_objects(obj):
    assert parse_error(obj).code == ErrorCode.BAD_JSON


def test_unknown_type_carries_ref():
    error = parse_error({"type": "bogus", "id": "r7"})
    assert (error.code, error.ref) == (ErrorCode.UNKNOWN_TYPE, "r7")


# ----------------------------------------------------------------------------------------------------------------
# SDP
# ----------------------------------------------------------------------------------------------------------------


def _sdp_with(*extra_media: str, base: str = SDP) -> str:
    return base + "".join(extra_media)


VIDEO_SECTION = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:{}\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"

BAD_SDP = [
    pytest.param("", id="empty"),
    pytest.param("hello", id="not-sdp"),
    pytest.param("v=1\r\n", id="v=1"),
    pytest.param("v=01\r\ns=-\r\n", id="v=01"),
    pytest.param(" v=0\r\n", id="leading-space"),
    pytest.param(SDP + "a=" + "x" * p.MAX_SDP_BYTES, id="over-32KiB"),
    pytest.param(SDP.replace("s=-", "s=\x00"), id="nul"),
    pytest.param(SDP.replace("s=-", "s=-\rb=AS:1"), id="bare-cr"),
    pytest.param(SDP.replace("s=-", "s=\x1b[31m"), id="escape-char"),
    pytest.param(SDP + "\r\n\r\n", id="blank-lines"),
    pytest.param(SDP + "hello world\r\n", id="not-a-line"),
    pytest.param(SDP + "A=x\r\n", id="uppercase-type"),
    pytest.param(SDP + "a=" + "x" * 5000 + "\r\n", id="long-line"),
    pytest.param(_sdp_with(*(VIDEO_SECTION.format(i) for i in range(15))), id="17-mlines"),
    pytest.param(SDP + "m=video\r\n", id="bad-mline"),
    pytest.param(SDP + "m=video x UDP 96\r\n", id="bad-port"),
    pytest.param(SDP + "a=candidate:1 1 udp 1 1.1.1.1 1 typ host\r\n" * 51, id="51-candidates-per-section"),
    pytest.param(SDP + "a=candidate:garbage\r\n", id="bad-candidate"),
    pytest.param(SDP + "a=sendonly\r\n", id="two-directions"),
    pytest.param(SDP + "a=fingerprint:sha-256 AA:BB\r\n", id="two-fingerprints-one-section"),
    pytest.param(
        SDP + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AA:BB\r\n", id="conflicting-fingerprints"
    ),
    pytest.param(SDP + "a=fingerprint:sha-256\r\n", id="malformed-fingerprint"),
    pytest.param(SDP.replace("s=-", "s=\ud800"), id="lone-surrogate"),
]


@pytest.mark.parametrize("sdp", BAD_SDP)
def test_validate_sdp_rejects(sdp):
    with pytest.raises(ProtocolError) as info:
        p.validate_sdp(sdp)
    assert (info.value.code, info.value.field) == (ErrorCode.BAD_SDP, "description.sdp")


def test_validate_sdp_accepts_real_sdp():
    p.validate_sdp(SDP)
    p.validate_sdp(SDP.replace("\r\n", "\n"))  # bare LF is tolerated
    p.validate_sdp(SDP.rstrip("\r\n"))  # missing final newline too
    p.validate_sdp(SDP.replace("s=-", "s=Réunion 👍"))
    sixteen = _sdp_with(*(VIDEO_SECTION.format(i) for i in range(2, 16)))
    p.validate_sdp(sixteen)
    with pytest.raises(ProtocolError):
        p.validate_sdp(_sdp_with(sixteen, VIDEO_SECTION.format(16)))


def test_sfu_signal_allows_more_mlines_than_mesh_signal():
    many = _sdp_with(*(VIDEO_SECTION.format(i) for i in range(2, 24)))  # 24 m-lines
    assert p.parse_message({"type": "sfu-signal", "description": {"type": "answer", "sdp": many}})
    error = parse_error({"type": "signal", "to": BOB, "description": {"type": "answer", "sdp": many}})
    assert (error.code, error.field) == (ErrorCode.BAD_SDP, "description.sdp")


def test_too_many_candidates_in_total(monkeypatch):
    # Unreachable within 32 KiB today (~44 bytes a line): a backstop should MAX_SDP_BYTES ever grow.
    monkeypatch.setattr(p, "MAX_SDP_BYTES", 10**6)
    section = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" + "a=candidate:1 1 udp 1 1.1.1.1 1 typ host\r\n" * 50
    sdp = "v=0\r\n" + section * 21  # 1,050 candidates in 21 sections
    with pytest.raises(ProtocolError) as info:
        p.validate_sdp(sdp, max_mlines=32)
    assert "candidate" in info.value.message


def test_sdp_media_directions():
    assert p.sdp_media_directions(SDP) == [("audio", "sendrecv"), ("video", "recvonly")]
    assert p.sdp_sent_kinds(SDP) == {"audio"}
    session_level = "v=0\r\na=recvonly\r\nm=audio 9 RTP/AVP 0\r\nm=video 9 RTP/AVP 96\r\na=sendonly\r\n"
    assert p.sdp_media_directions(session_level) == [("audio", "recvonly"), ("video", "sendonly")]
    default = "v=0\r\nm=video 9 RTP/AVP 96\r\n"
    assert p.sdp_media_directions(default) == [("video", "sendrecv")]  # RFC 4566 default
    disabled = "v=0\r\nm=video 0 RTP/AVP 96\r\na=sendrecv\r\nm=audio 0 RTP/AVP 0\r\na=bundle-only\r\na=sendonly\r\n"
    assert p.sdp_media_directions(disabled) == [("video", "inactive"), ("audio", "sendonly")]
    assert p.sdp_sent_kinds("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n") == {"application"}
    assert p.sdp_media_directions(12) == []


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=3000))
def test_sdp_helpers_are_total(text):
    for sdp in (text, "v=0\r\n" + text):
        try:
            p.validate_sdp(sdp)
        except ProtocolError as exc:
            assert exc.code == ErrorCode.BAD_SDP
        directions = p.sdp_media_directions(sdp)
        assert all(isinstance(kind, str) and d in p.SDP_DIRECTIONS for kind, d in directions)
        p.sdp_sent_kinds(sdp)


# ----------------------------------------------------------------------------------------------------------------
# Capabilities, subprotocols, metadata
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "capability"),
    [
        (VALID["publish"], "publish:camera"),
        ({"type": "publish", "track": {"sid": "TR_m", "kind": "audio", "source": "microphone"}}, "publish:mic"),
        ({"type": "publish", "track": {"sid": "TR_s", "kind": "video", "source": "screen"}}, "publish:screen"),
        ({"type": "publish", "track": {"sid": "TR_s", "kind": "audio", "source": "screen_audio"}}, "publish:screen"),
        (VALID["subscribe"], "subscribe:all"),
        (VALID["chat"], "chat:send"),
        (VALID["reaction"], "react:send"),
        (VALID["hand"], "hand:raise"),
        ({"type": "hand", "raised": False, "participant": BOB}, "room:admin"),
        (VALID["record-start"], "record:control"),
        (VALID["record-stop"], "record:control"),
        (VALID["mute-participant"], "room:admin"),
        (VALID["remove-participant"], "room:admin"),
        (VALID["end-room"], "room:admin"),
        (VALID["unsubscribe"], None),
        (VALID["signal"], None),
        (VALID["ping"], None),
        (VALID["mute"], None),
    ],
)
def test_required_capability(obj, capability):
    assert p.required_capability(p.parse_message(obj)) == capability


def test_split_subprotocols():
    assert p.split_subprotocols(["levelchat.v1", "token.abc.def.ghi"]) == ("levelchat.v1", "abc.def.ghi")
    assert p.split_subprotocols(["token.abc"]) == (None, "abc")
    assert p.split_subprotocols(["levelchat.v1"]) == ("levelchat.v1", None)
    assert p.split_subprotocols(["other", "token.", "token." + "x" * (p.MAX_TOKEN_LEN + 1)]) == (None, None)
    assert p.split_subprotocols([]) == (None, None)


def test_validate_metadata():
    p.validate_metadata({"team": "blue", "n": [1, 2]})
    for bad in ([], "x", {"a": "x" * 5000}, {"a": float("nan")}, {"a": object()}):
        with pytest.raises(ProtocolError) as info:
            p.validate_metadata(bad)
        assert (info.value.code, info.value.field) == (ErrorCode.BAD_REQUEST, "metadata")


# ----------------------------------------------------------------------------------------------------------------
# Server → client builders
# ----------------------------------------------------------------------------------------------------------------

PARTICIPANT = {"id": BOB, "identity": "bob", "name": "Bob", "role": "participant", "tracks": []}
ROOM = {"id": "RM_x", "name": "Standup", "room_type": "meeting", "status": "active", "metadata": {}}


def test_snapshots_cut_their_chat_history_to_the_frame_limit():
    """Worst case per message: 2,000 four-byte characters (~8 KB); 50 of them cannot ride in one 64 KiB frame."""
    history = [
        p.chat_message(id=f"CM_{i}", from_={"id": ALICE, "identity": "alice"}, text="😀" * p.MAX_CHAT_LEN, ts=i, seq=i)
        for i in range(50)
    ]
    welcome = p.welcome(
        you={**PARTICIPANT, "capabilities": []},
        room=ROOM,
        roster=[PARTICIPANT] * 20,
        chat=history,
        ice_servers=[],
        ping_interval=5,
        ping_timeout=12,
        seq=50,
    )
    resync = p.resync(room=ROOM, roster=[PARTICIPANT], chat=history, seq=50, ref="r1")
    for frame in (welcome, resync):
        size = len(p.encode(frame).encode())
        assert p.MAX_FRAME_BYTES - 8100 < size <= p.MAX_FRAME_BYTES, "as many as fit, and no more"
        assert [m["id"] for m in frame["chat"]] == [m["id"] for m in history[-len(frame["chat"]) :]]
        assert p.parse_server_frame(p.encode(frame))["type"] == frame["type"]
    short = [{"id": "CM_1", "text": "hi"}]
    assert p.resync(room=ROOM, roster=[], chat=short, seq=1)["chat"] == short, "a small history is kept whole"


def all_builder_frames(seq: int | None = 7) -> list[dict]:
    description = p.SessionDescription(type="answer", sdp=SDP)
    return [
        p.welcome(
            you={**PARTICIPANT, "capabilities": ["publish:*"]},
            room=ROOM,
            roster=[PARTICIPANT],
            chat=[{"id": "CM_1", "from": {"id": BOB}, "text": "hi", "ts": 1}],
            ice_servers=[{"urls": ["stun:example.org"]}],
            ping_interval=5,
            ping_timeout=12,
            resume={"session": "SE_1", "credential": "c", "expires_in": 60},
            seq=41,
        ),
        p.resync(room=ROOM, roster=[PARTICIPANT], chat=[{"id": "CM_1", "text": "hi"}], seq=99, ref="r5"),
        p.participant_joined(participant=PARTICIPANT, seq=seq),
        p.participant_left(participant={"id": BOB, "identity": "bob"}, reason="client_initiated", seq=seq),
        p.participant_updated(participant={"id": BOB, "name": "Robert"}, seq=seq),
        p.participant_reconnecting(participant=BOB, seq=seq),
        p.participant_reconnected(participant={"id": BOB}, seq=seq),
        p.track_published(participant=BOB, track=p.TrackInfo(sid=TRACK, kind="video", source="camera"), seq=seq),
        p.track_unpublished(participant=BOB, track=TRACK, reason="capability_revoked", seq=seq),
        p.track_muted(participant=BOB, track=TRACK, muted=True, by=ALICE, seq=seq),
        p.signal(from_=ALICE, description=description),
        p.signal(from_=ALICE, candidate={"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}),
        p.sfu_signal(candidate=p.IceCandidate(candidate=CANDIDATES[0], sdpMid="0")),
        p.layer_demand(track=TRACK, layers=["q", "h"]),
        p.subscribe(from_=ALICE, kind="video"),
        p.unsubscribe(from_=ALICE, track=TRACK),
        p.set_preferred_quality(from_=ALICE, quality="low"),
        p.sfu_state(state="unavailable", reason="worker_lost", seq=seq),
        p.chat_message(id="CM_2", from_={"id": ALICE, "identity": "alice", "name": "Alice"}, text="hi", ts=1, seq=seq),
        p.reaction(from_={"id": ALICE, "identity": "alice"}, emoji="👍", seq=seq),
        p.active_speaker(participant=None, seq=seq),
        p.connection_quality(participant=BOB, quality="good", seq=seq),
        p.recording(state="started", recording="RC_1", seq=seq),
        p.room_ended(reason="ended_by_admin", seq=seq),
        p.ack("r1"),
        p.error(ErrorCode.FORBIDDEN, "publish:screen is not in your capabilities", ref="r1"),
        p.pong(1732600000000),
        p.closing(code=p.CloseCode.TOKEN, reason=p.CloseReason.TOKEN_EXPIRED),
    ]


def test_builders_produce_server_message_types():
    frames = all_builder_frames()
    assert {f["type"] for f in frames} == p.SERVER_MESSAGE_TYPES
    for f in frames:
        assert f["type"] in p.SERVER_MESSAGE_TYPES
        if f["type"] in p.ROOM_EVENT_TYPES:
            assert f["seq"] == 7
        elif f["type"] not in p.SNAPSHOT_TYPES:
            assert "seq" not in f
        assert json.loads(p.encode(f)) == json.loads(json.dumps(f))


def test_room_events_without_seq_leave_it_to_the_broadcaster():
    for f in all_builder_frames(seq=None):
        if f["type"] in p.ROOM_EVENT_TYPES:
            assert "seq" not in f


def test_room_event_and_snapshot_sets():
    assert p.ROOM_EVENT_TYPES <= p.SERVER_MESSAGE_TYPES
    assert p.SNAPSHOT_TYPES <= p.SERVER_MESSAGE_TYPES
    assert not p.ROOM_EVENT_TYPES & {"signal", "sfu-signal", "ack", "error", "pong", "welcome", "resync"}


def test_builder_wire_shapes_match_the_sketch():
    assert p.signal(from_=ALICE, description={"type": "answer", "sdp": "v=0"}) == {
        "type": "signal",
        "from": ALICE,
        "description": {"type": "answer", "sdp": "v=0"},
    }
    assert p.chat_message(id="CM_1", from_={"id": ALICE}, text="x", ts=5, to=BOB) == {
        "type": "chat-message",
        "id": "CM_1",
        "from": {"id": ALICE},
        "text": "x",
        "to": BOB,
        "ts": 5,
    }
    assert p.chat_message(id="CM_1", from_={"id": ALICE}, text="x", ts=5)["to"] is None
    assert p.participant_reconnecting(participant=BOB, seq=44) == {
        "type": "participant-reconnecting",
        "participant": {"id": BOB},
        "seq": 44,
    }
    assert p.active_speaker(participant=None, seq=50) == {"type": "active-speaker", "participant": None, "seq": 50}
    assert p.ack("r1", id="CM_9", ts=3) == {"type": "ack", "ref": "r1", "id": "CM_9", "ts": 3}
    assert p.error("rate_limited", "slow down", retry_after=0.5) == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow down",
        "retry_after": 0.5,
    }
    assert p.error(ErrorCode.BAD_REQUEST, "m", "r1", "text") == {
        "type": "error",
        "code": "bad_request",
        "message": "m",
        "ref": "r1",
        "field": "text",
    }
    assert p.unsubscribe(from_=ALICE, kind="video") == {"type": "unsubscribe", "from": ALICE, "kind": "video"}
    published = p.track_published(
        participant=BOB, track=p.TrackInfo(sid=TRACK, kind="audio", source="microphone", mids=("0",))
    )
    assert published["track"] == {"sid": TRACK, "kind": "audio", "source": "microphone", "muted": False}
    assert p.pong() == {"type": "pong"}
    assert p.pong(12.5, ref="r2") == {"type": "pong", "ts": 12.5, "ref": "r2"}
    welcome = all_builder_frames()[0]
    assert welcome["protocol"] == 1 and welcome["seq"] == 41
    assert set(welcome) == {
        "type",
        "protocol",
        "you",
        "room",
        "roster",
        "chat",
        "ice_servers",
        "ping_interval",
        "ping_timeout",
        "resume",
        "seq",
    }


def test_relayed_signal_is_rebuilt_from_the_parsed_message():
    message = p.parse_message(frame("signal", **{"from": BOB, "evil": "x"}))
    relayed = p.signal(from_=ALICE, description=message.description)
    assert relayed == {"type": "signal", "from": ALICE, "description": {"type": "offer", "sdp": SDP}}


@pytest.mark.parametrize(
    "call",
    [
        lambda: p.participant_left(participant=BOB, reason="bored"),
        lambda: p.connection_quality(participant=BOB, quality="great"),
        lambda: p.recording(state="paused"),
        lambda: p.sfu_state(state="maybe"),
        lambda: p.layer_demand(track=TRACK, layers=["x"]),
        lambda: p.set_preferred_quality(from_=ALICE, quality="ultra"),
        lambda: p.signal(from_=ALICE),
        lambda: p.sfu_signal(description={"type": "offer", "sdp": SDP}, candidate={"candidate": ""}),
        lambda: p.ack("r1", type="error"),
        lambda: p.error("nope", "x"),
    ],
)
def test_builders_refuse_programming_errors(call):
    with pytest.raises(ValueError):
        call()


def test_encode_is_compact_utf8_and_refuses_nan():
    assert p.encode({"type": "reaction", "emoji": "👍"}) == '{"type":"reaction","emoji":"👍"}'
    with pytest.raises(ValueError):
        p.encode({"x": float("nan")})


def test_error_frame_round_trips_through_encode():
    exc = ProtocolError(ErrorCode.BAD_SDP, "bad", field="description.sdp", ref="r1")
    assert json.loads(p.encode(exc.to_frame())) == {
        "type": "error",
        "code": "bad_sdp",
        "message": "bad",
        "ref": "r1",
        "field": "description.sdp",
    }
    assert "bad_sdp" in repr(exc)


# ----------------------------------------------------------------------------------------------------------------
# Property tests (Hypothesis)
# ----------------------------------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)

FIELD_NAMES = sorted(
    {
        "id",
        "to",
        "from",
        "protocol",
        "sdk",
        "resume",
        "token",
        "description",
        "candidate",
        "track",
        "muted",
        "participant",
        "kind",
        "quality",
        "text",
        "emoji",
        "level",
        "score",
        "ts",
        "reason",
        "name",
        "version",
        "session",
        "credential",
        "type",
        "sdp",
        "sdpMid",
        "sdpMLineIndex",
        "usernameFragment",
        "sid",
        "source",
        "layers",
        "mids",
    }
)
INTERESTING = st.sampled_from(
    [
        ALICE,
        TRACK,
        SDP,
        "v=0\r\n",
        "",
        " ",
        "q",
        "video",
        "audio",
        "camera",
        "microphone",
        "offer",
        "rollback",
        "good",
        "low",
        *CANDIDATES,
        ["q", "h"],
        ["0"],
        0,
        1,
        0.5,
        -1,
        True,
        2**53,
        "x" * 3000,
    ]
)
field_values = st.deferred(
    lambda: st.one_of(
        INTERESTING,
        json_scalars,
        st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=6),
        st.lists(field_values, max_size=4),
    )
)
message_like = st.builds(
    lambda type_, fields: {**fields, "type": type_},
    st.sampled_from([*p.CLIENT_MESSAGES, "bogus"]),
    st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=8),
)


def _assert_total(obj):
    try:
        message = p.parse_message(obj)
    except ProtocolError as exc:
        assert isinstance(exc.code, ErrorCode)
        assert exc.field is None or isinstance(exc.field, str)
        json.dumps(exc.to_frame())
        p.encode(exc.to_frame()).encode("utf-8")  # always sendable
    else:
        assert isinstance(message, p.ClientMessage)
        # what the server may relay is always encodable as a UTF-8 text frame
        p.encode(message.to_wire()).encode("utf-8")
        assert p.parse_message(message.to_wire()) == message


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=2000))
def test_decode_and_parse_are_total_over_text(text):
    for candidate in (text, "{" + text, '{"type":"chat","text":' + text):
        try:
            obj = p.decode_frame(candidate)
        except ProtocolError as exc:
            assert exc.code in (ErrorCode.BAD_JSON, ErrorCode.TOO_LARGE)
            continue
        _assert_total(obj)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_decode_is_total_over_bytes(data):
    try:
        obj = p.decode_frame(data)
    except ProtocolError as exc:
        assert exc.code in (ErrorCode.BAD_JSON, ErrorCode.TOO_LARGE)
    else:
        _assert_total(obj)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_decode_and_parse_are_total_over_json_values(value):
    text = json.dumps(value)  # may contain NaN/Infinity: decode_frame must refuse those
    try:
        obj = p.decode_frame(text)
    except ProtocolError as exc:
        assert exc.code in (ErrorCode.BAD_JSON, ErrorCode.TOO_LARGE)
    else:
        _assert_total(obj)
    _assert_total(value)  # parse_message alone is total too, even on non-JSON Python values


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_like)
def test_parse_is_total_over_message_shaped_dicts(obj):
    _assert_total(obj)
    try:
        decoded = p.decode_frame(json.dumps(obj))
    except (ProtocolError, ValueError):
        return
    _assert_total(decoded)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=40_000), st.sampled_from(["[", "{", '{"a":', "[{", '"', "\\"]))
def test_deep_or_repetitive_input_never_escapes(n, chunk):
    for text in (chunk * n, chunk * n + "]" * n, '{"x":' + chunk * n):
        try:
            p.parse_message(p.decode_frame(text))
        except ProtocolError as exc:
            assert exc.code in (ErrorCode.BAD_JSON, ErrorCode.TOO_LARGE, ErrorCode.UNKNOWN_TYPE, ErrorCode.BAD_REQUEST)


# Valid messages, generated: to_wire → encode → decode_frame → parse_message is the identity.

_line_text = st.characters(blacklist_categories=("Cc", "Cs"))
ids = st.none() | st.text(_line_text, min_size=1, max_size=p.MAX_ID_LEN)
participants = st.from_regex(p.PARTICIPANT_ID_RE, fullmatch=True)
sids = st.from_regex(p.TRACK_SID_RE, fullmatch=True)
mids = st.from_regex(re.compile(r"[0-9a-z]{1,3}"), fullmatch=True)
short_text = st.text(_line_text, min_size=1, max_size=p.MAX_REASON_LEN)
numbers = st.integers(-(2**53) + 1, 2**53 - 1) | st.floats(-1e15, 1e15, allow_nan=False)
descriptions = st.one_of(
    st.builds(p.SessionDescription, type=st.sampled_from(["offer", "answer", "pranswer"]), sdp=st.just(SDP)),
    st.builds(p.SessionDescription, type=st.just("rollback"), sdp=st.just("")),
)
ice_candidates = st.builds(
    p.IceCandidate,
    candidate=st.sampled_from(CANDIDATES),
    sdpMid=mids,
    sdpMLineIndex=st.none() | st.integers(0, 15),
    usernameFragment=st.none() | st.from_regex(re.compile(r"[A-Za-z0-9+/]{4,16}"), fullmatch=True),
)


@st.composite
def tracks(draw):
    source = draw(st.sampled_from(sorted(p.TRACK_SOURCES)))
    kind = p.SOURCE_KINDS[source]
    layers = (
        tuple(draw(st.lists(st.sampled_from(p.SIMULCAST_LAYERS), unique=True, max_size=3))) if kind == "video" else ()
    )
    track_mids = tuple(draw(st.lists(mids, unique=True, min_size=max(1, len(layers)), max_size=max(1, len(layers)))))
    return p.TrackInfo(
        sid=draw(sids),
        kind=kind,
        source=source,
        muted=draw(st.booleans()),
        layers=layers,
        mids=draw(st.sampled_from([(), track_mids])),
        name=draw(st.none() | st.text(_line_text, min_size=1, max_size=p.MAX_NAME_LEN)),
    )


@st.composite
def signal_payload(draw):
    if draw(st.booleans()):
        return {"description": draw(descriptions)}
    return {"candidate": draw(ice_candidates)}


@st.composite
def targets(draw):
    target = {"participant": draw(participants)}
    choice = draw(st.sampled_from(["all", "kind", "track"]))
    if choice == "kind":
        target["kind"] = draw(st.sampled_from(sorted(p.TRACK_KINDS)))
    elif choice == "track":
        target["track"] = draw(sids)
    return target


chat_text = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters=[chr(c) for c in range(0x20) if c not in (9, 10, 13)]
        + [chr(c) for c in range(0x7F, 0xA0)],
    ),
    min_size=1,
    max_size=p.MAX_CHAT_LEN,
).filter(lambda s: s.strip())

VALID_STRATEGIES = {
    p.Hello: st.builds(
        p.Hello,
        id=ids,
        protocol=st.just(1),
        sdk=st.none() | st.builds(p.SdkInfo, name=short_text, version=short_text),
        resume=st.none() | st.builds(p.ResumeInfo, session=short_text, credential=short_text),
        token=st.none() | st.text(_line_text, min_size=1, max_size=200),
    ),
    p.Signal: st.builds(lambda i, to, payload: p.Signal(id=i, to=to, **payload), ids, participants, signal_payload()),
    p.SfuSignal: st.builds(lambda i, payload: p.SfuSignal(id=i, **payload), ids, signal_payload()),
    p.Publish: st.builds(p.Publish, id=ids, track=tracks()),
    p.Unpublish: st.builds(p.Unpublish, id=ids, track=sids),
    p.Mute: st.builds(p.Mute, id=ids, track=sids, muted=st.booleans()),
    p.Subscribe: st.builds(lambda i, t: p.Subscribe(id=i, **t), ids, targets()),
    p.Unsubscribe: st.builds(lambda i, t: p.Unsubscribe(id=i, **t), ids, targets()),
    p.MuteParticipant: st.builds(lambda i, t: p.MuteParticipant(id=i, **t), ids, targets()),
    p.SetPreferredQuality: st.builds(
        p.SetPreferredQuality,
        id=ids,
        quality=st.sampled_from(sorted(p.PREFERRED_QUALITIES)),
        participant=st.none() | participants,
    ),
    p.Chat: st.builds(p.Chat, id=ids, text=chat_text, to=st.none() | participants),
    p.Reaction: st.builds(
        p.Reaction, id=ids, emoji=st.text(_line_text, min_size=1, max_size=p.MAX_EMOJI_LEN).filter(str.strip)
    ),
    p.Hand: st.one_of(
        st.builds(p.Hand, id=ids, raised=st.booleans()),
        st.builds(p.Hand, id=ids, raised=st.just(False), participant=participants),
    ),
    p.AudioLevel: st.builds(p.AudioLevel, id=ids, level=st.floats(0, 1) | st.integers(0, 1)),
    p.QualityReport: st.builds(
        p.QualityReport,
        id=ids,
        quality=st.sampled_from(p.QUALITY_BANDS),
        score=st.none() | st.floats(0, 100) | st.integers(0, 100),
    ),
    p.RecordStart: st.builds(p.RecordStart, id=ids),
    p.RecordStop: st.builds(p.RecordStop, id=ids),
    p.Resync: st.builds(p.Resync, id=ids),
    p.Ping: st.builds(p.Ping, id=ids, ts=st.none() | numbers),
    p.Leave: st.builds(p.Leave, id=ids, reason=st.none() | short_text),
    p.RemoveParticipant: st.builds(
        p.RemoveParticipant, id=ids, participant=participants, reason=st.none() | short_text
    ),
    p.EndRoom: st.builds(p.EndRoom, id=ids, reason=st.none() | short_text),
}
valid_messages = st.one_of(*VALID_STRATEGIES.values())


def test_valid_message_strategy_covers_every_type():
    assert set(VALID_STRATEGIES) == set(p.CLIENT_MESSAGES.values())


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_messages)
def test_valid_messages_round_trip(message):
    text = p.encode(message.to_wire())
    assert p.parse_frame(text) == message
    assert p.parse_frame(text.encode("utf-8")) == message
    assert json.loads(text)["type"] == message.TYPE


def _paths(obj: dict, prefix: tuple = ()):
    for key, value in obj.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


@st.composite
def mutated_messages(draw):
    """A valid message with one field (at any depth) replaced by junk or removed: reaches every validator."""
    wire = draw(valid_messages).to_wire()
    path = draw(st.sampled_from(list(_paths(wire))))
    target = wire
    for key in path[:-1]:
        target = target[key]
    if draw(st.booleans()):
        target.pop(path[-1])
    else:
        target[path[-1]] = draw(field_values)
    return wire


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_parse_is_total_over_mutated_valid_messages(obj):
    _assert_total(obj)
    try:
        p.parse_message(obj)
    except ProtocolError as exc:
        if exc.code in (ErrorCode.BAD_REQUEST, ErrorCode.BAD_SDP, ErrorCode.UNKNOWN_TYPE):
            assert exc.field, "field-level errors always name the field"


def _full_pong(text: str) -> str:
    msg = p.parse_message(p.decode_frame(text))
    assert isinstance(msg, p.Ping)
    return p.encode(p.pong(msg.ts, ref=msg.id))


@given(st.one_of(st.none(), st.integers(min_value=0, max_value=p.MAX_SAFE_INTEGER)))
def test_canonical_pong_is_the_full_paths_answer(ts: int | None) -> None:
    text = p.encode({"type": "ping"} if ts is None else {"type": "ping", "ts": ts})
    fast = p.canonical_pong(text)
    assert fast is None or fast == _full_pong(text)
    if ts is None or ts < 10**15:
        assert fast == _full_pong(text)  # the spellings clients send take the fast path


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"ping","id":"a"}',
        '{"type": "ping"}',
        '{"type":"ping","ts":1.5}',
        '{"type":"ping","ts":-1}',
        '{"type":"ping","ts":01}',
        '{"type":"ping","ts":12345678901234567}',
        '{"type":"ping"} ',
        '{"ts":1,"type":"ping"}',
        '{"type":"pong"}',
    ],
)
def test_other_spellings_take_the_full_path(text: str) -> None:
    assert p.canonical_pong(text) is None
