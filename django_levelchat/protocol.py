"""The signaling wire protocol: the one definition of every frame, limit, error code and close code.

``docs/protocol.md`` is the prose contract; this module is what enforces it. It is pure Python (stdlib only: it imports nothing
from the app and needs no Django settings) so the consumer, the SFU worker, a Python client, the fuzzers and the tests share it.

Inbound, two total steps: ``decode_frame`` turns a WebSocket text frame into a dict and ``parse_message``
turns that dict into a frozen message object. Any input yields a value or a ``ProtocolError``, never another
exception (a ``RecursionError`` from a JSON bomb kills a Channels consumer with 1011).

Outbound, one builder function per server message type, then ``encode``. The server never relays a client's
dict: it rebuilds the frame from the parsed message with a builder, so unknown fields, a client-supplied
``from`` and anything the validators did not look at cannot travel to other participants.
"""

from __future__ import annotations

import enum
import json
import math
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from itertools import accumulate
from typing import Any, ClassVar, NoReturn, Self, TypeVar

# --------------------------------------------------------------------------------------------------------------
# Version, connection, limits
# --------------------------------------------------------------------------------------------------------------

PROTOCOL_VERSION = 1
#: Versions this server speaks; ``hello.protocol`` outside this set is refused (close 4400 unsupported_protocol).
SUPPORTED_PROTOCOLS = frozenset({PROTOCOL_VERSION})
SIGNAL_PATH = "/levelchat/v1/signal"
#: The only subprotocol the server selects (echoes); a token never goes back to the client.
SUBPROTOCOL = "levelchat.v1"
#: Browsers cannot set headers on a WebSocket, so the JWT rides as a second offered subprotocol.
TOKEN_SUBPROTOCOL_PREFIX = "token."
#: Seconds a socket may stay open without a valid ``hello`` (then close 4401 ``hello_timeout``).
HELLO_TIMEOUT = 5.0

MAX_FRAME_BYTES = 65536  # UTF-8 bytes of one text frame
#: What a client accepts from the server. Every server frame keeps MAX_FRAME_BYTES (a snapshot's chat history is
#: cut to fit) except a snapshot whose roster alone is larger: a room of hundreds of participants.
MAX_SERVER_FRAME_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 16  # JSON nesting (top-level object = 1); real messages need 3
MAX_ID_LEN = 64  # client request ``id``
MAX_CHAT_LEN = 2000  # code points
MAX_NAME_LEN = 128  # track and display names
MAX_METADATA_BYTES = 4096  # room / participant metadata, compact JSON
MAX_SDP_BYTES = 32768
MAX_SDP_MLINES = 16  # mesh: 8 tracks each way on one peer connection
MAX_SFU_SDP_MLINES = 32  # SFU subscriber PC: the SFU caps it with last-N
MAX_SDP_LINE_LEN = 4096
MAX_SDP_CANDIDATES = 1000
MAX_SDP_CANDIDATES_PER_MEDIA = 50
MAX_CANDIDATE_LEN = 256
MAX_LAYERS = 3
MAX_TRACKS = 8  # published tracks per participant (enforced by the consumer, which holds the state)
MAX_EMOJI_LEN = 16  # code points: a ZWJ family emoji with skin tones is ~11
MAX_REASON_LEN = 64
MAX_TOKEN_LEN = 8192  # a token carrying MAX_METADATA_BYTES of ASCII metadata is ~6.2 KB
MAX_CREDENTIAL_LEN = 1024
MAX_SESSION_LEN = 64
MAX_SDK_FIELD_LEN = 64
MAX_MID_LEN = 32
MAX_IDENTITY_LEN = 128  # code points of a participant identity (the token's ``sub``)
MAX_ROLE_LEN = 32
#: JSON integers beyond this are not exact in JavaScript (I-JSON, RFC 7493): refused as bad_json.
MAX_SAFE_INTEGER = 2**53 - 1
#: More than this many protocol errors within the window closes the socket 4400 ``too_many_errors``.
MAX_PROTOCOL_ERRORS = 20
PROTOCOL_ERROR_WINDOW = 10.0
#: RFC 6455: a close reason is at most 123 UTF-8 bytes.
MAX_CLOSE_REASON_BYTES = 123


class ErrorCode(enum.StrEnum):
    """``code`` of an ``error`` frame; the socket stays open after every one of them."""

    BAD_JSON = "bad_json"
    BAD_REQUEST = "bad_request"
    BAD_SDP = "bad_sdp"
    UNKNOWN_TYPE = "unknown_type"
    BAD_STATE = "bad_state"
    FORBIDDEN = "forbidden"
    UNKNOWN_PARTICIPANT = "unknown_participant"
    UNKNOWN_TRACK = "unknown_track"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    SFU_UNAVAILABLE = "sfu_unavailable"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server sends. The SDK never retries 44xx (see RETRYABLE_CLOSE_CODES).

    The retryable closes are 4001/4012/4013, mirroring 1001/1012/1013: daphne (autobahn) can only send 1000 and
    3000–4999. There is deliberately no 4408 "slow consumer": a client that fell behind is closed 4013 with
    reason ``slow_consumer``, which the SDK retries and resumes from a fresh snapshot. 1011 is never sent: it
    means an application instance died, which is always a bug.
    """

    NORMAL = 1000
    GOING_AWAY = 4001
    SERVICE_RESTART = 4012
    TRY_AGAIN_LATER = 4013
    PROTOCOL_ERROR = 4400
    TOKEN = 4401
    FORBIDDEN = 4403
    REPLACED = 4409
    RATE_LIMITED = 4429


#: Never sent by a server; what a client sees when the TCP connection died without a close frame.
ABNORMAL_CLOSURE = 1006
#: The close codes after which the SDK reconnects (jittered backoff) and resumes. Everything else is final.
#: 1001/1012/1013 come from proxies and other servers; ours sends their 40xx mirrors.
RETRYABLE_CLOSE_CODES: frozenset[int] = frozenset(
    {1001, ABNORMAL_CLOSURE, 1012, 1013, CloseCode.GOING_AWAY, CloseCode.SERVICE_RESTART, CloseCode.TRY_AGAIN_LATER}
)


class CloseReason(enum.StrEnum):
    """The ``reason`` string of a close frame: the machine-readable cause, one close code each."""

    LEFT = "left"
    SHUTDOWN = "shutdown"
    PING_TIMEOUT = "ping_timeout"
    RESTART = "restart"
    UNAVAILABLE = "unavailable"
    OVERLOADED = "overloaded"
    SLOW_CONSUMER = "slow_consumer"
    FRAME_TOO_LARGE = "frame_too_large"
    BINARY_FRAME = "binary_frame"
    TOO_MANY_ERRORS = "too_many_errors"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    BAD_HELLO = "bad_hello"
    TOKEN_MISSING = "token_missing"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    TOKEN_TTL = "token_ttl"
    WRONG_ROOM = "wrong_room"
    UNKNOWN_KEY = "unknown_key"
    MISSING_CLAIM = "missing_claim"
    BAD_CAPABILITIES = "bad_capabilities"
    RESUME_INVALID = "resume_invalid"
    RESUME_EXPIRED = "resume_expired"
    HELLO_TIMEOUT = "hello_timeout"
    ROOM_ENDED = "room_ended"
    ROOM_FULL = "room_full"
    REMOVED = "removed"
    REPLACED = "replaced"
    RATE_LIMITED = "rate_limited"


#: Which close code carries each reason (the consumer looks the code up here instead of choosing it).
CLOSE_REASON_CODES: dict[str, CloseCode] = {
    CloseReason.LEFT: CloseCode.NORMAL,
    CloseReason.SHUTDOWN: CloseCode.GOING_AWAY,
    CloseReason.PING_TIMEOUT: CloseCode.GOING_AWAY,
    CloseReason.RESTART: CloseCode.SERVICE_RESTART,
    CloseReason.UNAVAILABLE: CloseCode.TRY_AGAIN_LATER,
    CloseReason.OVERLOADED: CloseCode.TRY_AGAIN_LATER,
    CloseReason.SLOW_CONSUMER: CloseCode.TRY_AGAIN_LATER,
    CloseReason.FRAME_TOO_LARGE: CloseCode.PROTOCOL_ERROR,
    CloseReason.BINARY_FRAME: CloseCode.PROTOCOL_ERROR,
    CloseReason.TOO_MANY_ERRORS: CloseCode.PROTOCOL_ERROR,
    CloseReason.UNSUPPORTED_PROTOCOL: CloseCode.PROTOCOL_ERROR,
    CloseReason.BAD_HELLO: CloseCode.PROTOCOL_ERROR,
    CloseReason.TOKEN_MISSING: CloseCode.TOKEN,
    CloseReason.TOKEN_INVALID: CloseCode.TOKEN,
    CloseReason.TOKEN_EXPIRED: CloseCode.TOKEN,
    CloseReason.TOKEN_NOT_YET_VALID: CloseCode.TOKEN,
    CloseReason.TOKEN_TTL: CloseCode.TOKEN,
    CloseReason.WRONG_ROOM: CloseCode.TOKEN,
    CloseReason.UNKNOWN_KEY: CloseCode.TOKEN,
    CloseReason.MISSING_CLAIM: CloseCode.TOKEN,
    CloseReason.BAD_CAPABILITIES: CloseCode.TOKEN,
    CloseReason.RESUME_INVALID: CloseCode.TOKEN,
    CloseReason.RESUME_EXPIRED: CloseCode.TOKEN,
    CloseReason.HELLO_TIMEOUT: CloseCode.TOKEN,
    CloseReason.ROOM_ENDED: CloseCode.FORBIDDEN,
    CloseReason.ROOM_FULL: CloseCode.FORBIDDEN,
    CloseReason.REMOVED: CloseCode.FORBIDDEN,
    CloseReason.REPLACED: CloseCode.REPLACED,
    CloseReason.RATE_LIMITED: CloseCode.RATE_LIMITED,
}


class ProtocolError(Exception):
    """A frame the server refuses. Becomes an ``error`` frame; ``ref`` echoes the client's request ``id``."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.ref = ref

    def __repr__(self) -> str:
        return f"ProtocolError({self.code.value!r}, {self.message!r}, field={self.field!r}, ref={self.ref!r})"

    def to_frame(self) -> dict[str, Any]:
        """The ``error`` frame that reports this error to the client."""
        return error(self.code, self.message, ref=self.ref, field=self.field)


