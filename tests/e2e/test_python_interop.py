"""Interop: a Chromium page using the SDK and the Python client (aiortc) in one room see each other's media both
ways, whichever joins first.

The Python participant runs on an event loop of its own thread (Playwright's sync API holds the test thread's).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from django_levelchat.client import Room, SyntheticVideoTrack, ToneAudioTrack, join_room
from tests.e2e.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

W, H = 160, 120


class BotThread:
    """An asyncio loop on a thread of its own, for the Python participant."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def bot_thread() -> Iterator[BotThread]:
    bot = BotThread()
    yield bot
    bot.stop()


async def bot_join(url: str, token: str) -> Room:
    room = await join_room(token, url=url)
    room.received = []  # type: ignore[attr-defined]
    room.on("track-subscribed", lambda track, pub, who: room.received.append((track, pub, who)))  # type: ignore[attr-defined]
    await room.publish_track(SyntheticVideoTrack(W, H, 10), source="camera")
    await room.publish_track(ToneAudioTrack(), source="microphone")
    return room


async def first_video_frame(room: Room, identity: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while loop.time() < deadline:
        tracks = [t for t, pub, who in room.received if pub.source == "camera" and who.identity == identity]  # type: ignore[attr-defined]
        if tracks:
            async with asyncio.timeout(deadline - loop.time()):
                return await tracks[0].recv()
        await asyncio.sleep(0.1)
    raise AssertionError(f"no camera track from {identity}")


async def first_audio_frame(room: Room, identity: str) -> Any:
    tracks = [t for t, pub, who in room.received if pub.source == "microphone" and who.identity == identity]  # type: ignore[attr-defined]
    assert tracks, f"no microphone track from {identity}"
    async with asyncio.timeout(20):
        return await tracks[0].recv()


def page_join(page: Any, token: str) -> str:
    result = page.evaluate("([t, o]) => lcTest.join(t, o)", [token, {"resolution": "180p"}])
    assert "id" in result, result
    return result["id"]


@pytest.mark.parametrize("browser_first", [True, False], ids=["browser-first", "python-first"])
def test_browser_and_python_client_exchange_media(browser_first, new_page, e2e_room, mint_token, bot_thread):
    page = new_page()
    server_url = page.evaluate("location.origin")
    browser_token, bot_token = mint_token(e2e_room, "browser"), mint_token(e2e_room, "bot")
    if browser_first:
        browser_id = page_join(page, browser_token)
        bot = bot_thread.run(bot_join(server_url, bot_token))
    else:
        bot = bot_thread.run(bot_join(server_url, bot_token))
        browser_id = page_join(page, browser_token)
    bot_id = bot.local_participant.id
    try:
        # The browser receives the bot's camera and tone; the video plays at the bot's size.
        wait_until(
            lambda: page.evaluate("(id) => lcTest.subscribedFrom(id)", bot_id) == ["camera", "microphone"],
            40,
            message="browser subscribed to the bot",
        )
        plays = wait_until(
            lambda: (r := page.evaluate("(id) => lcTest.videoPlays(id)", bot_id))["ok"] and r,
            40,
            message="the bot's video plays in the browser",
        )
        assert (plays["width"], plays["height"]) == (W, H)
        # The bot receives and decodes the browser's camera (fake device, 320×180) and microphone.
        frame = bot_thread.run(first_video_frame(bot, "browser"))
        assert frame.width > 0 and frame.height > 0 and frame.width / frame.height == pytest.approx(16 / 9, rel=0.05)
        audio = bot_thread.run(first_audio_frame(bot, "browser"))
        assert audio.samples > 0 and audio.sample_rate == 48000
        assert bot.participants[browser_id].identity == "browser"
    finally:
        bot_thread.run(bot.leave())


async def frames_advance(room: Room, identity: str) -> tuple[int, int]:
    """Two decoded frames of ``identity``'s camera, some frames apart: (first pts, later pts)."""
    track = next(t for t, pub, who in room.received if pub.source == "camera" and who.identity == identity)  # type: ignore[attr-defined]
    async with asyncio.timeout(30):
        first = await track.recv()
        for _ in range(5):
            later = await track.recv()
    return first.pts, later.pts


def test_browser_resume_restarts_ice_toward_the_python_client(new_page, e2e_room, mint_token, bot_thread):
    page = new_page()
    server_url = page.evaluate("location.origin")
    bot = bot_thread.run(bot_join(server_url, mint_token(e2e_room, "bot")))
    browser_id = page_join(page, mint_token(e2e_room, "browser"))
    bot_id = bot.local_participant.id
    try:
        wait_until(lambda: page.evaluate("(id) => lcTest.videoPlays(id)", bot_id)["ok"], 40, message="bot video plays")
        bot_thread.run(first_video_frame(bot, "browser"))
        ufrag_before = page.evaluate("lcTest.iceUfrags()")[bot_id]
        page.evaluate("lcTest.room.simulateSignalingDrop()")
        # The SDK resumes (same id) and restarts ICE with a fresh offer; aiortc answers it.
        wait_until(lambda: page.evaluate("lcTest.iceUfrags()")[bot_id] != ufrag_before, 30, message="ICE restart")
        assert page.evaluate("lcTest.room.localParticipant.id") == browser_id
        wait_until(lambda: page.evaluate("lcTest.room.state") == "connected", 30, message="browser resumed")
        # Media still flows both ways on the restarted connection.
        first, later = bot_thread.run(frames_advance(bot, "browser"))
        assert later > first
        wait_until(
            lambda: page.evaluate("(id) => lcTest.videoPlays(id)", bot_id)["ok"], 30, message="bot video plays on"
        )
        assert bot.participants[browser_id].identity == "browser"
    finally:
        bot_thread.run(bot.leave())
