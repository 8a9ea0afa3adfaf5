"""The Python client (django_levelchat.client) against a real daphne server, with real aiortc peers.

Two or three Python participants in one room: join, publish the synthetic camera and tone, receive and decode
each other's media (frame size and the drawn frame counter), chat, reactions, leave, and a resume after the
signaling socket is dropped. Media is small (160×120 at 10 fps) to stay light on a shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import av
import pytest
import websockets

from django_levelchat.client import (
    JoinError,
    SignalingClient,
    SyntheticVideoTrack,
    ToneAudioTrack,
    join_live,
    join_room,
    read_frame_counter,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

W, H, FPS = 160, 120, 10
ROOT = Path(__file__).resolve().parents[2]


async def until(predicate: Any, timeout: float = 90, message: str = "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out: {message}")


async def decoded_frames(track: Any, count: int, timeout: float = 30) -> list[Any]:
    frames = []
    async with asyncio.timeout(timeout):
        while len(frames) < count:
            frames.append(await track.recv())
    return frames


async def test_two_participants_see_and_hear_each_other_and_chat(levelchat_server, e2e_room, mint_token):
    url = levelchat_server.url
    alice = await join_room(mint_token(e2e_room, "alice"), url=url)
    assert alice.ready.done() and alice.local_participant.identity == "alice"
    assert alice.participants == {}
    alice_video = SyntheticVideoTrack(W, H, FPS)
    await alice.publish_track(alice_video, source="camera")
    await alice.publish_track(ToneAudioTrack(), source="microphone")
    subscribed: dict[str, list] = {"alice": [], "bob": []}
    alice.on("track-subscribed", lambda track, pub, who: subscribed["alice"].append((track, pub, who)))
    joined = asyncio.ensure_future(alice.wait_for("participant-joined"))

    bob = await join_room(mint_token(e2e_room, "bob"), url=url)
    bob.on("track-subscribed", lambda track, pub, who: subscribed["bob"].append((track, pub, who)))
    assert [q.identity for q in bob.participants.values()] == ["alice"]
    assert {t.source for t in bob.participants[alice.local_participant.id].tracks.values()} == {"camera", "microphone"}
    bob_video = SyntheticVideoTrack(W, H, FPS)
    await bob.publish_track(bob_video, source="camera")
    (who,) = await joined
    assert who.identity == "bob"

    try:
        await until(lambda: len(subscribed["bob"]) == 2, message="bob receives alice's camera and mic")
        await until(lambda: len(subscribed["alice"]) == 1, message="alice receives bob's camera")
        by_source = {pub.source: (track, who) for track, pub, who in subscribed["bob"]}
        assert by_source["camera"][1].identity == "alice"
        frames = await decoded_frames(by_source["camera"][0], 3)
        assert {(f.width, f.height) for f in frames} == {(W, H)}
        counters = [read_frame_counter(f) for f in frames]
        assert None not in counters and counters == sorted(counters) and counters[-1] > counters[0]
        audio = await decoded_frames(by_source["microphone"][0], 3)
        assert all(f.sample_rate == 48000 and f.samples > 0 for f in audio)
        track, pub, who = subscribed["alice"][0]
        assert pub.source == "camera" and who.identity == "bob"
        frame = (await decoded_frames(track, 1))[0]
        assert (frame.width, frame.height) == (W, H) and read_frame_counter(frame) is not None

        got_chat = asyncio.ensure_future(alice.wait_for("chat-message", lambda m: m["text"] == "hi alice"))
        got_reaction = asyncio.ensure_future(alice.wait_for("reaction"))
        ack = await bob.send_chat("hi alice")
        assert ack["id"].startswith("CM_")
        (message,) = await got_chat
        assert message["from"]["identity"] == "bob" and message["id"] == ack["id"]
        await bob.react("👍")
        (reaction,) = await got_reaction
        assert reaction["emoji"] == "👍" and reaction["from"]["identity"] == "bob"
        assert (await bob.set_preferred_quality("low"))["type"] == "ack"

        left = asyncio.ensure_future(alice.wait_for("participant-left"))
        await bob.leave()
        who, reason = await left
        assert who.identity == "bob" and reason == "client_initiated"
        assert alice.participants == {}
        assert bob.state == "disconnected"
    finally:
        await bob.leave()
        await alice.leave()


async def test_resume_after_a_dropped_socket_keeps_the_participant_and_media(levelchat_server, e2e_room, mint_token):
    url = levelchat_server.url
    alice = await join_room(mint_token(e2e_room, "alice"), url=url)
    await alice.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
    bob = await join_room(mint_token(e2e_room, "bob"), url=url)
    try:
        (track, _, _) = await bob.wait_for("track-subscribed")
        await decoded_frames(track, 1)
        states: list[str] = []
        alice.on("connection-state", lambda state, close: states.append(state))
        left: list[Any] = []
        bob.on("participant-left", lambda who, reason: left.append(reason))
        alice_id = alice.local_participant.id

        alice.drop_connection()  # a quick resume: the server announces participant-reconnecting only after a delay
        await until(lambda: alice.state == "connected" and alice.session.resumes == 1, message="alice resumed")
        assert states[:2] == ["reconnecting", "connected"]
        assert alice.local_participant.id == alice_id  # the same participant: resumed, not rejoined
        assert list(bob.participants) == [alice_id] and left == []
        # Media keeps flowing on the same peer connection, and the session is usable.
        frames = await decoded_frames(track, 5)
        assert read_frame_counter(frames[-1]) > read_frame_counter(frames[0])
        got = asyncio.ensure_future(bob.wait_for("chat-message"))
        await alice.send_chat("back")
        assert (await got)[0]["text"] == "back"
    finally:
        await bob.leave()
        await alice.leave()


async def test_first_joiner_without_media_and_newcomer_publishing_at_once(levelchat_server, e2e_room, mint_token):
    """The newcomer's tracks exist before the first offer reaches it (aiortc under max-bundle lost its transport)."""
    url = levelchat_server.url
    first = await join_room(mint_token(e2e_room, "first"), url=url)
    newcomer = await join_room(mint_token(e2e_room, "newcomer"), url=url)
    try:
        at_newcomer = asyncio.ensure_future(newcomer.wait_for("track-subscribed"))
        at_first = asyncio.ensure_future(first.wait_for("track-subscribed", lambda t, pub, who: t.kind == "video"))
        await newcomer.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
        await newcomer.publish_track(ToneAudioTrack(), source="microphone")
        await first.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
        for track, _, _ in (await at_newcomer, await at_first):
            frame = (await decoded_frames(track, 1))[0]
            assert (frame.width, frame.height) == (W, H) and read_frame_counter(frame) is not None
    finally:
        await newcomer.leave()
        await first.leave()


