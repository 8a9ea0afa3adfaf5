"""Issue 10 (6) / G5: rate limits slow a client down without kicking it; only a sustained flood closes 4429."""

from __future__ import annotations

import asyncio
import json

import pytest

from django_levelchat.signaling.ratelimit import FloodGuard

pytestmark = pytest.mark.django_db(transaction=True)


async def test_fifty_chats_back_to_back_are_acked_or_rate_limited_never_closed(client_for):
    alice = client_for("alice")
    await alice.join()
    for i in range(50):
        await alice.send({"type": "chat", "id": f"c{i}", "text": f"m{i}"})
    answers: dict[str, str] = {}
    while len(answers) < 50:
        frame = await alice.raw(timeout=5)
        assert frame["type"] != "websocket.close", frame
        if frame["type"] in ("ack", "error") and frame.get("ref", "").startswith("c"):
            answers[frame["ref"]] = frame["type"] if frame["type"] == "ack" else frame["code"]
    assert set(answers.values()) <= {"ack", "rate_limited"}
    assert list(answers.values()).count("ack") >= 10  # the burst
    await alice.send({"type": "ping", "id": "alive"})
    reply = await alice.raw()
    while reply.get("ref") != "alive":
        assert reply["type"] != "websocket.close", reply
        reply = await alice.raw()
    assert reply["type"] == "pong" or reply["code"] == "rate_limited"  # frame budget spent: answered, still open


async def test_every_request_over_the_frame_rate_gets_its_answer_whatever_its_size(client_for, levelchat_settings):
    """A long chat dropped by the frame rate is answered like a short one: a client awaiting it never hangs."""
    levelchat_settings(RATE_LIMIT_RATE=0.001, RATE_LIMIT_BURST=3, CHAT_RATE=1000, CHAT_BURST=1000)
    alice = client_for("alice")
    await alice.join()  # the hello spends one frame of the burst
    long_text = "€" * 1999  # 6 KB on the wire
    answers = [await alice.request({"type": "chat", "text": long_text}) for _ in range(4)]
    assert [a["type"] for a in answers[:2]] == ["ack", "ack"]
    assert all(a["code"] == "rate_limited" and a["retry_after"] > 0 for a in answers[2:]), answers[2:]


async def test_rate_limited_errors_do_not_spend_the_protocol_error_budget(client_for, levelchat_settings):
    levelchat_settings(CHAT_RATE=0.001, CHAT_BURST=1)
    alice = client_for("alice")
    await alice.join()
    for i in range(40):  # twice the protocol-error budget, all refused by the chat limit
        reply = await alice.request({"type": "chat", "text": f"m{i}"})
        assert reply["type"] in ("ack", "error")
        if reply["type"] == "error":
            assert reply["code"] == "rate_limited" and reply["retry_after"] > 0
    await alice.send({"type": "ping", "id": "alive"})
    assert (await alice.recv("pong"))["ref"] == "alive"


@pytest.mark.parametrize(
    "frame", [{"type": "ping"}, {"type": "chat", "text": "spam"}, {"type": "audio-level", "level": 0.5}]
)
async def test_sustained_flood_gets_rate_limited_then_4429(client_for, levelchat_settings, frame):
    levelchat_settings(RATE_LIMIT_GRACE=0.5)
    flooder = client_for("flooder")
    await flooder.join()
    text = json.dumps(frame)
    seen: list[dict] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # a generous bound for a busy machine; the close comes after ~0.5 s of flood
    close = None
    while close is None and loop.time() < deadline:
        for _ in range(50):
            await flooder.send(text)
        while not await flooder.ws.receive_nothing(0.001):
            out = await flooder.raw()
            if out["type"] == "websocket.close":
                close = out
                break
            seen.append(out)
    assert close is not None, "a sustained flood must be closed"
    assert (close["code"], close["reason"]) == (4429, "rate_limited")
    assert any(f.get("code") == "rate_limited" for f in seen), "a warning comes before the close"
    assert not any(f.get("reason") == "too_many_errors" for f in seen)


def test_flood_guard_closes_a_flood_that_a_busy_server_reads_in_gaps():
    """A server that reads a flood in bursts (refilling a few tokens in between) must still close it."""
    guard = FloodGuard(rate=20, burst=50, grace=5, now=0.0)
    now, verdicts = 0.0, []
    while now < 8 and FloodGuard.CLOSE not in verdicts:
        for _ in range(30):  # 30 frames read back to back ...
            verdicts.append(guard.check(now))
        now += 0.12  # ... then a 120 ms stall refills 2.4 tokens
    assert FloodGuard.CLOSE in verdicts and now <= 6


def test_flood_guard_never_closes_a_client_within_the_rate():
    guard = FloodGuard(rate=20, burst=50, grace=5, now=0.0)
    verdicts = [guard.check(i * 0.05) for i in range(2000)]  # exactly 20/s for 100 s
    assert set(verdicts) == {FloodGuard.ALLOW}


def test_flood_guard_forgives_a_burst_followed_by_quiet():
    guard = FloodGuard(rate=20, burst=50, grace=5, now=0.0)
    for _ in range(60):
        guard.check(0.0)  # 10 refused
    assert guard.check(3.0) == FloodGuard.ALLOW  # 3 s of quiet: the flood is over
    assert guard.flooding_since is None
