"""The JS protocol constants are generated from protocol.py; the committed files must be what it generates now."""

from __future__ import annotations

import pytest

from django_levelchat import protocol as p
from django_levelchat import protocol_examples as pe
from django_levelchat import protocol_js
from django_levelchat.protocol import ProtocolError


def test_generated_js_is_up_to_date():
    for path, text in protocol_js.outputs().items():
        committed = path.read_text() if path.exists() else ""
        assert committed == text, (
            f"{path.relative_to(protocol_js.ROOT)} is out of date with django_levelchat/protocol.py: "
            "run `python -m django_levelchat.protocol_js` and commit the result"
        )
    assert protocol_js.stale() == []


def test_check_mode_reports_drift(tmp_path, monkeypatch, capsys):
    stale_file = tmp_path / "protocol-defs.js"
    stale_file.write_text("export const PROTOCOL_VERSION = 0;\n")
    monkeypatch.setattr(protocol_js, "ROOT", tmp_path)
    monkeypatch.setattr(protocol_js, "outputs", lambda: {stale_file: protocol_js.render_defs()})
    assert protocol_js.main(["--check"]) == 1
    assert "protocol-defs.js is out of date" in capsys.readouterr().out
    assert protocol_js.main([]) == 0
    assert protocol_js.main(["--check"]) == 0


def test_generated_defs_carry_every_name():
    text = protocol_js.render_defs()
    for name in [*p.CLIENT_MESSAGES, *p.SERVER_MESSAGE_TYPES, *p.ErrorCode, *p.CloseReason, *p.VOCABULARY]:
        assert f'"{name}"' in text, name
    for code in p.CloseCode:
        assert f'"{code.name}": {code.value}' in text


def test_client_required_fields_follow_the_message_classes():
    assert set(p.CLIENT_REQUIRED_FIELDS) == set(p.CLIENT_MESSAGES)
    for type_, required in p.CLIENT_REQUIRED_FIELDS.items():
        for name in required:
            broken = {k: v for k, v in pe.CLIENT_EXAMPLES[type_].items() if k != name}
            with pytest.raises(ProtocolError) as info:
                p.parse_message(broken)
            assert info.value.field == name, (type_, name)


def test_server_builders_meet_the_required_fields():
    assert set(p.SERVER_REQUIRED_FIELDS) == set(pe.SERVER_EXAMPLES) == p.SERVER_MESSAGE_TYPES
    for type_, frame in pe.SERVER_EXAMPLES.items():
        assert p.parse_server_frame(p.encode(frame)) == frame
        for name in p.SERVER_REQUIRED_FIELDS[type_]:
            broken = {k: v for k, v in frame.items() if k != name}
            with pytest.raises(ProtocolError) as info:
                p.parse_server_frame(p.encode(broken))
            assert info.value.field == name, (type_, name)


def test_parse_server_frame_refuses_what_a_client_must_not_trust():
    with pytest.raises(ProtocolError) as info:
        p.parse_server_frame('{"type":"hello-from-the-future"}')
    assert info.value.code == p.ErrorCode.UNKNOWN_TYPE
    for text, field in [
        ('{"type":"signal","from":"PA_x"}', "description"),
        ('{"type":"signal","from":"PA_x","description":{},"candidate":{}}', "description"),
        ('{"type":"pong","seq":"1"}', "seq"),
        ('{"type":"active-speaker"}', "participant"),
        ('{"type":"track-muted","participant":"PA_x","track":"TR_a","muted":1}', "muted"),
    ]:
        with pytest.raises(ProtocolError) as info:
            p.parse_server_frame(text)
        assert info.value.field == field, text
    assert p.parse_server_frame('{"type":"active-speaker","participant":null}')["participant"] is None
    # A server frame may exceed the client frame limit (a snapshot of a very large roster).
    big = p.encode({"type": "pong", "pad": "x" * (2 * p.MAX_FRAME_BYTES)})
    assert p.parse_server_frame(big)["type"] == "pong"