# --------------------------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------------------------

PARTICIPANT_ID_RE = re.compile(r"PA_[0-9A-HJKMNP-TV-Z]{26}")  # "PA_" + ULID (Crockford base32); use fullmatch
TRACK_SID_RE = re.compile(r"TR_[A-Za-z0-9_-]{1,40}")
#: RFC 4566 token characters: what a media ``mid`` may contain (and never CR/LF, so no SDP injection).
MID_RE = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]{1,32}")
#: RFC 8839 candidate-attribute, as browsers put it in RTCIceCandidate.candidate (with the "candidate:" prefix).
CANDIDATE_RE = re.compile(
    r"candidate:[A-Za-z0-9+/]{1,32} [0-9]{1,3} [A-Za-z0-9_-]{1,16} [0-9]{1,10}"
    r" [A-Za-z0-9.:%_-]{1,253} [0-9]{1,5} typ [A-Za-z0-9_-]{1,16}"
    r"(?: [A-Za-z0-9_.-]{1,64} [!-~]{1,253})*"
)
_UFRAG_RE = re.compile(r"[A-Za-z0-9+/]{1,256}")
# Characters an identity may not contain: whitespace, controls (C0, DEL, C1), invisible format characters,
# line/paragraph separators, lone surrogates, and the URL delimiters / \ ? # % (so it is one REST path segment
# without escaping tricks). It may not start with "." ("." and ".." are path segments clients normalise away).
_IDENTITY_BAD = r"\s/\\?#%\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff"
#: The identity grammar, as a JSON Schema / OpenAPI ``pattern`` (use IDENTITY_RE.fullmatch in code).
IDENTITY_PATTERN = f"^[^{_IDENTITY_BAD}.][^{_IDENTITY_BAD}]{{0,{MAX_IDENTITY_LEN - 1}}}$"
IDENTITY_RE = re.compile(IDENTITY_PATTERN[1:-1])

TRACK_KINDS = frozenset({"audio", "video"})
#: The kind each source must have; publishing a camera as audio is a bad_request.
SOURCE_KINDS: dict[str, str] = {
    "camera": "video",
    "microphone": "audio",
    "screen": "video",
    "screen_audio": "audio",
}
TRACK_SOURCES = frozenset(SOURCE_KINDS)
#: Simulcast layers, lowest first: q = quarter, h = half, f = full resolution.
SIMULCAST_LAYERS = ("q", "h", "f")
PREFERRED_QUALITIES = frozenset({"low", "medium", "high", "auto"})
#: Connection-quality bands a client reports; the server may also announce "unknown".
QUALITY_BANDS = ("excellent", "good", "fair", "poor", "bad")
ANNOUNCED_QUALITY_BANDS = frozenset({*QUALITY_BANDS, "unknown"})
DESCRIPTION_TYPES = frozenset({"offer", "answer", "pranswer", "rollback"})
RECORDING_STATES = frozenset({"started", "stopped", "failed"})
SFU_STATES = frozenset({"ready", "unavailable"})
SDP_DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})


class LeaveReason(enum.StrEnum):
    """``participant-left.reason``: why a participant is gone from the roster."""

    CLIENT_INITIATED = "client_initiated"
    CONNECTION_LOST = "connection_lost"
    REPLACED = "replaced"
    REMOVED = "removed"
    ROOM_ENDED = "room_ended"
    CAPABILITY_REVOKED = "capability_revoked"


LEAVE_REASONS = frozenset(reason.value for reason in LeaveReason)


# Capabilities: the wire vocabulary a token's ``caps`` claim uses. ``capabilities.py`` adds roles, wildcard
# matching and policy ceilings on top of these names.
PUBLISH_CAMERA = "publish:camera"
PUBLISH_MIC = "publish:mic"
PUBLISH_SCREEN = "publish:screen"
PUBLISH_ALL = "publish:*"
SUBSCRIBE_ALL = "subscribe:all"
CHAT_SEND = "chat:send"
REACT_SEND = "react:send"
RECORD_CONTROL = "record:control"
ROOM_ADMIN = "room:admin"
PRESENCE_HIDDEN = "presence:hidden"
HAND_RAISE = "hand:raise"

#: Every capability name and what it allows (docs and error messages read this).
VOCABULARY: dict[str, str] = {
    PUBLISH_CAMERA: "publish a camera video track",
    PUBLISH_MIC: "publish a microphone audio track",
    PUBLISH_SCREEN: "publish a screen share (video and its audio)",
    PUBLISH_ALL: "publish any source (camera, mic, screen)",
    SUBSCRIBE_ALL: "receive every published track of the room",
    CHAT_SEND: "send chat messages",
    REACT_SEND: "send reactions",
    RECORD_CONTROL: "start and stop recordings",
    ROOM_ADMIN: "moderate: mute or remove participants, end the room",
    PRESENCE_HIDDEN: "join without appearing in the roster (recorders, monitors)",
    HAND_RAISE: "raise and lower your own hand",
}

#: Which capability a published track source needs.
SOURCE_CAPABILITY: dict[str, str] = {
    "camera": PUBLISH_CAMERA,
    "microphone": PUBLISH_MIC,
    "screen": PUBLISH_SCREEN,
    "screen_audio": PUBLISH_SCREEN,
}

#: T24: sending media of a kind in SDP needs one of these (a subscribe-only peer may only receive).
#: ``application`` (data channels: app data, not media) needs none. Any other m-line kind needs one of
#: UNKNOWN_KIND_CAPABILITIES (see send_capabilities).
SEND_KIND_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "audio": (PUBLISH_MIC, PUBLISH_SCREEN),
    "video": (PUBLISH_CAMERA, PUBLISH_SCREEN),
    "application": (),
}
UNKNOWN_KIND_CAPABILITIES: tuple[str, ...] = (PUBLISH_CAMERA, PUBLISH_MIC, PUBLISH_SCREEN)
#: The capability each message type needs (``publish`` depends on the source: see required_capability).
MESSAGE_CAPABILITY: dict[str, str] = {
    "subscribe": SUBSCRIBE_ALL,
    "chat": CHAT_SEND,
    "reaction": REACT_SEND,
    "record-start": RECORD_CONTROL,
    "record-stop": RECORD_CONTROL,
    "mute-participant": ROOM_ADMIN,
    "remove-participant": ROOM_ADMIN,
    "end-room": ROOM_ADMIN,
}


# --------------------------------------------------------------------------------------------------------------
# Decoding frames
# --------------------------------------------------------------------------------------------------------------

# A JSON string literal (unrolled loop: linear, no backtracking blow-up). Used only to skip brackets in strings.
_JSON_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")
_BRACKET_DELTA = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # as signed bytes: +1, -1


