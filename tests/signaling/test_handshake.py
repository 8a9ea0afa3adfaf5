"""docs/protocol.md §2, §4 and §11, one test per row: what happens before ``welcome`` and at the frame limits."""

from __future__ import annotations

import pytest

from django_levelchat import protocol
from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)


async def _frames_until_close(client: Client) -> tuple[list[dict], dict]:
    frames = []
    while True:
        out = await client.raw(timeout=3)
        if out["type"] == "websocket.close":
            return frames, out
        frames.append(out)


async def test_ping_before_hello_is_answered(token_for):
    client = Client(token_for("early"))
    await client.connect()
    await client.send({"type": "ping", "id": "p1", "ts": 5})
    assert await client.recv() == {"type": "pong", "ts": 5, "ref": "p1"}
    await client.send({"type": "hello", "protocol": 1})
    assert (await client.recv("welcome"))["you"]["identity"] == "early"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "chat", "text": "hi"},
        {"type": "leave"},
        {"type": "resync"},
        {"type": "publish", "track": {"sid": "TR_a", "kind": "audio", "source": "microphone"}},
    ],
)
async def test_other_messages_before_hello_get_bad_state_and_stay_open(token_for, frame):
    client = Client(token_for("early"))
    await client.connect()
    await client.send({**frame, "id": "r"})
    error = await client.recv()
    assert (error["type"], error["code"], error["ref"]) == ("error", "bad_state", "r")
    await client.send({"type": "hello", "protocol": 1})
    assert await client.recv("welcome")


@pytest.mark.parametrize(
    ("hello", "field"),
    [
        ({"sdk": "levelchat"}, "sdk"),
        ({"sdk": {"name": 1, "version": "1"}}, "sdk.name"),
        ({"sdk": {"name": "x" * 65, "version": "1"}}, "sdk.name"),
        ({"resume": []}, "resume"),
        ({"resume": {"session": "s"}}, "resume.credential"),
        ({"resume": {"session": "s\n", "credential": "c"}}, "resume.session"),
        ({"id": ""}, "id"),
        ({"id": 7}, "id"),
    ],
)
async def test_bad_hello_field_errors_then_closes_bad_hello(token_for, hello, field):
    client = Client(token_for("a"))
    await client.connect()
    await client.send({"type": "hello", "protocol": 1, **hello})
    frames, close = await _frames_until_close(client)
    assert frames[0]["type"] == "error" and frames[0]["code"] == "bad_request" and frames[0]["field"] == field
    assert (close["code"], close["reason"]) == (4400, "bad_hello")
    assert frames[-1]["type"] == "closing" and frames[-1]["reason"] == "bad_hello"


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (2, "unsupported_protocol"),
        (0, "unsupported_protocol"),
        (99999, "unsupported_protocol"),
        ("1", "bad_hello"),
        (1.5, "bad_hello"),
        (None, "bad_hello"),
        (True, "bad_hello"),
    ],
)
async def test_hello_protocol_field(token_for, version, reason):
    client = Client(token_for("old"))
    await client.connect()
    await client.send({"type": "hello", "protocol": version} if version is not None else {"type": "hello"})
    frames, close = await _frames_until_close(client)
    assert frames[0]["code"] == "bad_request" and frames[0]["field"] == "protocol"
    assert (close["code"], close["reason"]) == (4400, reason)


async def test_second_hello_after_welcome_is_bad_state_not_a_close(client_for):
    alice = client_for("alice")
    await alice.join()
    reply = await alice.request({"type": "hello", "protocol": 1})
    assert reply["code"] == "bad_state"
    await alice.send({"type": "ping", "id": "p"})
    assert (await alice.recv("pong"))["ref"] == "p"


@pytest.mark.parametrize("joined", [True, False])
async def test_oversized_frame_gets_too_large_then_4400(client_for, token_for, joined):
    client = client_for("alice") if joined else Client(token_for("alice"))
    if joined:
        await client.join()
    else:
        await client.connect()
    await client.send('{"type":"chat","text":"' + "x" * protocol.MAX_FRAME_BYTES + '"}')
    frames, close = await _frames_until_close(client)
    assert [f["type"] for f in frames] == ["error", "closing"]
    assert frames[0]["code"] == "too_large"
    assert (close["code"], close["reason"]) == (4400, "frame_too_large")


async def test_frame_of_exactly_the_limit_is_parsed(client_for):
    alice = client_for("alice")
    await alice.join()
    head, tail = '{"type":"ping","pad":"', '"}'
    frame = head + "x" * (protocol.MAX_FRAME_BYTES - len(head) - len(tail)) + tail
    await alice.send(frame)
    assert (await alice.recv())["type"] == "pong"


async def test_multibyte_frame_over_the_byte_limit(client_for):
    """The limit is UTF-8 bytes: 30,000 three-byte characters are over it although under 65,536 code points."""
    alice = client_for("alice")
    await alice.join()
    await alice.send('{"type":"chat","text":"' + "€" * 30_000 + '"}')
    frames, close = await _frames_until_close(alice)
    assert frames[0]["code"] == "too_large" and close["code"] == 4400


async def test_binary_frame_before_hello_closes_4400(token_for):
    client = Client(token_for("a"))
    await client.connect()
    await client.ws.send_to(bytes_data=b"\xff\xfe")
    close = (await _frames_until_close(client))[1]
    assert (close["code"], close["reason"]) == (4400, "binary_frame")


async def test_lone_surrogate_text_is_bad_json_not_a_drop(client_for):
    """What daphne hands over when a client's text is not valid UTF-8 at the JSON level (\\ud800 escapes)."""
    alice = client_for("alice")
    await alice.join()
    await alice.send('{"type":"chat","text":"\\ud800"}')
    error = await alice.recv("error")
    assert error["code"] in ("bad_json", "bad_request")
    await alice.send({"type": "ping", "id": "p"})
    assert (await alice.recv("pong"))["ref"] == "p"
