"""The example product (``example_project/``) as a user meets it: styled login, the room list with who is in each
room now, a staff form that creates rooms, the recordings page, the favicon, and the way back from an ended call.

Screenshots of each page at 1280×800 and 390×844 go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

from typing import Any

import pytest

from django_levelchat.models import Room
from tests.e2e.conftest import DB_ALIAS, in_db_thread, wait_until
from tests.e2e.ui_fixtures import *  # noqa: F403 - the UI fixtures (ui_pages, ui_room_factory, ui_users)
from tests.e2e.ui_fixtures import UIPage, axe_violations, shot, video_advances

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def carol_is_staff(ui_users: dict[str, str], django_db_blocker: Any) -> None:
    def promote() -> None:
        from django.contrib.auth import get_user_model

        get_user_model().objects.db_manager(DB_ALIAS).filter(username="carol").update(is_staff=True, is_superuser=True)

    in_db_thread(promote, django_db_blocker)


def track_404(ui: UIPage) -> list[str]:
    missing: list[str] = []
    ui.page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    return missing


def test_login_rooms_create_join_and_back(ui_pages, levelchat_server, carol_is_staff, django_db_blocker):
    anon = ui_pages(None)
    missing = track_404(anon)
    anon.page.goto(levelchat_server.url + "/accounts/login/")
    anon.page.get_by_role("heading", name="Log in").wait_for()
    axe_violations(anon, "login")
    shot(anon, "desktop-login")
    phone_anon = ui_pages(None, **PHONE)
    phone_anon.page.goto(levelchat_server.url + "/accounts/login/")
    shot(phone_anon, "phone-login")

    carol = ui_pages("carol")
    missing += track_404(carol)
    carol.page.goto(levelchat_server.url + "/")
    form = carol.page.get_by_role("region", name="New room")
    form.get_by_label("Name").fill("Town square")
    form.get_by_label("Type").select_option(label="Meeting")
    with carol.page.expect_navigation():
        form.get_by_role("button", name="Create room").click()
    card = carol.page.locator(".room", has_text="Town square")
    card.wait_for()
    assert "Nobody is in the call" in card.inner_text()
    public_id = card.get_attribute("data-room")

    alice = ui_pages("alice")
    missing += track_404(alice)
    alice.page.goto(levelchat_server.url + "/")
    assert alice.page.get_by_role("region", name="New room").count() == 0  # only staff create rooms
    alice.page.locator(".room", has_text="Town square").get_by_role("link", name="Join Town square").click()
    alice.wait_state("prejoin")
    alice.page.get_by_role("button", name="Join", exact=True).click()
    alice.wait_state("connected")

    def sees_alice() -> bool:
        carol.page.reload()
        return "In the call now: Alice" in carol.page.locator(".room", has_text="Town square").inner_text()

    wait_until(sees_alice, 10, message="the room list shows who is in the call")
    axe_violations(carol, "rooms")
    shot(carol, "desktop-rooms")
    phone_carol = ui_pages("carol", **PHONE)
    phone_carol.page.goto(levelchat_server.url + "/")
    wide = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert phone_carol.page.evaluate(wide) <= 0
    nav = phone_carol.page.get_by_role("navigation", name="Main")
    assert all(
        (box := item.bounding_box()) and box["x"] + box["width"] <= 390
        for item in [nav.get_by_role("link", name="Admin"), nav.get_by_role("button", name="Log out")]
    )
    shot(phone_carol, "phone-rooms")

    carol.page.get_by_role("link", name="Recordings").click()
    carol.page.get_by_role("heading", name="Recordings").wait_for()
    axe_violations(carol, "recordings")
    shot(carol, "desktop-recordings")

    # The call ends: the page's card leads back to the room list (back_url)
    alice.control("Leave").click()
    alice.wait_state("ended")

    def end() -> None:
        Room.objects.using(DB_ALIAS).filter(public_id=public_id).update(status=Room.Status.ENDED)

    in_db_thread(end, django_db_blocker)
    alice.page.reload()
    alice.page.get_by_role("heading", name="This call has ended").wait_for()
    back = alice.page.get_by_role("link", name="Back")
    assert back.get_attribute("href") == "/"
    shot(alice, "desktop-ended")
    back.click()
    alice.page.get_by_role("heading", name="Rooms").wait_for()

    # The favicon is served (browsers ask for /favicon.ico on pages without a link, e.g. the admin)
    favicon = alice.page.request.get(levelchat_server.url + "/favicon.ico")
    assert favicon.ok and favicon.headers["content-type"].startswith("image/svg")
    assert missing == [], missing
    assert not alice.errors and not carol.errors, alice.errors + carol.errors


def test_admin_rooms_fit_and_show_who_is_in_the_call(ui_pages, ui_room_factory, levelchat_server, carol_is_staff):
    room = ui_room_factory("Quarterly planning with a rather long room name")
    alice = ui_pages("alice")
    alice.page.goto(f"{levelchat_server.url}/rooms/{room.public_id}/")
    alice.wait_state("prejoin")
    alice.page.get_by_role("button", name="Join", exact=True).click()
    alice.wait_state("connected")

    carol = ui_pages("carol")
    carol.page.goto(levelchat_server.url + "/admin/django_levelchat/room/")
    results = carol.page.locator("#result_list")
    results.wait_for()
    box = results.bounding_box()
    assert box and box["x"] + box["width"] <= 1280, box  # the changelist fits a 1280 px laptop
    wide = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert carol.page.evaluate(wide) <= 0
    row = results.locator("tr", has_text="Quarterly planning")
    assert row.locator("td.field-in_call").inner_text() == "1"
    shot(carol, "desktop-admin-rooms")

    row.get_by_role("link").first.click()
    carol.page.get_by_role("heading", name="In the call now").wait_for()
    live = carol.page.locator(".field-in_call_now")
    assert "Alice" in live.inner_text() and "camera" in live.inner_text()
    assert "Alice" in carol.page.locator(".field-history").inner_text()
    assert carol.page.locator(".field-capabilities, .inline-group").count() == 0
    shot(carol, "desktop-admin-room")

    carol.page.get_by_role("link", name="Join the call as staff").click()
    carol.wait_state("prejoin")
    carol.page.get_by_role("button", name="Join", exact=True).click()
    carol.wait_state("connected")
    carol.tile("Alice").wait_for(timeout=10_000)
    video_advances(carol, '.lc-tile[aria-label="Alice"] video')
    shot(carol, "desktop-admin-join")
    carol.page.goto(levelchat_server.url + f"/admin/django_levelchat/room/{room.pk}/change/")
    with carol.page.expect_navigation():
        carol.page.get_by_role("button", name="End the room for everyone").click()
    alice.wait_state("ended")
    assert carol.page.get_by_role("button", name="Archive the room").is_visible()
    carol.page.goto(levelchat_server.url + "/admin/django_levelchat/room/add/")
    assert carol.page.locator("text=Public id").count() == 0 and carol.page.locator(".inline-group").count() == 0
    shot(carol, "desktop-admin-room-add")
    assert not alice.errors and not carol.errors, alice.errors + carol.errors