def _max_depth(text: str) -> int:
    """Nesting depth of a JSON text, computed without recursion (json.loads recurses and can blow the stack)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit
    brackets = _NOT_BRACKET_RE.sub("", _JSON_STRING_RE.sub("", text))
    if not brackets:
        return 0
    deltas = array("b", brackets.encode("ascii").translate(_BRACKET_DELTA))
    return max(accumulate(deltas))


def _parse_int(literal: str) -> int:
    # Length first: int() of a 10,000-digit literal is slow (and refused past sys.get_int_max_str_digits()).
    value = int(literal) if len(literal) <= 17 else MAX_SAFE_INTEGER + 1
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError("integer outside the exact range of JavaScript numbers")
    return value


def _parse_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _parse_constant(literal: str) -> NoReturn:
    raise ValueError(f"{literal} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # Parsers disagree on which duplicate wins (first/last): a smuggling vector between server and SFU.
        raise ValueError("duplicate object key")
    return obj


def decode_frame(text: str | bytes | None, *, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    """Decode one text frame into a JSON object; raise ProtocolError(too_large | bad_json) for anything else.

    The size is checked first so an oversize frame costs no parsing. A leading BOM is refused (RFC 8259 says
    senders must not add one). Numbers follow I-JSON: no NaN/Infinity, no overflow to inf, integers within
    ±(2**53-1). Duplicate keys are refused. Nesting deeper than MAX_DEPTH is refused before json.loads runs.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
        if len(raw) > MAX_FRAME_BYTES:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is larger than {MAX_FRAME_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid UTF-8") from None
    elif isinstance(text, str):
        if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"frame is larger than {max_bytes} bytes")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid UTF-8") from None
    else:
        raise ProtocolError(ErrorCode.BAD_JSON, "expected a text frame")
    if text.startswith("\ufeff"):
        raise ProtocolError(ErrorCode.BAD_JSON, "frame starts with a byte order mark")
    if _max_depth(text) > MAX_DEPTH:
        raise ProtocolError(ErrorCode.BAD_JSON, f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ProtocolError(ErrorCode.BAD_JSON, f"invalid JSON: {message[:100]}") from None
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "a frame must be a JSON object")
    return value


# --------------------------------------------------------------------------------------------------------------
# Field validation helpers
# --------------------------------------------------------------------------------------------------------------

# Single-line strings: no C0/C1 controls (CR/LF would inject SDP or log lines), no lone surrogates (they
# cannot be encoded as UTF-8, so relaying one would crash the send path of every receiver).
_LINE_BAD_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Multi-line text (chat): tab, LF and CR are allowed.
_TEXT_BAD_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _fail(field: str, message: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> NoReturn:
    raise ProtocolError(code, message, field=field)


def _short(value: object) -> str:
    """A bounded repr of client input for error messages (never echo 10 KB back)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _object(obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        if required:
            _fail(path, f"{path} is required")
        return None
    if not isinstance(value, dict):
        _fail(path, f"{path} must be an object")
    return value


def _text(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    max_len: int,
    required: bool = True,
    min_len: int = 1,
    multiline: bool = False,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            _fail(path, f"{path} is required")
        return None
    if not isinstance(value, str):
        _fail(path, f"{path} must be a string")
    if len(value) > max_len:
        _fail(path, f"{path} is longer than {max_len} characters")
    if len(value) < min_len:
        _fail(path, f"{path} must not be empty")
    if (_TEXT_BAD_RE if multiline else _LINE_BAD_RE).search(value):
        _fail(path, f"{path} contains control characters or invalid code points")
    if pattern is not None and not pattern.fullmatch(value):
        _fail(path, f"{path} is malformed: {_short(value)}")
    return value


def _required_text(obj: Mapping[str, Any], key: str, path: str, **kwargs: Any) -> str:
    value = _text(obj, key, path, required=True, **kwargs)
    assert value is not None
    return value


def _choice(
    obj: Mapping[str, Any], key: str, path: str, choices: Iterable[str], *, required: bool = True
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            _fail(path, f"{path} is required")
        return None
    if not isinstance(value, str) or value not in choices:
        _fail(path, f"{path} must be one of {', '.join(sorted(choices))}")
    return value


def _bool(obj: Mapping[str, Any], key: str, path: str, *, default: bool | None = None) -> bool:
    value = obj.get(key)
    if value is None:
        if default is None:
            _fail(path, f"{path} is required")
        return default
    if not isinstance(value, bool):
        _fail(path, f"{path} must be true or false")
    return value


def _number(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    lo: float,
    hi: float,
    required: bool = True,
    integer: bool = False,
) -> int | float | None:
    value = obj.get(key)
    if value is None:
        if required:
            _fail(path, f"{path} is required")
        return None
    kinds = int if integer else (int, float)
    # bool is an int subclass; a NaN fails the range comparison; huge ints compare exactly (no overflow).
    if isinstance(value, bool) or not isinstance(value, kinds) or not lo <= value <= hi:
        what = "an integer" if integer else "a number"
        _fail(path, f"{path} must be {what} between {lo:g} and {hi:g}")
    return value


def _participant(obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    return _text(obj, key, path, max_len=29, required=required, pattern=PARTICIPANT_ID_RE)


def _track_sid(obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    return _text(obj, key, path, max_len=43, required=required, pattern=TRACK_SID_RE)


def _string_list(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    max_items: int,
    choices: Iterable[str] | None = None,
    pattern: re.Pattern[str] | None = None,
) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        _fail(path, f"{path} must be a list")
    if len(value) > max_items:
        _fail(path, f"{path} has more than {max_items} items")
    allowed = frozenset(choices) if choices is not None else None
    for item in value:
        if not isinstance(item, str):
            _fail(path, f"{path} items must be strings")
        if allowed is not None and item not in allowed:
            _fail(path, f"{path} items must be among {', '.join(sorted(allowed))}")
        if pattern is not None and not pattern.fullmatch(item):
            _fail(path, f"{path} item is malformed: {_short(item)}")
    if len(set(value)) != len(value):
        _fail(path, f"{path} has duplicates")
    return tuple(value)


def _drop_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# --------------------------------------------------------------------------------------------------------------
# SDP
# --------------------------------------------------------------------------------------------------------------

_SDP_BAD_CHARS_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]|\r(?!\n)")
_SDP_LINE_RE = re.compile(r"[a-z]=[^\r\n]*")
_MLINE_RE = re.compile(
    r"m=([a-z][a-z0-9_.-]{0,31}) ([0-9]{1,5})(?:/[0-9]{1,5})? [A-Za-z0-9/_.+-]{1,64}(?: [!-~]{1,64}){0,512}"
)
_FINGERPRINT_RE = re.compile(r"a=fingerprint:([!-~]{1,32}) ([0-9A-Fa-f:]{1,256})")
_DIRECTION_LINES = frozenset(f"a={d}" for d in SDP_DIRECTIONS)


def _sdp_fail(message: str, field: str) -> NoReturn:
    raise ProtocolError(ErrorCode.BAD_SDP, message, field=field)


def validate_sdp(sdp: str, *, max_mlines: int = MAX_SDP_MLINES, field: str = "description.sdp") -> None:
    """Refuse SDP that could hurt a parser or smuggle something past the server's checks (T33).

    Checks: starts with ``v=0``; ≤ MAX_SDP_BYTES; only ``<letter>=`` lines separated by (CR)LF; no NUL, other
    control characters or bare CR; ≤ ``max_mlines`` well-formed m-lines; ≤ MAX_SDP_CANDIDATES ``a=candidate``
    lines (≤ MAX_SDP_CANDIDATES_PER_MEDIA per section), each within the RFC 8839 grammar; at most one
    direction attribute per section (parsers disagree on which one wins); no repeated fingerprint hash in a
    section and no conflicting fingerprints across sections.
    """
    if not isinstance(sdp, str):
        _sdp_fail("sdp must be a string", field)
    if len(sdp) > MAX_SDP_BYTES or len(sdp.encode("utf-8", "surrogatepass")) > MAX_SDP_BYTES:
        _sdp_fail(f"SDP is larger than {MAX_SDP_BYTES} bytes", field)
    if not sdp.startswith("v=0"):
        _sdp_fail("SDP must start with v=0", field)
    if _SDP_BAD_CHARS_RE.search(sdp):
        _sdp_fail("SDP contains control characters, NUL or a bare CR", field)
    lines = sdp.split("\n")
    if lines[-1] == "":
        lines.pop()
    if lines[0].rstrip("\r") != "v=0":
        _sdp_fail("SDP must start with v=0", field)
    mlines = candidates = section_candidates = section_directions = 0
    section_fingerprints: set[str] = set()
    fingerprints: dict[str, str] = {}
    for raw in lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        if len(line) > MAX_SDP_LINE_LEN:
            _sdp_fail(f"SDP line longer than {MAX_SDP_LINE_LEN} characters", field)
        if not _SDP_LINE_RE.fullmatch(line):
            _sdp_fail(f"malformed SDP line: {_short(line)}", field)
        if line.startswith("m="):
            mlines += 1
            if mlines > max_mlines:
                _sdp_fail(f"SDP has more than {max_mlines} m-lines", field)
            if not _MLINE_RE.fullmatch(line):
                _sdp_fail(f"malformed m-line: {_short(line)}", field)
            section_candidates = section_directions = 0
            section_fingerprints = set()
        elif line.startswith("a=candidate:"):
            candidates += 1
            section_candidates += 1
            if candidates > MAX_SDP_CANDIDATES or section_candidates > MAX_SDP_CANDIDATES_PER_MEDIA:
                _sdp_fail("too many a=candidate lines", field)
            value = line[2:]
            if len(value) > MAX_CANDIDATE_LEN or not CANDIDATE_RE.fullmatch(value):
                _sdp_fail(f"malformed candidate: {_short(value)}", field)
        elif line in _DIRECTION_LINES:
            section_directions += 1
            if section_directions > 1:
                _sdp_fail("more than one direction attribute in one section", field)
        elif line.startswith("a=fingerprint:"):
            match = _FINGERPRINT_RE.fullmatch(line)
            if match is None:
                _sdp_fail(f"malformed fingerprint: {_short(line)}", field)
            hash_func, value = match.group(1).lower(), match.group(2).upper()
            if hash_func in section_fingerprints:
                _sdp_fail("duplicate fingerprint in one section", field)
            section_fingerprints.add(hash_func)
            if fingerprints.setdefault(hash_func, value) != value:
                _sdp_fail("conflicting fingerprints", field)


def sdp_media_directions(sdp: str) -> list[tuple[str, str]]:
    """``[(kind, direction), ...]`` per m-line, from the SDP author's point of view.

    The direction is the section's attribute, else the session-level one, else ``sendrecv`` (RFC 4566). A
    section with port 0 and no ``a=bundle-only`` is disabled and reported ``inactive``. Total on any string
    (best effort on malformed SDP); call validate_sdp first to refuse ambiguous input.
    """
    if not isinstance(sdp, str):
        return []
    session_direction = "sendrecv"
    sections: list[list[Any]] = []  # [kind, port_is_zero, direction|None, bundle_only]
    for raw in sdp.split("\n"):
        line = raw.rstrip("\r")
        if line.startswith("m="):
            parts = line[2:].split(" ")
            port = parts[1].split("/")[0] if len(parts) > 1 else ""
            sections.append([parts[0], port.strip("0") == "" and port != "", None, False])
        elif line in _DIRECTION_LINES:
            if sections:
                sections[-1][2] = line[2:]
            else:
                session_direction = line[2:]
        elif line == "a=bundle-only" and sections:
            sections[-1][3] = True
    result = []
    for kind, port_zero, direction, bundle_only in sections:
        if port_zero and not bundle_only:
            result.append((kind, "inactive"))
        else:
            result.append((kind, direction or session_direction))
    return result


def send_capabilities(kind: str) -> tuple[str, ...]:
    """The capabilities of which the author of an SDP sending ``kind`` needs one; ``()`` means none needed."""
    return SEND_KIND_CAPABILITIES.get(kind, UNKNOWN_KIND_CAPABILITIES)


def sdp_sent_kinds(sdp: str) -> frozenset[str]:
    """Media kinds the SDP's author offers or agrees to send (T24: refuse them without a publish capability)."""
    return frozenset(kind for kind, direction in sdp_media_directions(sdp) if direction in ("sendrecv", "sendonly"))


# --------------------------------------------------------------------------------------------------------------
# Value objects shared by messages
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SdkInfo:
    """``hello.sdk``: who is talking, for logs and compatibility workarounds."""

    name: str
    version: str

    @classmethod
    def parse(cls, obj: dict[str, Any], path: str) -> Self:
        return cls(
            name=_required_text(obj, "name", f"{path}.name", max_len=MAX_SDK_FIELD_LEN),
            version=_required_text(obj, "version", f"{path}.version", max_len=MAX_SDK_FIELD_LEN),
        )

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeInfo:
    """``hello.resume``: the session and credential from an earlier ``welcome``."""

    session: str
    credential: str

    @classmethod
    def parse(cls, obj: dict[str, Any], path: str) -> Self:
        return cls(
            session=_required_text(obj, "session", f"{path}.session", max_len=MAX_SESSION_LEN),
            credential=_required_text(obj, "credential", f"{path}.credential", max_len=MAX_CREDENTIAL_LEN),
        )

    def to_wire(self) -> dict[str, Any]:
        return {"session": self.session, "credential": self.credential}


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDescription:
    """An RTCSessionDescriptionInit. ``sdp`` is validated except for ``rollback`` (whose sdp is empty)."""

    type: str
    sdp: str

    @classmethod
    def parse(cls, obj: dict[str, Any], path: str, *, max_mlines: int) -> Self:
        kind = _choice(obj, "type", f"{path}.type", DESCRIPTION_TYPES)
        assert kind is not None
        if kind == "rollback":
            sdp = obj.get("sdp")
            if sdp not in (None, ""):
                _fail(f"{path}.sdp", "a rollback carries no sdp")
            return cls(type=kind, sdp="")
        sdp = obj.get("sdp")
        if sdp is None:
            _fail(f"{path}.sdp", f"{path}.sdp is required")
        validate_sdp(sdp, max_mlines=max_mlines, field=f"{path}.sdp")
        return cls(type=kind, sdp=sdp)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.type, "sdp": self.sdp}


