"""The call UI in a live room over the SFU (a ``runsfu`` worker beside the Redis-backed server): the viewers see
the broadcaster on the stage with the audience count, have no camera or microphone controls, and hold one peer
connection (to the SFU), never one to each other."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import DB_ALIAS, in_db_thread, wait_until
from tests.e2e.test_call_ui import sfu_worker
from tests.e2e.ui_fixtures import *  # noqa: F403 - the UI fixtures (ui_pages, ui_room_factory, ui_users)
from tests.e2e.ui_fixtures import UIPage, video_advances

pytestmark = pytest.mark.e2e
MEDIA_WAIT_S = 90.0

#: Every RTCPeerConnection the page makes, to tell a viewer's SFU connection from mesh connections.
COUNT_PCS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__lcPcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__lcPcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
})();
"""


def _open_live(ui: UIPage, url: str) -> None:
    ui.context.add_init_script(COUNT_PCS)
    ui.page.goto(url)


def _open_pcs(ui: UIPage) -> int:
    return int(ui.page.evaluate("window.__lcPcs.filter((pc) => pc.connectionState !== 'closed').length"))


def test_live_room_stage_audience_and_no_viewer_controls(
    ui_pages: Any, ui_room_factory: Any, levelchat_server: Any, django_db_blocker: Any
) -> None:
    def make_staff() -> None:
        from django.contrib.auth import get_user_model

        get_user_model().objects.db_manager(DB_ALIAS).filter(username="carol").update(is_staff=True)

    in_db_thread(make_staff, django_db_blocker)
    room = ui_room_factory("Town hall", room_type="live")
    url = f"{levelchat_server.url}/live/{room.public_id}/"
    with sfu_worker(levelchat_server):
        host = ui_pages("carol")
        _open_live(host, url)
        host.wait_state("prejoin")
        host.page.wait_for_function("document.querySelector('.lc-prejoin__video')?.videoWidth > 0")
        host.page.get_by_role("button", name="Join", exact=True).click()
        host.wait_state("connected")
        viewers = [ui_pages(name) for name in ("alice", "bob")]
        for viewer in viewers:
            _open_live(viewer, url)
            viewer.wait_state("connected")
        for viewer in viewers:
            viewer.tile("Carol").wait_for(timeout=MEDIA_WAIT_S * 1000)
            video_advances(viewer, '.lc-tile[aria-label="Carol"] video', timeout=MEDIA_WAIT_S)
            assert viewer.control("Microphone").count() == 0 and viewer.control("Camera").count() == 0
            assert viewer.page.locator(".lc-tile").count() == 1  # the stage: broadcasters only, no self view
            assert _open_pcs(viewer) == 1  # the SFU connection; no mesh with the host or the other viewer
        for ui in (host, *viewers):
            wait_until(
                lambda u=ui: u.page.locator("[data-lc-audience]").get_attribute("data-lc-audience") == "2",
                message=f"{ui.name} shows 2 watching",
            )
            assert ui.page.get_by_text("2 watching").first.is_visible()
        assert _open_pcs(host) == 1
        assert not host.errors and not any(v.errors for v in viewers)
