"""G6: the malformed-frame corpus through the real consumer (in-process): every case gets its documented error
code, the socket stays up, other participants hear nothing, nothing is logged as an unhandled error."""

from __future__ import annotations

import logging

import pytest

from tests.corpus.cases import PEER, all_cases
from tests.signaling.conftest import Client

pytestmark = pytest.mark.django_db(transaction=True)

CASES = all_cases()
BATCH = 15  # under the protocol-error budget (20 per 10 s) of one socket


def test_corpus_size_and_categories():
    assert len(CASES) >= 300
    assert len({c[0] for c in CASES}) == len(CASES)
    categories = {c[0].split("-")[0] for c in CASES}
    assert {"json", "type", "unknown", "bound", "uni", "sdp", "nest", "size"} <= categories


@pytest.mark.parametrize("start", range(0, len(CASES), BATCH))
async def test_corpus_batch(token_for, start, caplog):
    listener = Client(token_for("listener"))
    await listener.join()
    fuzzer = Client(token_for("fuzzer"))
    await fuzzer.join()
    await listener.drain()
    with caplog.at_level(logging.ERROR, logger="django_levelchat"):
        for case_id, text, codes in CASES[start : start + BATCH]:
            await fuzzer.send(text)
            reply = await fuzzer.recv(timeout=5)
            assert reply["type"] == "error" and reply["code"] in codes, (case_id, reply)
            assert reply["code"] != "internal"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no unhandled exception"
    await fuzzer.send({"type": "ping", "id": "alive"})
    assert (await fuzzer.recv("pong"))["ref"] == "alive", "the socket is still up"
    assert await listener.nothing(0.1), "other participants heard nothing"


TRACK = {"sid": "TR_a", "kind": "audio", "source": "microphone"}

# (case id, frames sent after join, expected error code of the last frame's answer)
SEQUENCES = [
    ("unpublish-unknown", [{"type": "unpublish", "track": "TR_x"}], "unknown_track"),
    ("mute-unknown", [{"type": "mute", "track": "TR_x", "muted": True}], "unknown_track"),
    ("publish-twice", [{"type": "publish", "track": TRACK}, {"type": "publish", "track": TRACK}], "bad_request"),
    (
        "unpublish-twice",
        [
            {"type": "publish", "track": TRACK},
            {"type": "unpublish", "track": "TR_a"},
            {"type": "unpublish", "track": "TR_a"},
        ],
        "unknown_track",
    ),
    (
        "mute-after-unpublish",
        [
            {"type": "publish", "track": TRACK},
            {"type": "unpublish", "track": "TR_a"},
            {"type": "mute", "track": "TR_a", "muted": True},
        ],
        "unknown_track",
    ),
    ("too-many-tracks", [{"type": "publish", "track": {**TRACK, "sid": f"TR_{i}"}} for i in range(9)], "bad_request"),
    ("second-hello", [{"type": "hello", "protocol": 1}], "bad_state"),
    ("lower-someone-elses-hand", [{"type": "hand", "raised": False, "participant": PEER}], "forbidden"),
    ("signal-unknown", [{"type": "signal", "to": PEER, "candidate": {"candidate": ""}}], "unknown_participant"),
    ("subscribe-unknown", [{"type": "subscribe", "participant": PEER}], "unknown_participant"),
    ("unsubscribe-unknown", [{"type": "unsubscribe", "participant": PEER}], "unknown_participant"),
    (
        "quality-unknown",
        [{"type": "set-preferred-quality", "quality": "low", "participant": PEER}],
        "unknown_participant",
    ),
    ("chat-private-unknown", [{"type": "chat", "text": "hi", "to": PEER}], "unknown_participant"),
    ("mute-participant-unprivileged", [{"type": "mute-participant", "participant": PEER}], "forbidden"),
    ("remove-unprivileged", [{"type": "remove-participant", "participant": PEER}], "forbidden"),
    ("end-room-unprivileged", [{"type": "end-room"}], "forbidden"),
    ("record-start-unprivileged", [{"type": "record-start"}], "forbidden"),
    ("record-stop-unprivileged", [{"type": "record-stop"}], "forbidden"),
    (
        "unmute-unknown-after-publish",
        [{"type": "publish", "track": TRACK}, {"type": "mute", "track": "TR_b", "muted": False}],
        "unknown_track",
    ),
]
BEFORE_HELLO = [
    {"type": "chat", "text": "hi"},
    {"type": "publish", "track": TRACK},
    {"type": "unpublish", "track": "TR_a"},
    {"type": "mute", "track": "TR_a", "muted": True},
    {"type": "signal", "to": PEER, "candidate": {"candidate": ""}},
    {"type": "subscribe", "participant": PEER},
    {"type": "reaction", "emoji": "x"},
    {"type": "resync"},
    {"type": "leave"},
    {"type": "end-room"},
    {"type": "audio-level", "level": 0.5},
    {"type": "quality-report", "quality": "good"},
]


def test_state_machine_sequences_are_many():
    assert len(SEQUENCES) + len(BEFORE_HELLO) >= 30


@pytest.mark.parametrize(("case_id", "frames", "code"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
async def test_state_machine_sequence(client_for, case_id, frames, code):
    client = client_for("seq", role="participant")
    await client.join()
    for i, frame in enumerate(frames):
        reply = await client.request({**frame, "id": f"s{i}"})
        if i < len(frames) - 1:
            assert reply["type"] == "ack", (case_id, i, reply)
    assert reply["type"] == "error" and reply["code"] == code, (case_id, reply)


async def test_everything_but_hello_and_ping_before_welcome_is_bad_state(token_for):
    client = Client(token_for("early"))
    await client.connect()
    for i, frame in enumerate(BEFORE_HELLO):
        reply = await client.request({**frame, "id": f"b{i}"})
        assert reply["code"] == "bad_state", (frame, reply)
    await client.send({"type": "hello", "protocol": 1})
    assert (await client.recv("welcome"))["you"]["identity"] == "early"