@dataclass(frozen=True, slots=True, kw_only=True)
class IceCandidate:
    """An RTCIceCandidateInit; ``candidate == ""`` signals end-of-candidates."""

    candidate: str
    sdpMid: str | None = None  # WebRTC's field names, kept as is
    sdpMLineIndex: int | None = None
    usernameFragment: str | None = None

    @classmethod
    def parse(cls, obj: dict[str, Any], path: str) -> Self:
        candidate = _text(obj, "candidate", f"{path}.candidate", max_len=MAX_CANDIDATE_LEN, min_len=0)
        if candidate is None:
            _fail(f"{path}.candidate", f"{path}.candidate is required")
        if candidate and not CANDIDATE_RE.fullmatch(candidate):
            _fail(f"{path}.candidate", f"{path}.candidate is not an RFC 8839 candidate: {_short(candidate)}")
        mid = _text(obj, "sdpMid", f"{path}.sdpMid", max_len=MAX_MID_LEN, required=False, pattern=MID_RE)
        index = _number(
            obj, "sdpMLineIndex", f"{path}.sdpMLineIndex", lo=0, hi=MAX_SFU_SDP_MLINES - 1, required=False, integer=True
        )
        if candidate and mid is None and index is None:
            _fail(f"{path}.sdpMid", "sdpMid or sdpMLineIndex is required")
        ufrag = _text(
            obj, "usernameFragment", f"{path}.usernameFragment", max_len=256, required=False, pattern=_UFRAG_RE
        )
        return cls(candidate=candidate, sdpMid=mid, sdpMLineIndex=index, usernameFragment=ufrag)  # type: ignore[arg-type]

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"candidate": self.candidate, "sdpMid": self.sdpMid, "sdpMLineIndex": self.sdpMLineIndex}
        if self.usernameFragment is not None:
            wire["usernameFragment"] = self.usernameFragment
        return wire


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackInfo:
    """``publish.track``. ``layers`` are simulcast layers (video only); ``mids`` map them to SFU transceivers."""

    sid: str
    kind: str
    source: str
    muted: bool = False
    layers: tuple[str, ...] = ()
    mids: tuple[str, ...] = ()
    name: str | None = None

    @classmethod
    def parse(cls, obj: dict[str, Any], path: str) -> Self:
        sid = _track_sid(obj, "sid", f"{path}.sid")
        kind = _choice(obj, "kind", f"{path}.kind", TRACK_KINDS)
        source = _choice(obj, "source", f"{path}.source", TRACK_SOURCES)
        assert sid is not None and kind is not None and source is not None
        if SOURCE_KINDS[source] != kind:
            _fail(f"{path}.kind", f"a {source} track is {SOURCE_KINDS[source]}, not {kind}")
        muted = _bool(obj, "muted", f"{path}.muted", default=False)
        layers = _string_list(obj, "layers", f"{path}.layers", max_items=MAX_LAYERS, choices=SIMULCAST_LAYERS)
        if layers and kind != "video":
            _fail(f"{path}.layers", "only video tracks have simulcast layers")
        mids = _string_list(obj, "mids", f"{path}.mids", max_items=MAX_LAYERS, pattern=MID_RE)
        if mids and len(mids) != max(1, len(layers)):
            _fail(f"{path}.mids", "mids must name one transceiver per layer (one if no layers)")
        name = _text(obj, "name", f"{path}.name", max_len=MAX_NAME_LEN, required=False)
        return cls(sid=sid, kind=kind, source=source, muted=muted, layers=layers, mids=mids, name=name)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"sid": self.sid, "kind": self.kind, "source": self.source, "muted": self.muted}
        if self.layers:
            wire["layers"] = list(self.layers)
        if self.mids:
            wire["mids"] = list(self.mids)
        if self.name is not None:
            wire["name"] = self.name
        return wire


