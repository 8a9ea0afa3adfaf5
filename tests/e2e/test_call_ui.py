"""The prebuilt call UI (``{% levelchat_call %}``) in real Chromium with fake media, against a live server.

alice and bob log in through Django's login form in two browser contexts, open the example room page and join
through pre-join. Screenshots of the call and the chat panel go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from django_levelchat.sfu.leases import RedisLeases
from tests.e2e.conftest import wait_until
from tests.e2e.live import ROOT, LiveServer
from tests.e2e.ui_fixtures import *  # noqa: F403 - the UI fixtures (ui_pages, ui_room_factory, ui_users)
from tests.e2e.ui_fixtures import UIPage, join_call, shot, video_advances

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

XSS = "<img src=x onerror=alert(1)>"


def attr(ui: UIPage, selector: str, name: str) -> str | None:
    return ui.page.locator(selector).first.get_attribute(name)


def status_text(ui: UIPage) -> str:
    return ui.page.locator('[data-lc-live="status"]').inner_text()


@contextlib.contextmanager
def sfu_worker(server: LiveServer) -> Iterator[None]:
    """A ``manage.py runsfu`` process next to a Redis-backed server, registered before this returns."""
    if not server.redis_url:
        yield  # the in-memory server runs its embedded worker on demand
        return
    log = open(server.log_path.with_name("runsfu.log"), "wb")  # noqa: SIM115  (closed below)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "runsfu", "--workers", "1", "--worker-id", "e2e-rec"],
        cwd=ROOT,
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def registered() -> bool:  # Playwright's loop runs in this thread: ask Redis from another one
        with ThreadPoolExecutor(1) as pool:
            return "e2e-rec" in pool.submit(lambda: asyncio.run(RedisLeases(server.redis_url).live_workers())).result()

    try:
        wait_until(registered, 180, message="runsfu registered")  # start-up imports aiortc: slow under load
        yield
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()


def test_two_people_call_each_other(ui_pages, ui_room_factory, levelchat_server):
    """Video both ways, names, chat (as text), reactions, mute, camera, screen share, recording indicator, leave,
    rejoin and "end for everyone"."""
    room = ui_room_factory("Standup", host_like=True)
    alice, bob = ui_pages("alice"), ui_pages("bob")
    join_call(alice, levelchat_server, room, screenshot="prejoin")
    join_call(bob, levelchat_server, room)

    # --- each sees the other's video playing, their name, and themselves as "You"
    for me, other in ((alice, "Bob"), (bob, "Alice")):
        me.tile(other).wait_for()
        video_advances(me, f'.lc-tile[aria-label="{other}"] video')
        assert me.tile("You").count() == 1
        assert me.tile(other).get_attribute("data-lc-participant")  # the identity (the Django user's pk)
    wait_until(lambda: alice.root().get_attribute("data-lc-layout") == "one-on-one", 5, message="one-on-one layout")
    wait_until(lambda: alice.control("Microphone").get_attribute("aria-busy") == "false", 5, message="mic published")
    assert alice.control("Microphone").get_attribute("aria-pressed") == "true"
    assert alice.page.evaluate("document.activeElement.textContent") == "Standup"  # focus moved to the call heading
    shot(alice, "two-party-call")

    # --- the control bar is one toolbar: arrows, Home/End; the reactions menu follows the APG menu pattern
    active = "document.activeElement.dataset.lcControl || document.activeElement.getAttribute('role')"
    alice.control("Microphone").focus()
    alice.page.keyboard.press("ArrowRight")
    assert alice.page.evaluate(active) == "mic-options"
    alice.page.keyboard.press("End")
    assert alice.page.evaluate(active) == "leave"
    alice.page.keyboard.press("Home")
    assert alice.page.evaluate(active) == "mic"
    assert alice.page.evaluate("[...document.querySelectorAll('[role=toolbar] button[tabindex=\"0\"]')].length") == 1
    alice.control("Reactions").focus()
    alice.page.keyboard.press("Enter")
    assert alice.page.evaluate(active) == "menuitem"
    alice.page.keyboard.press("ArrowRight")
    assert alice.page.evaluate("document.activeElement.getAttribute('aria-label')") == "React with clapping"
    alice.page.keyboard.press("Escape")
    assert alice.page.evaluate(active) == "reactions"

    # --- the server drops alice's socket: a "Reconnecting" state, then the same call again
    if levelchat_server.redis_url:
        alice_id = bob.tile("Alice").get_attribute("data-lc-participant-id")
        levelchat_server.close_socket(room.public_id, alice_id, "restart")
        wait_until(lambda: alice.states()[-2:] == ["reconnecting", "connected"], 10, message="reconnected")
        assert alice.page.locator('[data-lc-banner="reconnecting"]').is_hidden()
        video_advances(alice, '.lc-tile[aria-label="Bob"] video')

    # --- chat round trip; markup stays text, nothing runs
    alice.control("Chat").click()
    chat_input = alice.page.get_by_role("textbox", name="Message")
    assert alice.page.evaluate(
        "document.activeElement.getAttribute('aria-label') || document.activeElement.id"
    ).startswith("lc-chat-input")
    chat_input.fill("hello <b>x</b>")
    chat_input.press("Enter")
    chat_input.fill(XSS)
    chat_input.press("Enter")
    bob.page.wait_for_function("document.querySelector('[data-lc-control=chat]')?.textContent.includes('2 unread')")
    wait_until(lambda: "New message from Alice" in status_text(bob), 3, message="new message announced")
    chat_button = bob.page.get_by_role("toolbar").get_by_role("button", name=re.compile(r"^Chat\W+2 unread$"))
    chat_button.click()
    log = bob.page.get_by_role("log", name="Chat messages")
    log.get_by_text("hello <b>x</b>").wait_for()
    texts = log.locator(".lc-msg").all_inner_texts()
    assert any("Alice: hello <b>x</b>" in re.sub(r"\s+", " ", t) for t in texts), texts
    assert log.locator("b, img").count() == 0
    assert log.get_by_text(XSS).count() == 1
    assert bob.page.evaluate("document.activeElement.classList.contains('lc-chat__input')")
    assert bob.control("Chat").get_attribute("aria-pressed") == "true"

    # --- reaction: shown as an overlay and logged in chat on the other side
    alice.page.locator("body").click(position={"x": 5, "y": 5})  # focus out of the chat input
    alice.page.keyboard.press("Alt+1")
    bob.page.locator('.lc-float[data-lc-reaction="👍"]').wait_for()
    assert "Alice" in bob.page.locator(".lc-float").first.inner_text()
    log.locator(".lc-msg--system", has_text="Alice reacted").locator('svg[data-lc-emoji="👍"]').wait_for()
    shot(bob, "chat-panel")
    bob.page.keyboard.press("Escape")
    assert bob.page.evaluate("document.activeElement.dataset.lcControl") == "chat"
    assert bob.control("Chat").get_attribute("aria-pressed") == "false"

    # --- mute with the M shortcut shows on bob's side; typing "m" in chat does not toggle
    alice.page.keyboard.press("m")
    assert alice.control("Microphone").get_attribute("aria-pressed") == "false"
    alice_tile = '.lc-tile[aria-label="Alice"]'
    bob.page.wait_for_function(f"document.querySelector('{alice_tile}')?.dataset.lcAudioMuted === 'true'")
    assert "microphone off" in bob.page.locator(alice_tile).inner_text()
    chat_input.fill("")
    chat_input.type("m")
    assert alice.control("Microphone").get_attribute("aria-pressed") == "false"
    chat_input.fill("")
    alice.control("Microphone").click()
    bob.page.wait_for_function(f"document.querySelector('{alice_tile}')?.dataset.lcAudioMuted === 'false'")

    # --- camera off → bob sees the initials placeholder; on → video again
    alice.control("Camera").click()
    bob.page.wait_for_function(f"document.querySelector('{alice_tile}')?.dataset.lcVideoMuted === 'true'")
    assert bob.page.locator(f"{alice_tile} .lc-avatar").is_visible()
    alice.control("Camera").click()
    bob.page.wait_for_function(f"document.querySelector('{alice_tile}')?.dataset.lcVideoMuted === 'false'")
    video_advances(bob, f"{alice_tile} video")

    # --- moderation: alice (room:admin here) mutes bob from the participants panel
    alice.page.locator("body").click(position={"x": 5, "y": 5})
    alice.page.keyboard.press("p")
    people = alice.page.get_by_role("region", name="Participants")
    people.get_by_role("button", name="Mute Bob").click()
    wait_until(lambda: bob.control("Microphone").get_attribute("aria-pressed") == "false", 5, message="bob muted")
    wait_until(lambda: "You were muted by the host" in status_text(bob), 5, message="muted by host announced")
    assert "(You)" in people.locator(".lc-person").first.inner_text()
    alice.page.keyboard.press("Escape")
    assert alice.page.evaluate("document.activeElement.dataset.lcControl") == "people"

    # --- settings: bob switches microphone mid-call; alice keeps receiving his audio, no re-join
    bob.page.get_by_role("button", name="Microphone settings").click()
    dialog = bob.page.get_by_role("dialog", name="Settings")
    mic_select = dialog.get_by_role("combobox", name="Microphone")
    mic_select.locator("option", has_text="Fake Audio Input 1").wait_for(state="attached")
    assert mic_select.locator("option").count() >= 3  # the three fake microphones
    mic_select.select_option(label="Fake Audio Input 1")
    wait_until(lambda: any("Fake Audio Input 1" in t for t in bob.live_tracks()), 5, message="bob switched mic")
    bob.page.keyboard.press("Escape")
    assert bob.page.evaluate("document.activeElement.dataset.lcControl") == "mic-options"
    assert len([t for t in bob.live_tracks() if t.startswith("audio:")]) == 1  # the old capture was stopped
    assert alice.page.evaluate(
        "[...document.querySelectorAll('.lc-audio audio')].some((a) => a.srcObject?.getAudioTracks()[0]?.readyState === 'live')"
    )

    # --- screen share → presenter layout on both pages, the share plays, "contain"; stop → back
    alice.control("Share screen").click()
    for ui in (alice, bob):
        wait_until(
            lambda ui=ui: ui.root().get_attribute("data-lc-layout") == "presenter", 10, message=f"{ui.name} presenter"
        )
    share = '.lc-stage__main .lc-tile[aria-label="Alice\'s screen"]'
    bob.page.locator(share).wait_for()
    result = video_advances(bob, f"{share} video")
    assert result["width"] > 0
    assert bob.page.eval_on_selector(f"{share} video", "v => getComputedStyle(v).objectFit") == "contain"
    wait_until(lambda: "Alice is presenting" in status_text(bob), 5, message="presenting announced")
    assert alice.page.get_by_text("You are presenting").is_visible()
    shot(bob, "screen-share")
    alice.control("Share screen").click()
    for ui in (alice, bob):
        wait_until(
            lambda ui=ui: ui.root().get_attribute("data-lc-layout") == "one-on-one", 5, message=f"{ui.name} back"
        )

    # --- recording (a runsfu worker on Redis, else the embedded one): everyone sees the indicator while it runs
    with sfu_worker(levelchat_server):
        alice.control("More options").click()
        alice.page.get_by_role("menuitem", name="Start recording").click()
        for ui in (alice, bob):
            ui.page.locator(".lc-badge--rec").wait_for()
            assert ui.root().get_attribute("data-lc-recording") == "true"
        alice.control("More options").click()
        alice.page.get_by_role("menuitem", name="Stop recording").click()
        for ui in (alice, bob):
            ui.page.locator(".lc-badge--rec").wait_for(state="hidden")
        for ui in (alice, bob):
            states = [e["detail"]["state"] for e in ui.events() if e["name"] == "levelchat:recording"]
            assert states == ["started", "stopped"], (ui.name, states)

    # --- bob leaves: his card offers Rejoin, his tile disappears for alice
    bob.control("Leave").click()
    bob.wait_state("ended")
    assert bob.page.get_by_role("heading", name="You left the call").is_visible()
    alice.tile("Bob").wait_for(state="detached")
    wait_until(lambda: "Bob left" in status_text(alice), 5, message="leave announced")
    assert bob.page.evaluate("document.querySelectorAll('video').length") == 0
    assert bob.live_tracks() == []  # the camera light is off
    lifecycle_events = [e for e in bob.events() if e["name"] != "levelchat:recording"]
    assert [e["name"] for e in lifecycle_events] == ["levelchat:joined", "levelchat:left"]
    assert lifecycle_events[1]["detail"] == {"reason": "left"}

    # --- bob rejoins; alice ends the call for everyone
    bob.page.get_by_role("button", name="Rejoin").click()
    bob.page.get_by_role("button", name="Join", exact=True).click()
    bob.wait_state("connected")
    alice.tile("Bob").wait_for()
    alice.control("More options").click()
    alice.page.get_by_role("menuitem", name="End call for everyone").click()
    alice.page.get_by_role("dialog").get_by_role("button", name="End call").click()
    for ui in (bob, alice):
        ui.wait_state("ended")
        assert ui.page.get_by_role("heading", name="The call has ended").is_visible()
        assert ui.page.evaluate("document.activeElement.textContent") == "The call has ended"
        assert ui.live_tracks() == []
    bob.page.reload()
    assert bob.page.get_by_role("heading", name="This call has ended").is_visible()
    assert bob.page.locator("script#levelchat-config, [data-config-id]").count() == 0
    assert not alice.errors and not bob.errors, alice.errors + bob.errors
    # Nothing third-party: every request of both pages went to the test server (or stayed in the page).
    foreign = [
        url for url in alice.requests + bob.requests if not url.startswith((levelchat_server.url, "data:", "blob:"))
    ]
    assert not foreign, foreign


def test_anonymous_user_gets_sign_in_card(ui_pages, ui_room_factory, levelchat_server):
    room = ui_room_factory("Open house")
    anon = ui_pages(None)
    anon.page.goto(f"{levelchat_server.url}/rooms/{room.public_id}/")
    assert anon.page.get_by_role("heading", name="Sign in to join this call").is_visible()
    link = anon.page.get_by_role("link", name="Sign in")
    assert link.get_attribute("href").startswith("/accounts/login/?next=")
    assert anon.page.evaluate("document.querySelectorAll('video').length") == 0
    assert not anon.errors


def test_blocked_devices_can_still_join(ui_pages, ui_room_factory, levelchat_server):
    """getUserMedia refused: pre-join says so (role=alert) and "Join without camera and microphone" works."""
    room = ui_room_factory("Blocked")
    alice = ui_pages("alice")
    alice.context.add_init_script(
        """navigator.mediaDevices.getUserMedia = () =>
             Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"""
    )
    alice.page.goto(f"{levelchat_server.url}/rooms/{room.public_id}/")
    alert = alice.page.get_by_role("alert").filter(has_text="blocked the camera and microphone")
    alert.wait_for()
    assert alice.page.get_by_role("button", name="Retry").is_visible()
    alice.page.get_by_role("button", name="Join without camera and microphone").click()
    alice.wait_state("connected")
    assert alice.control("Microphone").get_attribute("aria-pressed") == "false"
    assert alice.control("Camera").get_attribute("aria-pressed") == "false"
    assert alice.tile("You").get_attribute("data-lc-video-muted") == "true"
    assert not alice.errors


def test_phone_width_and_live_viewer(ui_pages, ui_room_factory, levelchat_server):
    """At 375 px nothing overflows, controls are at least 44×44 with names, chat is a modal sheet; a host removes
    the phone user; a live-room viewer joins without pre-join and sees "You're watching" and no publish controls."""
    room = ui_room_factory("Phone", host_like=True)
    bob = ui_pages("bob", viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    join_call(bob, levelchat_server, room)
    overflow = bob.page.evaluate(
        "document.querySelector('[data-levelchat-call]').scrollWidth - document.querySelector('[data-levelchat-call]').clientWidth"
    )
    assert overflow <= 0
    sizes = bob.page.evaluate(
        """[...document.querySelectorAll('[role=toolbar] button')].filter((b) => b.offsetParent)
             .map((b) => ({ name: b.textContent.trim(), w: b.getBoundingClientRect().width, h: b.getBoundingClientRect().height }))"""
    )
    assert sizes and all(s["w"] >= 44 and s["h"] >= 44 and s["name"] for s in sizes), sizes
    bob.control("Chat").click()
    sheet = bob.page.locator("dialog.lc-sheet[open]")
    sheet.wait_for()
    for _ in range(8):  # Tab stays inside the modal sheet
        bob.page.keyboard.press("Tab")
        assert bob.page.evaluate("!!document.activeElement.closest('dialog.lc-sheet')")
    bob.page.keyboard.press("Escape")
    sheet.wait_for(state="hidden")
    assert bob.page.evaluate("document.activeElement.dataset.lcControl") == "chat"

    alice = ui_pages("alice")
    join_call(alice, levelchat_server, room)
    bob.tile("Alice").wait_for()
    video_advances(bob, '.lc-tile[aria-label="Alice"] video')
    shot(bob, "phone")
    alice.page.keyboard.press("p")
    alice.page.get_by_role("region", name="Participants").get_by_role("button", name="Remove Bob").click()
    alice.page.get_by_role("dialog").get_by_role("button", name="Remove", exact=True).click()
    bob.wait_state("ended")
    assert bob.page.get_by_role("heading", name="You were removed from the call").is_visible()
    assert bob.events()[-1] == {"name": "levelchat:left", "detail": {"reason": "removed"}}
    alice.tile("Bob").wait_for(state="detached")

    live = ui_room_factory("Town hall", room_type="live")
    viewer = ui_pages("alice")
    viewer.page.goto(f"{levelchat_server.url}/live/{live.public_id}/")
    viewer.wait_state("connected")
    assert viewer.page.get_by_text("You're watching").is_visible()
    assert viewer.control("Microphone").count() == 0 and viewer.control("Camera").count() == 0
    assert viewer.page.locator(".lc-tile").count() == 0
    assert not bob.errors and not viewer.errors and not alice.errors


def test_join_before_the_preview_opens_still_publishes(ui_pages, ui_room_factory, levelchat_server):
    """A quick click on Join while the preview capture is still opening joins with mic and camera on."""
    room = ui_room_factory("Quick")
    alice = ui_pages("alice")
    alice.context.add_init_script(
        """const slow = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
           let first = true;
           navigator.mediaDevices.getUserMedia = (c) => first
             ? (first = false, new Promise((ok) => setTimeout(() => ok(slow(c)), 1500)))
             : slow(c);"""
    )
    alice.page.goto(f"{levelchat_server.url}/rooms/{room.public_id}/")
    alice.wait_state("prejoin")
    alice.page.get_by_role("button", name="Join", exact=True).click()
    alice.wait_state("connected")
    expect(alice.control("Microphone")).to_have_attribute("aria-pressed", "true")
    expect(alice.control("Camera")).to_have_attribute("aria-pressed", "true")
    assert not alice.errors