async def test_join_errors_and_live_viewer(levelchat_server, e2e_room, mint_token):
    url = levelchat_server.url
    with pytest.raises(JoinError) as info:
        await join_room(mint_token(e2e_room, "late", expired=True), url=url)
    assert (info.value.close.code, info.value.close.reason) == (4401, "token_expired")
    viewer = await join_live(mint_token(e2e_room, "viewer"), url=url, role="viewer")
    try:
        with pytest.raises(PermissionError):
            await viewer.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
        with pytest.raises(ValueError):
            await viewer.set_preferred_quality("ultra")
    finally:
        await viewer.leave()


async def test_origin_missing_joins_foreign_gets_403(levelchat_server, e2e_room, mint_token):
    bot = SignalingClient(levelchat_server.url, mint_token(e2e_room, "bot"))  # sends no Origin header
    welcome = await bot.join()
    assert welcome["you"]["identity"] == "bot"
    await bot.close()
    evil = SignalingClient(levelchat_server.url, mint_token(e2e_room, "evil"), origin="https://evil.example")
    with pytest.raises(websockets.InvalidStatus) as info:
        await evil.connect()
    assert info.value.response.status_code == 403


async def cli(url: str, token: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "django_levelchat.client", url, "--token", token, *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def test_cli_synthetic_bot_is_recorded_by_a_recorder_bot(levelchat_server, e2e_room, mint_token, tmp_path):
    url, out = levelchat_server.url, tmp_path / "out.webm"
    recorder = await cli(url, mint_token(e2e_room, "recorder"), "--record", str(out))
    publisher = await cli(url, mint_token(e2e_room, "synth"), "--synthetic", "--size", "160x120")
    try:
        # Both bots stay until told to go: on a loaded machine the call can take many seconds to connect, so
        # the test waits for the recording to start and the file to grow instead of giving the bots a time.
        started = await asyncio.wait_for(_read_until(recorder, "recording synth"), 120)
        await until(lambda: out.exists() and out.stat().st_size > 20_000, timeout=120, message="the file grows")
    finally:
        for proc in (publisher, recorder):
            proc.terminate()  # SIGTERM: the bot stops its recorder, leaves and says so
        outputs = [(await proc.communicate())[0].decode() for proc in (publisher, recorder)]
    assert publisher.returncode == 0 and recorder.returncode == 0, outputs
    assert started and outputs[1].rstrip().endswith("left"), outputs[1]
    with av.open(str(out)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        frames = [f for _, f in zip(range(5), container.decode(video=0), strict=False)]
    assert len(frames) == 5 and {(f.width, f.height) for f in frames} == {(160, 120)}


async def _read_until(proc: asyncio.subprocess.Process, text: str) -> str:
    """Lines of ``proc``'s output up to and including the first one containing ``text``."""
    assert proc.stdout is not None
    lines = []
    while not lines or text not in lines[-1]:
        line = await proc.stdout.readline()
        assert line, f"the bot ended before saying {text!r}: {''.join(lines)}"
        lines.append(line.decode())
    return "".join(lines)


async def test_cli_echo_bot_sends_our_media_back(levelchat_server, e2e_room, mint_token):
    url = levelchat_server.url
    echo = await cli(url, mint_token(e2e_room, "echo"), "--echo", "--duration", "20")
    try:
        me = await join_room(mint_token(e2e_room, "me"), url=url)
        await until(lambda: me.participants, message="the echo bot is in the room")
        await me.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
        (track, publication, who) = await me.wait_for("track-subscribed", timeout=40)
        assert who.identity == "echo" and publication.source == "camera"
        frames = await decoded_frames(track, 3)
        assert {(f.width, f.height) for f in frames} == {(W, H)}
        assert all(read_frame_counter(f) is not None for f in frames)  # our own pattern, back from the bot
        await me.leave()
    finally:
        echo.terminate()
        output = (await echo.communicate())[0].decode()
    assert "echoing me's camera" in output, output


async def test_the_docs_bot_runs(levelchat_server, e2e_room, mint_token, tmp_path):
    """docs/python-client.md's 20-line bot, as written: it greets, reports our media and answers ping."""
    doc = (ROOT / "docs" / "python-client.md").read_text()
    code = doc.split("## A bot in 20 lines", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 25
    (tmp_path / "bot.py").write_text(code)
    texts: list[str] = []
    me = await join_room(mint_token(e2e_room, "me"), url=levelchat_server.url)
    me.on("chat-message", lambda m: texts.append(m["text"]))
    await me.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
    bot = await asyncio.create_subprocess_exec(
        sys.executable, str(tmp_path / "bot.py"), levelchat_server.url, mint_token(e2e_room, "docbot"), "180",
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await until(lambda: any(t.startswith("I get me's camera") for t in texts), message=f"media report {texts}")
        await me.send_chat("ping")
        await until(lambda: "pong" in texts, message="pong")
        late = await join_room(mint_token(e2e_room, "late"), url=levelchat_server.url)
        await until(lambda: "hello late" in texts, message="greeting")
        await late.leave()
    finally:
        await me.leave()
        bot.terminate()
        await bot.communicate()