def _description_or_candidate(
    obj: dict[str, Any], *, max_mlines: int
) -> tuple[SessionDescription | None, IceCandidate | None]:
    has_description = obj.get("description") is not None
    if has_description == (obj.get("candidate") is not None):
        _fail("description", "exactly one of description or candidate is required")
    if has_description:
        d = _object(obj, "description", "description")
        assert d is not None
        return SessionDescription.parse(d, "description", max_mlines=max_mlines), None
    c = _object(obj, "candidate", "candidate")
    assert c is not None
    return None, IceCandidate.parse(c, "candidate")


def _wire_signal(description: SessionDescription | None, candidate: IceCandidate | None) -> dict[str, Any]:
    if description is not None:
        return {"description": description.to_wire()}
    assert candidate is not None
    return {"candidate": candidate.to_wire()}


# --------------------------------------------------------------------------------------------------------------
# Client → server messages
# --------------------------------------------------------------------------------------------------------------

#: Wire type → message class. parse_message dispatches on it; nothing else decides what a type means.
CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {}


_M = TypeVar("_M", bound="type[ClientMessage]")


def _register(cls: _M) -> _M:
    CLIENT_MESSAGES[cls.TYPE] = cls
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientMessage:
    """Base of every client → server message. ``id`` is the client's request id, answered with ``ref``."""

    TYPE: ClassVar[str] = ""
    id: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        """Validated constructor arguments (besides ``id``) from a decoded frame."""
        return {}

    def wire_fields(self) -> dict[str, Any]:
        """The frame's fields besides ``type`` and ``id`` (inverse of parse_fields)."""
        return {}

    def to_wire(self) -> dict[str, Any]:
        """The JSON object a client sends for this message (``parse_message(m.to_wire()) == m``)."""
        frame: dict[str, Any] = {"type": self.TYPE}
        if self.id is not None:
            frame["id"] = self.id
        frame.update(self.wire_fields())
        return frame


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Hello(ClientMessage):
    """First frame: protocol version, SDK, optional resume of an earlier session, optional token."""

    TYPE: ClassVar[str] = "hello"
    protocol: int
    sdk: SdkInfo | None = None
    resume: ResumeInfo | None = None
    token: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        protocol = _number(obj, "protocol", "protocol", lo=1, hi=1000, integer=True)
        if protocol not in SUPPORTED_PROTOCOLS:
            supported = ", ".join(str(v) for v in sorted(SUPPORTED_PROTOCOLS))
            _fail("protocol", f"protocol {protocol} is not supported; this server speaks {supported}")
        sdk = _object(obj, "sdk", "sdk", required=False)
        resume = _object(obj, "resume", "resume", required=False)
        return {
            "protocol": protocol,
            "sdk": SdkInfo.parse(sdk, "sdk") if sdk is not None else None,
            "resume": ResumeInfo.parse(resume, "resume") if resume is not None else None,
            "token": _text(obj, "token", "token", max_len=MAX_TOKEN_LEN, required=False),
        }

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none(
            {
                "protocol": self.protocol,
                "sdk": self.sdk.to_wire() if self.sdk else None,
                "resume": self.resume.to_wire() if self.resume else None,
                "token": self.token,
            }
        )


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Signal(ClientMessage):
    """Mesh signaling to one peer: an SDP description or one trickled ICE candidate."""

    TYPE: ClassVar[str] = "signal"
    to: str
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        to = _participant(obj, "to", "to")
        description, candidate = _description_or_candidate(obj, max_mlines=MAX_SDP_MLINES)
        return {"to": to, "description": description, "candidate": candidate}

    def wire_fields(self) -> dict[str, Any]:
        return {"to": self.to, **_wire_signal(self.description, self.candidate)}


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class SfuSignal(ClientMessage):
    """Signaling with the room's SFU worker (the client is always the polite peer)."""

    TYPE: ClassVar[str] = "sfu-signal"
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        description, candidate = _description_or_candidate(obj, max_mlines=MAX_SFU_SDP_MLINES)
        return {"description": description, "candidate": candidate}

    def wire_fields(self) -> dict[str, Any]:
        return _wire_signal(self.description, self.candidate)


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Publish(ClientMessage):
    """Announce a local track; needs the publish capability of its source."""

    TYPE: ClassVar[str] = "publish"
    track: TrackInfo

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        track = _object(obj, "track", "track")
        assert track is not None
        return {"track": TrackInfo.parse(track, "track")}

    def wire_fields(self) -> dict[str, Any]:
        return {"track": self.track.to_wire()}


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Unpublish(ClientMessage):
    """Withdraw one of the sender's own tracks."""

    TYPE: ClassVar[str] = "unpublish"
    track: str

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {"track": _track_sid(obj, "track", "track")}

    def wire_fields(self) -> dict[str, Any]:
        return {"track": self.track}


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Mute(ClientMessage):
    """Mute or unmute one of the sender's own tracks."""

    TYPE: ClassVar[str] = "mute"
    track: str
    muted: bool

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {"track": _track_sid(obj, "track", "track"), "muted": _bool(obj, "muted", "muted")}

    def wire_fields(self) -> dict[str, Any]:
        return {"track": self.track, "muted": self.muted}


def _subscription_fields(obj: dict[str, Any]) -> dict[str, Any]:
    participant = _participant(obj, "participant", "participant")
    kind = _choice(obj, "kind", "kind", TRACK_KINDS, required=False)
    track = _track_sid(obj, "track", "track", required=False)
    if kind is not None and track is not None:
        _fail("track", "give kind or track, not both")
    return {"participant": participant, "kind": kind, "track": track}


