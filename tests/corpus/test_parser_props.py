"""G7: property tests on the parser. ``parse_frame`` is total (a message or a ProtocolError with a documented code,
never another exception) on arbitrary text and on mutations of every valid example, and every message it accepts
round-trips: ``parse_message(message.to_wire()) == message``."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_levelchat import protocol as p
from django_levelchat.protocol_examples import CLIENT_EXAMPLES

EXAMPLES = sorted(CLIENT_EXAMPLES)
CODES = {c.value for c in p.ErrorCode}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=80)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def _outcome(text: str | bytes) -> p.ClientMessage | p.ProtocolError:
    try:
        return p.parse_frame(text)
    except p.ProtocolError as exc:
        assert exc.code.value in CODES
        assert exc.field is None or isinstance(exc.field, str)
        return exc


def _round_trip(message: p.ClientMessage) -> None:
    again = p.parse_message(json.loads(p.encode(message.to_wire())))
    assert again == message


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    paths = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if prefix == () and key == "type":
                continue
            paths.append((*prefix, key))
            paths += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            paths.append((*prefix, i))
            paths += _paths(value, (*prefix, i))
    return paths


def _set(obj: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


@pytest.mark.parametrize("kind", EXAMPLES)
def test_every_example_parses_and_round_trips(kind):
    message = p.parse_frame(json.dumps(CLIENT_EXAMPLES[kind]))
    assert kind == message.TYPE
    _round_trip(message)


@pytest.mark.parametrize("kind", EXAMPLES)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_examples_parse_or_fail_cleanly(kind, data):
    """500 mutations per message type: one field (at any depth) replaced, removed, or an extra field added."""
    frame = copy.deepcopy(CLIENT_EXAMPLES[kind])
    paths = _paths(frame)
    action = data.draw(st.sampled_from(["replace", "drop", "extra"] if paths else ["extra"]))
    if action == "replace":
        _set(frame, data.draw(st.sampled_from(paths)), data.draw(json_values))
    elif action == "drop":
        path = data.draw(st.sampled_from(paths))
        parent = frame
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
    else:
        frame[data.draw(st.text(min_size=1, max_size=12).filter(lambda k: k != "type"))] = data.draw(json_values)
    try:
        text = json.dumps(frame, allow_nan=True)
    except (ValueError, TypeError):
        return
    outcome = _outcome(text)
    if isinstance(outcome, p.ClientMessage):
        assert kind == outcome.TYPE
        _round_trip(outcome)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=500))
def test_arbitrary_text_is_total(text):
    outcome = _outcome(text)
    if isinstance(outcome, p.ClientMessage):
        _round_trip(outcome)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=500))
def test_arbitrary_bytes_are_total(raw):
    _outcome(raw)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(EXAMPLES), st.integers(min_value=0, max_value=400), st.text(max_size=20))
def test_truncated_and_spliced_frames_are_total(kind, cut, splice):
    text = json.dumps(CLIENT_EXAMPLES[kind])
    _outcome(text[:cut] + splice + text[cut:])


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_identity_grammar_agrees_with_its_description(identity):
    """IDENTITY_RE accepts exactly: ≤ 128 code points, no whitespace/controls/URL delimiters, no leading dot."""
    bad_chars = set("/\\\\?#%")
    expected = (
        len(identity) <= p.MAX_IDENTITY_LEN
        and not identity.startswith(".")
        and not any(ch.isspace() or ch in bad_chars or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in identity)
        and not any(
            0x200B <= ord(ch) <= 0x200F
            or 0x2028 <= ord(ch) <= 0x202E
            or 0x2060 <= ord(ch) <= 0x206F
            or ord(ch) == 0xFEFF
            or 0xD800 <= ord(ch) <= 0xDFFF
            for ch in identity
        )
    )
    assert bool(p.IDENTITY_RE.fullmatch(identity)) == expected


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_validate_metadata_is_total(value):
    try:
        p.validate_metadata(value)
    except p.ProtocolError as exc:
        assert (exc.code, exc.field) == (p.ErrorCode.BAD_REQUEST, "metadata")
    else:
        assert isinstance(value, dict)
        assert len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) <= p.MAX_METADATA_BYTES
