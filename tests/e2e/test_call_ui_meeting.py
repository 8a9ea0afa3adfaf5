"""Meeting features of the prebuilt call UI in real Chromium: raise hand (and a host lowering it), fit/fill per
tile, the invite link and the elapsed time, reaction pictures, chat avatars, the phone layout (390×844, one row,
overflow into More, no tooltips on touch), and axe-core on the pre-join, call, chat and people views.

Every view is saved at 1280×800 and 390×844 under ``test-artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.ui_fixtures import *  # noqa: F403 - the UI fixtures (ui_pages, ui_room_factory, ui_users)
from tests.e2e.ui_fixtures import UIPage, axe_violations, shot, video_advances

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
CLIPBOARD = {"permissions": ["clipboard-read", "clipboard-write"]}


def status_text(ui: UIPage) -> str:
    return ui.page.locator('[data-lc-live="status"]').inner_text()


def open_prejoin(ui: UIPage, url: str, size: str) -> None:
    """Open the room page and wait for pre-join with the camera preview playing; check it and save it."""
    ui.page.goto(url)
    ui.wait_state("prejoin")
    ui.page.get_by_role("button", name="Join", exact=True).wait_for()
    ui.page.wait_for_function("document.querySelector('.lc-prejoin__video')?.videoWidth > 0", timeout=10_000)
    axe_violations(ui, "pre-join")
    shot(ui, f"{size}-prejoin")


def join(ui: UIPage) -> None:
    ui.page.get_by_role("button", name="Join", exact=True).click()
    ui.wait_state("connected")


def tile_attr(ui: UIPage, name: str, attr: str) -> str | None:
    return ui.tile(name).get_attribute(attr)


def test_hand_fit_invite_chat_and_axe_on_desktop(ui_pages, ui_room_factory, levelchat_server):
    room = ui_room_factory("Design review", host_like=True)
    url = f"{levelchat_server.url}/rooms/{room.public_id}/"
    alice, bob = ui_pages("alice", **CLIPBOARD), ui_pages("bob")
    open_prejoin(alice, url, "desktop")
    join(alice)
    bob.page.goto(url)
    bob.wait_state("prejoin")
    join(bob)
    alice.tile("Bob").wait_for(timeout=10_000)
    video_advances(alice, '.lc-tile[aria-label="Bob"] video')

    # --- top bar: the elapsed time runs; the invite action copies the page's address
    elapsed = alice.page.locator("[data-lc-elapsed]")
    wait_until(lambda: re.fullmatch(r"\d+:\d\d", elapsed.inner_text() or "") is not None, 5, message="elapsed time")
    alice.page.get_by_role("button", name="Copy invite link").click()
    alice.page.locator(".lc-toast", has_text="Invite link copied").wait_for(timeout=5000)
    assert alice.page.evaluate("navigator.clipboard.readText()") == url
    # At 1280 px the media controls, Share screen, Reactions and Chat show their labels
    for name in ("Microphone", "Camera", "Share screen", "Reactions", "Leave"):
        assert alice.control(name).locator(".lc-ctl__label").is_visible(), name
    axe_violations(alice, "call")
    shot(alice, "desktop-call")

    # --- fit/fill: Bob's 4:3 camera in the wide one-on-one stage is shown whole; the switch fills, then fits again
    bob_tile = '.lc-tile[aria-label="Bob"]'
    wait_until(lambda: tile_attr(alice, "Bob", "data-lc-fit") == "contain", 5, message="4:3 video not cropped")
    fit_of = f"getComputedStyle(document.querySelector('{bob_tile} video')).objectFit"
    assert alice.page.evaluate(fit_of) == "contain"
    fill = alice.page.get_by_role("button", name="Fill the tile with Bob")
    assert fill.get_attribute("aria-pressed") == "false"
    fill.click()
    assert tile_attr(alice, "Bob", "data-lc-fit") == "cover" and alice.page.evaluate(fit_of) == "cover"
    assert fill.get_attribute("aria-pressed") == "true"
    shot(alice, "desktop-call-filled")
    fill.click()
    assert alice.page.evaluate(fit_of) == "contain"

    # --- raise hand: bob's tile and alice's participants list show it, the host lowers it
    bob.control("Raise hand").click()
    wait_until(lambda: bob.control("Raise hand").get_attribute("aria-pressed") == "true", 5, message="hand up")
    alice.page.wait_for_function(f"document.querySelector('{bob_tile}')?.dataset.lcHand === 'true'", timeout=5000)
    assert "hand raised" in alice.tile("Bob").inner_text()
    wait_until(lambda: "Bob raised their hand" in status_text(alice), 5, message="hand announced")
    alice.page.locator('[data-lc-control="people"]').click()
    people = alice.page.get_by_role("region", name="Participants")
    rows = people.locator(".lc-person")
    wait_until(lambda: rows.nth(1).get_attribute("data-lc-hand") == "true", 5, message="hand in the list")
    assert "hand raised" in rows.nth(1).inner_text()
    axe_violations(alice, "people")
    shot(alice, "desktop-people")
    people.get_by_role("button", name="Lower Bob's hand").click()
    wait_until(lambda: bob.control("Raise hand").get_attribute("aria-pressed") == "false", 5, message="lowered")
    wait_until(lambda: "The host lowered your hand" in status_text(bob), 5, message="lowering announced")
    alice.page.wait_for_function(f"document.querySelector('{bob_tile}')?.dataset.lcHand === 'false'", timeout=5000)
    # bob's own shortcut raises it again: H
    bob.page.locator("body").click(position={"x": 5, "y": 5})
    bob.page.keyboard.press("h")
    alice.page.wait_for_function(f"document.querySelector('{bob_tile}')?.dataset.lcHand === 'true'", timeout=5000)
    alice.page.keyboard.press("Escape")

    # --- chat: each person's avatar has their own colour, and your own messages show your initial
    bob.page.locator('[data-lc-control="chat"]').click()
    box = bob.page.get_by_role("textbox", name="Message")
    box.fill("hello from bob")
    box.press("Enter")
    alice.page.locator('[data-lc-control="chat"]').click()
    log = alice.page.get_by_role("log", name="Chat messages")
    log.get_by_text("hello from bob").wait_for(timeout=5000)
    alice_box = alice.page.get_by_role("textbox", name="Message")
    alice_box.fill("hi bob")
    alice_box.press("Enter")
    log.get_by_text("hi bob").wait_for(timeout=5000)
    avatars = log.locator(".lc-msg__head .lc-avatar")
    assert avatars.count() == 2
    colours = [a.evaluate("el => getComputedStyle(el).backgroundColor") for a in avatars.all()]
    assert colours[0] != colours[1], colours
    assert [a.inner_text() for a in avatars.all()] == ["B", "A"]  # alice's own message: "A", not "Y" for You

    # --- reactions are pictures (no emoji font on this machine), in the overlay and in the chat line
    alice_box.press("Escape")
    alice.page.locator("body").click(position={"x": 5, "y": 5})
    alice.page.keyboard.press("Alt+1")
    bob.page.locator('.lc-float[data-lc-reaction="👍"] svg[data-lc-emoji="👍"]').wait_for(timeout=5000)
    bob_log = bob.page.get_by_role("log", name="Chat messages")
    line = bob_log.locator(".lc-msg--system", has_text="Alice reacted")
    line.wait_for(timeout=5000)
    assert line.locator('svg[data-lc-emoji="👍"]').count() == 1 and "thumbs up" in line.inner_text()
    axe_violations(bob, "chat")
    shot(bob, "desktop-chat")

    # --- the reactions and More menus, the settings dialog, the end card: looked at, and named
    bob.page.keyboard.press("Escape")
    bob.control("Reactions").click()
    bob.page.get_by_role("menuitem", name="React with heart").wait_for()
    shot(bob, "desktop-reactions-menu")
    bob.page.keyboard.press("Escape")
    bob.control("More options").click()
    bob.page.get_by_role("menuitem", name="Settings").wait_for()
    tip = "getComputedStyle(document.querySelector('[data-lc-control=more]'), '::before').content"
    assert bob.page.evaluate(tip) in ("none", "normal")  # no tooltip over the open menu
    shot(bob, "desktop-more-menu")
    bob.page.get_by_role("menuitem", name="Settings").click()
    bob.page.get_by_role("dialog", name="Settings").wait_for()
    axe_violations(bob, "settings")
    shot(bob, "desktop-settings")
    bob.page.keyboard.press("Escape")
    bob.control("Leave").click()
    bob.wait_state("ended")
    shot(bob, "desktop-left")
    assert not alice.errors and not bob.errors, alice.errors + bob.errors


def test_phone_layout_one_row_and_overflow(ui_pages, ui_room_factory, levelchat_server):
    """At 390×844 the bar is one row inside the screen, the rest is in More, and a tap leaves no tooltip."""
    room = ui_room_factory("Phone standup", host_like=True)
    url = f"{levelchat_server.url}/rooms/{room.public_id}/"
    bob = ui_pages("bob", **PHONE)
    open_prejoin(bob, url, "phone")
    join(bob)
    alice = ui_pages("alice")
    alice.page.goto(url)
    alice.wait_state("prejoin")
    join(alice)
    bob.tile("Alice").wait_for(timeout=10_000)
    video_advances(bob, '.lc-tile[aria-label="Alice"] video')

    bar = bob.page.evaluate(
        """[...document.querySelectorAll('[role=toolbar] button')].filter((b) => b.getClientRects().length)
             .map((b) => { const r = b.getBoundingClientRect();
                           return { id: b.dataset.lcControl, name: b.textContent.trim(), top: r.top, left: r.left,
                                    right: r.right, w: r.width, h: r.height }; })"""
    )
    assert [b["id"] for b in bar] == ["mic", "camera", "chat", "more", "leave"], bar
    assert max(b["top"] for b in bar) - min(b["top"] for b in bar) < 2, f"one row: {bar}"
    assert all(b["left"] >= 0 and b["right"] <= 390 and b["w"] >= 44 and b["h"] >= 44 and b["name"] for b in bar), bar
    overflow = bob.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    axe_violations(bob, "phone call")
    shot(bob, "phone-call")

    # Tapping a control leaves no tooltip behind (touch has no hover)
    bob.control("Chat").tap()
    bob.page.locator("dialog.lc-sheet[open]").wait_for(timeout=5000)
    axe_violations(bob, "phone chat")
    shot(bob, "phone-chat")
    bob.page.keyboard.press("Escape")
    bob.page.locator("dialog.lc-sheet[open]").wait_for(state="detached", timeout=5000)
    tip = bob.page.evaluate("getComputedStyle(document.querySelector('[data-lc-control=chat]'), '::before').content")
    assert tip in ("none", "normal"), tip

    # More holds what the bar dropped: share, reactions, raise hand, participants
    bob.control("More options").tap()
    menu = bob.page.get_by_role("menu", name="More options")
    menu.wait_for()
    names = menu.get_by_role("menuitem").all_inner_texts() + menu.get_by_role("menuitemradio").all_inner_texts()
    for wanted in ("Reactions", "Raise hand", "Participants", "Settings"):
        assert any(wanted in n for n in names), names
    box = menu.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    shot(bob, "phone-more-menu")
    menu.get_by_role("menuitem", name="Raise hand").tap()
    alice.page.wait_for_function(
        "document.querySelector('.lc-tile[aria-label=\"Bob\"]')?.dataset.lcHand === 'true'", timeout=5000
    )
    bob.control("More options").tap()
    menu.get_by_role("menuitem", name="Reactions").tap()
    reactions = bob.page.get_by_role("menu", name="Reactions")
    reactions.wait_for()
    rbox = reactions.bounding_box()
    assert rbox and rbox["x"] >= 0 and rbox["x"] + rbox["width"] <= 390, rbox
    shot(bob, "phone-reactions")
    reactions.get_by_role("menuitem", name="React with party").tap()
    alice.page.locator('.lc-float[data-lc-reaction="🎉"]').wait_for(timeout=5000)
    bob.control("More options").tap()
    menu.get_by_role("menuitem", name="Settings").tap()
    bob.page.get_by_role("dialog", name="Settings").wait_for()
    shot(bob, "phone-settings")
    bob.page.keyboard.press("Escape")
    bob.page.get_by_role("dialog", name="Settings").wait_for(state="hidden")
    bob.control("More options").tap()
    menu.get_by_role("menuitem", name="Participants").tap()
    bob.page.locator("dialog.lc-sheet[open]").wait_for(timeout=5000)
    bob.page.get_by_role("region", name="Participants").locator(".lc-person").nth(1).wait_for()
    axe_violations(bob, "phone people")
    shot(bob, "phone-people")
    bob.page.keyboard.press("Escape")
    bob.control("Leave").tap()
    bob.wait_state("ended")
    shot(bob, "phone-left")
    assert not alice.errors and not bob.errors, alice.errors + bob.errors