@dataclass(frozen=True, slots=True, kw_only=True)
class _ParticipantTracks(ClientMessage):
    """A request about another participant's tracks: all of them, one kind, or one track."""

    participant: str
    kind: str | None = None
    track: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return _subscription_fields(obj)

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"participant": self.participant, "kind": self.kind, "track": self.track})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe(_ParticipantTracks):
    """Receive a participant's tracks: all, one kind, or one track."""

    TYPE: ClassVar[str] = "subscribe"


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe(_ParticipantTracks):
    """Stop receiving a participant's tracks: all, one kind, or one track."""

    TYPE: ClassVar[str] = "unsubscribe"


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class SetPreferredQuality(ClientMessage):
    """The video quality this receiver wants, from everyone or from one participant."""

    TYPE: ClassVar[str] = "set-preferred-quality"
    quality: str
    participant: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "quality": _choice(obj, "quality", "quality", PREFERRED_QUALITIES),
            "participant": _participant(obj, "participant", "participant", required=False),
        }

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"quality": self.quality, "participant": self.participant})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Chat(ClientMessage):
    """A chat message to the room, or privately to one participant."""

    TYPE: ClassVar[str] = "chat"
    text: str
    to: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        text = _required_text(obj, "text", "text", max_len=MAX_CHAT_LEN, multiline=True)
        if not text.strip():
            _fail("text", "text must not be blank")
        return {"text": text, "to": _participant(obj, "to", "to", required=False)}

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"text": self.text, "to": self.to})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction(ClientMessage):
    """An ephemeral emoji reaction shown to the room."""

    TYPE: ClassVar[str] = "reaction"
    emoji: str

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        emoji = _required_text(obj, "emoji", "emoji", max_len=MAX_EMOJI_LEN)
        if not emoji.strip():
            _fail("emoji", "emoji must not be blank")
        return {"emoji": emoji}

    def wire_fields(self) -> dict[str, Any]:
        return {"emoji": self.emoji}


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Hand(ClientMessage):
    """Raise or lower your own hand; with ``participant``, a host lowers someone else's (never raises it)."""

    TYPE: ClassVar[str] = "hand"
    raised: bool
    participant: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        raised = _bool(obj, "raised", "raised")
        participant = _participant(obj, "participant", "participant", required=False)
        if participant is not None and raised:
            _fail("raised", "only your own hand can be raised")
        return {"raised": raised, "participant": participant}

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"raised": self.raised, "participant": self.participant})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class AudioLevel(ClientMessage):
    """The sender's microphone level (0..1) while speaking; feeds active-speaker detection."""

    TYPE: ClassVar[str] = "audio-level"
    level: float

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {"level": _number(obj, "level", "level", lo=0, hi=1)}

    def wire_fields(self) -> dict[str, Any]:
        return {"level": self.level}


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class QualityReport(ClientMessage):
    """The sender's own connection quality band (and optional 0..100 score), relayed to the room."""

    TYPE: ClassVar[str] = "quality-report"
    quality: str
    score: float | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "quality": _choice(obj, "quality", "quality", QUALITY_BANDS),
            "score": _number(obj, "score", "score", lo=0, hi=100, required=False),
        }

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"quality": self.quality, "score": self.score})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class RecordStart(ClientMessage):
    """Start recording the room (needs record:control)."""

    TYPE: ClassVar[str] = "record-start"


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class RecordStop(ClientMessage):
    """Stop the room's recording (needs record:control)."""

    TYPE: ClassVar[str] = "record-stop"


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Resync(ClientMessage):
    """Ask for a full snapshot after a gap in ``seq``."""

    TYPE: ClassVar[str] = "resync"


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Ping(ClientMessage):
    """Application keepalive; ``ts`` is echoed in ``pong`` so the client can measure RTT."""

    TYPE: ClassVar[str] = "ping"
    ts: int | float | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {"ts": _number(obj, "ts", "ts", lo=-MAX_SAFE_INTEGER, hi=MAX_SAFE_INTEGER, required=False)}

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"ts": self.ts})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class Leave(ClientMessage):
    """Leave the room on purpose (others see reason ``client_initiated``; no resume)."""

    TYPE: ClassVar[str] = "leave"
    reason: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {"reason": _text(obj, "reason", "reason", max_len=MAX_REASON_LEN, required=False)}

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"reason": self.reason})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class MuteParticipant(_ParticipantTracks):
    """Admin: mute another participant's tracks (all, one kind or one track). There is no remote unmute."""

    TYPE: ClassVar[str] = "mute-participant"


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveParticipant(ClientMessage):
    """Admin: remove a participant (closed 4403 ``removed``; cannot rejoin with the same token)."""

    TYPE: ClassVar[str] = "remove-participant"
    participant: str
    reason: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "participant": _participant(obj, "participant", "participant"),
            "reason": _text(obj, "reason", "reason", max_len=MAX_REASON_LEN, required=False),
        }

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"participant": self.participant, "reason": self.reason})


@_register
@dataclass(frozen=True, slots=True, kw_only=True)
class EndRoom(ClientMessage):
    """Admin: end the room for everyone."""

    TYPE: ClassVar[str] = "end-room"
    reason: str | None = None

    @classmethod
    def parse_fields(cls, obj: dict[str, Any]) -> dict[str, Any]:
        return {"reason": _text(obj, "reason", "reason", max_len=MAX_REASON_LEN, required=False)}

    def wire_fields(self) -> dict[str, Any]:
        return _drop_none({"reason": self.reason})


def parse_message(obj: dict[str, Any]) -> ClientMessage:
    """Validate a decoded frame into its message object, or raise ProtocolError (with ``ref`` when possible).

    The request ``id`` is read first so every later error can carry it. Unknown fields are ignored, and
    nothing the client calls ``from`` is kept (the server stamps ``from`` itself).
    """
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "a frame must be a JSON object")
    ref = obj.get("id")
    if ref is not None and (not isinstance(ref, str) or not 1 <= len(ref) <= MAX_ID_LEN or _LINE_BAD_RE.search(ref)):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"id must be a string of 1 to {MAX_ID_LEN} characters", field="id")
    kind = obj.get("type")
    cls = CLIENT_MESSAGES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        what = "missing type" if kind is None else f"unknown message type {_short(kind)}"
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, what, field="type", ref=ref)
    try:
        return cls(id=ref, **cls.parse_fields(obj))
    except ProtocolError as exc:
        exc.ref = ref
        raise


def parse_frame(text: str | bytes | None) -> ClientMessage:
    """decode_frame then parse_message: what the consumer calls on every inbound text frame."""
    return parse_message(decode_frame(text))


def required_capability(message: ClientMessage) -> str | None:
    """The capability a message needs, or None. Wildcards (``publish:*``) are matched by the caller."""
    if isinstance(message, Publish):
        return SOURCE_CAPABILITY[message.track.source]
    if isinstance(message, Hand):
        return ROOM_ADMIN if message.participant is not None else HAND_RAISE
    return MESSAGE_CAPABILITY.get(message.TYPE)


def split_subprotocols(offered: Iterable[str]) -> tuple[str | None, str | None]:
    """From the offered ``Sec-WebSocket-Protocol`` values: (subprotocol to select, JWT or None).

    The server selects only SUBPROTOCOL, never echoes the token subprotocol (it would leak the token into the
    handshake response).
    """
    selected = token = None
    for value in offered:
        if not isinstance(value, str):
            continue
        if value == SUBPROTOCOL:
            selected = SUBPROTOCOL
        elif value.startswith(TOKEN_SUBPROTOCOL_PREFIX) and token is None:
            candidate = value[len(TOKEN_SUBPROTOCOL_PREFIX) :]
            if 0 < len(candidate) <= MAX_TOKEN_LEN:
                token = candidate
    return selected, token


def validate_identity(value: Any, *, field: str = "identity") -> str:
    """An identity (a token's ``sub``): 1 to MAX_IDENTITY_LEN code points matching IDENTITY_PATTERN."""
    if not isinstance(value, str) or not IDENTITY_RE.fullmatch(value):
        _fail(
            field,
            f"{field} must be 1 to {MAX_IDENTITY_LEN} characters without whitespace, control characters, "
            "/ \\ ? # % or a leading dot",
        )
    return value


def validate_name(value: Any, *, field: str = "name") -> str:
    """A display name: a single-line string of at most MAX_NAME_LEN code points (may be empty)."""
    if not isinstance(value, str) or len(value) > MAX_NAME_LEN or _LINE_BAD_RE.search(value):
        _fail(field, f"{field} must be a single-line string of at most {MAX_NAME_LEN} characters")
    return value


_METADATA_BAD_RE = re.compile("[\x00\ud800-\udfff]")


def validate_metadata(value: Any, *, field: str = "metadata") -> dict[str, Any]:
    """Room/participant metadata: a JSON object of at most MAX_METADATA_BYTES (compact UTF-8), nested at most
    MAX_DEPTH deep, with no NUL or lone surrogate in any string (PostgreSQL and UTF-8 refuse them)."""
    if not isinstance(value, dict):
        _fail(field, f"{field} must be an object")
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=True)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError, RecursionError):
        _fail(field, f"{field} must be plain JSON")
    if size > MAX_METADATA_BYTES:
        _fail(field, f"{field} is larger than {MAX_METADATA_BYTES} bytes")
    if _max_depth(text) > MAX_DEPTH:
        _fail(field, f"{field} is nested deeper than {MAX_DEPTH} levels")
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _METADATA_BAD_RE.search(item):
            _fail(field, f"{field} must not contain NUL characters")
    return value


# --------------------------------------------------------------------------------------------------------------
# Server → client frames
# --------------------------------------------------------------------------------------------------------------

#: Room-scoped events: broadcast to the room group and stamped with the room's next ``seq``.
ROOM_EVENT_TYPES = frozenset(
    {
        "participant-joined",
        "participant-left",
        "participant-updated",
        "participant-reconnecting",
        "participant-reconnected",
        "track-published",
        "track-unpublished",
        "track-muted",
        "chat-message",
        "reaction",
        "active-speaker",
        "connection-quality",
        "recording",
        "room-ended",
        "sfu-state",
    }
)
#: Snapshots: carry the ``seq`` of the last event they include.
SNAPSHOT_TYPES = frozenset({"welcome", "resync"})
#: Directed to a publisher in a mesh room, with ``from`` stamped: the same type names as the client's requests.
PUBLISHER_RELAY_TYPES = frozenset({"subscribe", "unsubscribe", "set-preferred-quality"})
SERVER_MESSAGE_TYPES = (
    ROOM_EVENT_TYPES
    | SNAPSHOT_TYPES
    | PUBLISHER_RELAY_TYPES
    | {"signal", "sfu-signal", "layer-demand", "ack", "error", "pong", "closing"}
)

