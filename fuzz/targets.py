"""What the fuzzers (``fuzz/fuzz_protocol.py``, atheris) and the regression replay test (``tests/corpus/
test_fuzz_regressions.py``) feed bytes to. Each target takes any bytes and either returns or raises the one
documented error type of the code under test; any other exception, or a broken round trip, is a finding.
"""

from __future__ import annotations

from django_levelchat import protocol
from django_levelchat.exceptions import TokenError


def parse(data: bytes) -> None:
    """Client frames: ``parse_frame`` is total (a message or ProtocolError), and what it accepts round-trips."""
    try:
        message = protocol.parse_frame(data)
    except protocol.ProtocolError:
        return
    again = protocol.parse_frame(protocol.encode(message.to_wire()))
    if again != message:
        raise AssertionError(f"round trip changed the message: {message!r} != {again!r}")


def sdp(data: bytes) -> None:
    """The SDP validator and the m-line readers on any text: ProtocolError or a clean pass."""
    text = data.decode("utf-8", "surrogatepass") if _is_text(data) else data.decode("latin-1")
    try:
        protocol.validate_sdp(text)
    except protocol.ProtocolError:
        return
    protocol.sdp_media_directions(text)
    protocol.sdp_sent_kinds(text)


def token(data: bytes) -> None:
    """Token and resume-credential parsing: TokenError for anything that is not a valid token, never a crash.
    The subprotocol splitter sees the same text as an offered subprotocol list."""
    text = data.decode("utf-8", "replace")
    from django_levelchat.tokens import verify_resume_credential, verify_token

    for verify in (verify_token, verify_resume_credential):
        try:
            verify(text)
        except TokenError:
            pass
    protocol.split_subprotocols(text.split(","))


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


TARGETS = {"parse": parse, "sdp": sdp, "token": token}


def seeds(target: str) -> list[bytes]:
    """Valid inputs to start from: random bytes alone rarely get past the JSON decoder or the SDP's first line."""
    from django_levelchat import protocol_examples as examples

    if target == "parse":
        return [protocol.encode(frame).encode() for frame in examples.CLIENT_EXAMPLES.values()]
    if target == "sdp":
        return [examples.SDP.encode()]
    from django_levelchat.tokens import issue_resume_credential, issue_token

    return [
        issue_token("RM_fuzz", "alice", name="Alice").encode(),
        issue_resume_credential("PA_01J9ZQ4V8M6Y7K2N3P4Q5R6S7T", "RM_fuzz", "alice").encode(),
    ]