# --------------------------------------------------------------------------------------------------------------
# Required fields: the shape checks a client (the JS SDK, the Python client) applies to frames
# --------------------------------------------------------------------------------------------------------------

#: JSON kinds a required field may have. ``string?`` is a string or null (present, may be null).
FIELD_KINDS = frozenset({"string", "string?", "number", "boolean", "object", "array"})
#: Message types that carry exactly one of these fields (both directions).
ONE_OF_FIELDS: dict[str, tuple[str, ...]] = {
    "signal": ("description", "candidate"),
    "sfu-signal": ("description", "candidate"),
}
_ANNOTATION_KINDS = {"str": "string", "int": "number", "float": "number", "bool": "boolean", "TrackInfo": "object"}


def _required_client_fields(cls: type[ClientMessage]) -> dict[str, str]:
    required = {}
    for f in fields(cls):
        if f.default is MISSING and f.default_factory is MISSING:
            kind = _ANNOTATION_KINDS.get(str(f.type))
            if kind is None:  # a new message type with a field kind this table does not know yet
                raise TypeError(f"{cls.TYPE}.{f.name}: add {f.type!r} to _ANNOTATION_KINDS")
            required[f.name] = kind
    return required


#: Client message type → its required fields and their JSON kinds, read off the message classes.
CLIENT_REQUIRED_FIELDS: dict[str, dict[str, str]] = {
    type_: _required_client_fields(cls) for type_, cls in CLIENT_MESSAGES.items()
}
#: Server message type → its required fields and their JSON kinds (the builders below always set them).
SERVER_REQUIRED_FIELDS: dict[str, dict[str, str]] = {
    "welcome": {
        "protocol": "number",
        "you": "object",
        "room": "object",
        "roster": "array",
        "ice_servers": "array",
        "ping_interval": "number",
        "ping_timeout": "number",
        "seq": "number",
    },
    "resync": {"room": "object", "roster": "array", "seq": "number"},
    "participant-joined": {"participant": "object"},
    "participant-left": {"participant": "object", "reason": "string"},
    "participant-updated": {"participant": "object"},
    "participant-reconnecting": {"participant": "object"},
    "participant-reconnected": {"participant": "object"},
    "track-published": {"participant": "string", "track": "object"},
    "track-unpublished": {"participant": "string", "track": "string"},
    "track-muted": {"participant": "string", "track": "string", "muted": "boolean"},
    "chat-message": {"id": "string", "from": "object", "text": "string", "ts": "number"},
    "reaction": {"from": "object", "emoji": "string"},
    "active-speaker": {"participant": "string?"},
    "connection-quality": {"participant": "string", "quality": "string"},
    "recording": {"state": "string"},
    "sfu-state": {"state": "string"},
    "room-ended": {"reason": "string"},
    "signal": {"from": "string"},
    "sfu-signal": {},
    "layer-demand": {"track": "string", "layers": "array"},
    "subscribe": {"from": "string"},
    "unsubscribe": {"from": "string"},
    "set-preferred-quality": {"from": "string", "quality": "string"},
    "ack": {"ref": "string"},
    "error": {"code": "string", "message": "string"},
    "pong": {},
    "closing": {"code": "number", "reason": "string"},
}

_KIND_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "string?": lambda v: v is None or isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def missing_field(frame: Mapping[str, Any], required: Mapping[str, str]) -> str | None:
    """The first required field of ``frame`` that is absent or of the wrong JSON kind, else None.

    ``string?`` fields must be present (null allowed); a ONE_OF_FIELDS type must carry exactly one of its fields.
    """
    for name, kind in required.items():
        if name not in frame or not _KIND_CHECKS[kind](frame[name]):
            return name
    one_of = ONE_OF_FIELDS.get(str(frame.get("type")))
    if one_of and sum(frame.get(name) is not None for name in one_of) != 1:
        return one_of[0]
    return None


def parse_server_frame(text: str | bytes) -> dict[str, Any]:
    """What a client does with a server frame: decode it and check its type's required fields.

    Raises ProtocolError ``unknown_type`` for a type this version does not know (a client should ignore it: a
    newer server may send it) and ``bad_request`` naming the field for a frame missing a required field.
    """
    frame = decode_frame(text, max_bytes=MAX_SERVER_FRAME_BYTES)
    type_ = frame.get("type")
    required = SERVER_REQUIRED_FIELDS.get(type_) if isinstance(type_, str) else None
    if required is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown server message type {_short(type_)}", field="type")
    bad = missing_field(frame, required)
    if bad is None and "seq" in frame and not _KIND_CHECKS["number"](frame["seq"]):
        bad = "seq"
    if bad is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{type_}: {bad} is missing or invalid", field=bad)
    return frame


def _check(value: object, allowed: Iterable[object], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(map(str, allowed))}, got {value!r}")


def _event(type_: str, seq: int | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    frame = {"type": type_, **fields}
    if seq is not None:
        frame["seq"] = seq
    return frame


def _participant_ref(participant: str | Mapping[str, Any]) -> dict[str, Any]:
    return {"id": participant} if isinstance(participant, str) else dict(participant)


def _wire(value: Any) -> Any:
    return value.to_wire() if hasattr(value, "to_wire") else dict(value)


def _signal_payload(
    description: SessionDescription | Mapping[str, Any] | None, candidate: IceCandidate | Mapping[str, Any] | None
) -> dict[str, Any]:
    if (description is None) == (candidate is None):
        raise ValueError("exactly one of description or candidate")
    return {"description": _wire(description)} if description is not None else {"candidate": _wire(candidate)}


def _fit_chat(frame: dict[str, Any], chat: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The newest messages of ``chat`` (oldest first) that fit beside the rest of ``frame`` in MAX_FRAME_BYTES.

    A snapshot is a server frame like any other, so it keeps the documented frame limit: 50 messages of 2,000
    characters would not fit, and the oldest are left out rather than the frame growing past it.
    """
    budget = MAX_FRAME_BYTES - len(encode({**frame, "chat": []}).encode("utf-8"))
    kept: list[dict[str, Any]] = []
    for message in reversed(chat):
        budget -= len(encode(message).encode("utf-8")) + 1  # and a comma
        if budget < 0:
            break
        kept.append(dict(message))
    kept.reverse()
    return kept


def welcome(
    *,
    you: Mapping[str, Any],
    room: Mapping[str, Any],
    roster: Sequence[Mapping[str, Any]],
    ice_servers: Sequence[Mapping[str, Any]],
    ping_interval: float,
    ping_timeout: float,
    seq: int,
    chat: Sequence[Mapping[str, Any]] = (),
    resume: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer to ``hello``: who you are, the room, everyone in it, and how to keep the session alive.

    ``chat`` is cut to its newest messages that keep the frame within MAX_FRAME_BYTES (docs/protocol.md §12).
    """
    frame: dict[str, Any] = {
        "type": "welcome",
        "protocol": PROTOCOL_VERSION,
        "you": dict(you),
        "room": dict(room),
        "roster": [dict(p) for p in roster],
        "chat": [],
        "ice_servers": [dict(s) for s in ice_servers],
        "ping_interval": ping_interval,
        "ping_timeout": ping_timeout,
        "resume": dict(resume) if resume is not None else None,
        "seq": seq,
    }
    frame["chat"] = _fit_chat(frame, chat)
    return frame


def resync(
    *,
    room: Mapping[str, Any],
    roster: Sequence[Mapping[str, Any]],
    seq: int,
    chat: Sequence[Mapping[str, Any]] = (),
    ref: str | None = None,
) -> dict[str, Any]:
    """A full snapshot that replaces the client's room and roster state; answers ``resync`` (with ``ref``).

    Also sent unprompted when the server lost events (e.g. after a Redis outage): its ``seq`` always wins.
    """
    frame: dict[str, Any] = {
        "type": "resync",
        "room": dict(room),
        "roster": [dict(p) for p in roster],
        "chat": [],
        "seq": seq,
    }
    if ref is not None:
        frame["ref"] = ref
    frame["chat"] = _fit_chat(frame, chat)
    return frame


def participant_joined(*, participant: Mapping[str, Any], seq: int | None = None) -> dict[str, Any]:
    """Someone entered the roster (with their tracks)."""
    return _event("participant-joined", seq, {"participant": dict(participant)})


def participant_left(*, participant: str | Mapping[str, Any], reason: str, seq: int | None = None) -> dict[str, Any]:
    """Someone left the roster for good; their tracks are gone with them."""
    _check(reason, LEAVE_REASONS, "reason")
    return _event("participant-left", seq, {"participant": _participant_ref(participant), "reason": str(reason)})


def participant_updated(*, participant: Mapping[str, Any], seq: int | None = None) -> dict[str, Any]:
    """A participant's name, role, capabilities or metadata changed (``participant`` holds id + changes)."""
    return _event("participant-updated", seq, {"participant": dict(participant)})


def participant_reconnecting(*, participant: str | Mapping[str, Any], seq: int | None = None) -> dict[str, Any]:
    """A participant's socket dropped; they stay in the roster for the resume window."""
    return _event("participant-reconnecting", seq, {"participant": _participant_ref(participant)})


def participant_reconnected(*, participant: str | Mapping[str, Any], seq: int | None = None) -> dict[str, Any]:
    """A reconnecting participant resumed their session."""
    return _event("participant-reconnected", seq, {"participant": _participant_ref(participant)})


def track_published(
    *, participant: str, track: TrackInfo | Mapping[str, Any], seq: int | None = None
) -> dict[str, Any]:
    """A participant published a track (``mids`` are between the publisher and the SFU: never relayed)."""
    wire = _wire(track)
    wire.pop("mids", None)
    return _event("track-published", seq, {"participant": participant, "track": wire})


def track_unpublished(
    *, participant: str, track: str, reason: str | None = None, seq: int | None = None
) -> dict[str, Any]:
    """A track is gone (unpublished, or ``reason`` e.g. ``capability_revoked``)."""
    return _event("track-unpublished", seq, _drop_none({"participant": participant, "track": track, "reason": reason}))


def track_muted(
    *, participant: str, track: str, muted: bool, by: str | None = None, seq: int | None = None
) -> dict[str, Any]:
    """A track was muted or unmuted; ``by`` names the admin when it was a remote mute."""
    return _event(
        "track-muted", seq, _drop_none({"participant": participant, "track": track, "muted": bool(muted), "by": by})
    )


def signal(
    *,
    from_: str,
    description: SessionDescription | Mapping[str, Any] | None = None,
    candidate: IceCandidate | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A peer's description or candidate, with ``from`` stamped by the server."""
    return {"type": "signal", "from": from_, **_signal_payload(description, candidate)}


def sfu_signal(
    *,
    description: SessionDescription | Mapping[str, Any] | None = None,
    candidate: IceCandidate | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A description or candidate from the room's SFU worker."""
    return {"type": "sfu-signal", **_signal_payload(description, candidate)}


def layer_demand(*, track: str, layers: Sequence[str]) -> dict[str, Any]:
    """Dynacast (SFU path): the layers of the publisher's track someone watches; pause the others."""
    for layer in layers:
        _check(layer, SIMULCAST_LAYERS, "layer")
    return {"type": "layer-demand", "track": track, "layers": list(layers)}


def subscribe(*, from_: str, kind: str | None = None, track: str | None = None) -> dict[str, Any]:
    """Mesh, to a publisher: ``from`` wants these tracks again (all, one kind or one track); resume sending."""
    return _drop_none({"type": "subscribe", "from": from_, "kind": kind, "track": track})


def unsubscribe(*, from_: str, kind: str | None = None, track: str | None = None) -> dict[str, Any]:
    """Mesh, to a publisher: ``from`` does not want these tracks; stop sending them to that peer."""
    return _drop_none({"type": "unsubscribe", "from": from_, "kind": kind, "track": track})


def set_preferred_quality(*, from_: str, quality: str) -> dict[str, Any]:
    """Mesh, to a publisher: adapt the sender toward ``from`` (the SFU path uses layer-demand instead)."""
    _check(quality, PREFERRED_QUALITIES, "quality")
    return {"type": "set-preferred-quality", "from": from_, "quality": quality}


def sfu_state(*, state: str, reason: str | None = None, seq: int | None = None) -> dict[str, Any]:
    """The room's SFU became ready (negotiate with it now) or unavailable (media paused until ready)."""
    _check(state, SFU_STATES, "state")
    return _event("sfu-state", seq, _drop_none({"state": state, "reason": reason}))


def chat_message(
    *,
    id: str,  # the wire field name
    from_: Mapping[str, Any],
    text: str,
    ts: int,
    to: str | None = None,
    seq: int | None = None,
) -> dict[str, Any]:
    """A chat message; private ones (``to`` set) go only to sender and recipient and carry no ``seq``."""
    return _event("chat-message", seq, {"id": id, "from": dict(from_), "text": text, "to": to, "ts": ts})


def reaction(*, from_: Mapping[str, Any], emoji: str, seq: int | None = None) -> dict[str, Any]:
    """Someone reacted; ephemeral (not in snapshots)."""
    return _event("reaction", seq, {"from": dict(from_), "emoji": emoji})


def active_speaker(*, participant: str | None, seq: int | None = None) -> dict[str, Any]:
    """The dominant speaker changed; ``None`` when the room went silent."""
    return _event("active-speaker", seq, {"participant": participant})


def connection_quality(*, participant: str, quality: str, seq: int | None = None) -> dict[str, Any]:
    """A participant's connection quality band changed."""
    _check(quality, ANNOUNCED_QUALITY_BANDS, "quality")
    return _event("connection-quality", seq, {"participant": participant, "quality": quality})


def recording(
    *, state: str, recording: str | None = None, reason: str | None = None, seq: int | None = None
) -> dict[str, Any]:
    """The room's recording started, stopped or failed (everyone must be able to see it)."""
    _check(state, RECORDING_STATES, "state")
    return _event("recording", seq, _drop_none({"state": state, "recording": recording, "reason": reason}))


def room_ended(*, reason: str, seq: int | None = None) -> dict[str, Any]:
    """The room is over; the server closes every socket 4403 ``room_ended`` right after."""
    return _event("room-ended", seq, {"reason": reason})


def ack(ref: str, **data: Any) -> dict[str, Any]:
    """Success answer to the request whose ``id`` was ``ref``; ``data`` adds result fields (e.g. chat ``id``)."""
    if "type" in data or "ref" in data:
        raise ValueError("ack data must not set type or ref")
    return {"type": "ack", "ref": ref, **data}


def error(
    code: ErrorCode | str,
    message: str,
    ref: str | None = None,
    field: str | None = None,
    *,
    retry_after: float | None = None,
) -> dict[str, Any]:
    """Failure answer (with ``ref``) or unsolicited notice (without); the socket stays open."""
    code = ErrorCode(code)
    return _drop_none(
        {
            "type": "error",
            "code": code.value,
            "message": message,
            "ref": ref,
            "field": field,
            "retry_after": retry_after,
        }
    )


def closing(*, code: int, reason: str, message: str = "") -> dict[str, Any]:
    """The last frame before a server-initiated close: daphne drops close-frame reasons, so the reason travels
    here too (clients prefer it over the close frame's reason)."""
    return _drop_none({"type": "closing", "code": int(code), "reason": str(reason), "message": message or None})


def pong(ts: int | float | None = None, *, ref: str | None = None) -> dict[str, Any]:
    """Answer to ``ping``, echoing its ``ts``."""
    return _drop_none({"type": "pong", "ts": ts, "ref": ref})


#: The pings clients send every few seconds, in their exact compact spelling (``{"type":"ping"}``, and the SDK's
#: ``{"type":"ping","ts":<ms>}`` with a non-negative integer of at most 15 digits, inside the safe range).
_CANONICAL_PING = re.compile(r'\{"type":"ping"(?:,"ts":(0|[1-9][0-9]{0,14}))?\}')


def canonical_pong(text: str) -> str | None:
    """``encode(pong(ts))`` for a frame that is a canonical ping, else None (parse it as usual).

    An idle participant's only traffic is its ping; answering the canonical spellings without decoding, validating
    and re-encoding them is most of the idle cost a socket adds over a bare consumer. Any other spelling (an
    ``id``, spaces, a float ``ts``) takes the full path, whose answer is the same frame.
    """
    match = _CANONICAL_PING.fullmatch(text)
    if match is None:
        return None
    ts = match.group(1)
    return '{"type":"pong"}' if ts is None else '{"type":"pong","ts":' + ts + "}"


def encode(frame: Mapping[str, Any]) -> str:
    """Compact JSON text for a WebSocket text frame (UTF-8 kept as is; NaN refused)."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
