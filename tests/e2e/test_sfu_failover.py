"""An SFU worker killed with SIGKILL mid-call, with browsers and the Python client (issue 12's failover test).

Two ``runsfu`` workers on Redis behind a real daphne; a live room with a Chromium broadcaster (the SDK), a Chromium
viewer and a Python-client viewer. The worker holding the room is killed: the other claims it, every client is
told (``sfu-state`` unavailable, then ready), opens a new SFU connection on its own (the SDK and the Python client
alike: nothing in this test renegotiates for them), and both viewers play the broadcaster again.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from django_levelchat.client import join_live
from django_levelchat.sfu.leases import RedisLeases
from django_levelchat.tokens import issue_token
from tests.e2e.conftest import HARNESS, wait_until
from tests.e2e.live import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_python_interop import BotThread
from tests.livecluster import sfu_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.timeout(600)]
MEDIA_WAIT_S = 120  # two workers, daphne and two Chromium pages on a loaded 2-core machine


@pytest.fixture
def cluster(tmp_path: Any, redis_server: Any) -> Iterator[Any]:
    static = {"DJANGO_DEBUG": "1", "LEVELCHAT_SERVE_STATIC": "1", "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"}
    with sfu_cluster(tmp_path, redis_server.url, env=static) as c:
        yield c


def _page(browser: Any, url: str, token: str, live: str) -> Any:
    context = browser.new_context()
    context.set_default_timeout(MEDIA_WAIT_S * 1000)
    context.add_init_script(path=str(HARNESS))
    page = context.new_page()
    page.goto(url + "/sdk-test/")
    page.wait_for_function("window.levelchat !== undefined")
    result = page.evaluate("([t, o]) => lcTest.join(t, o)", [token, {"live": live, "publish": live == "broadcaster"}])
    assert "error" not in result, result
    return page


def _plays(page: Any, pid: str) -> bool:
    return bool(page.evaluate("(p) => lcTest.videoPlays(p)", pid)["ok"])


def _ufrag(page: Any) -> str | None:
    return page.evaluate("lcTest.iceUfrags()").get("sfu")


async def _python_viewer_frames(viewer: Any, host_id: str, count: int) -> int:
    """Decode ``count`` frames of the broadcaster's camera as the Python viewer receives it now."""
    publication = viewer.participants[host_id].track_of("camera")
    frames = 0
    while frames < count:
        frame = await publication.track.recv()
        frames += frame.width > 0
    return frames


def test_a_killed_worker_hands_the_call_to_the_other_and_every_client_comes_back(cluster, redis_server) -> None:
    from playwright.sync_api import sync_playwright

    room = cluster.create_room(room_type="live")
    url = f"http://127.0.0.1:{cluster.port}"
    bot = BotThread()
    leases = RedisLeases(redis_server.url)
    try:
        wait_until(lambda: len(bot.run(leases.live_workers())) == 2, timeout=180, message="both workers registered")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                host = _page(browser, url, issue_token(room, "host", role="broadcaster"), "broadcaster")
                host_id = host.evaluate("lcTest.room.localParticipant.id")
                viewer = _page(browser, url, issue_token(room, "viewer", role="viewer"), "viewer")
                py = bot.run(join_live(issue_token(room, "bot", role="viewer"), url=url))

                def py_subscribed() -> bool:
                    member = py.participants.get(host_id)
                    publication = member.track_of("camera") if member else None
                    return publication is not None and publication.track is not None

                wait_until(lambda: _plays(viewer, host_id), timeout=MEDIA_WAIT_S, message="the viewer plays the host")
                wait_until(py_subscribed, timeout=MEDIA_WAIT_S, message="the Python viewer gets the camera")
                assert bot.run(_python_viewer_frames(py, host_id, 5), timeout=MEDIA_WAIT_S) == 5
                before = {"host": _ufrag(host), "viewer": _ufrag(viewer)}
                python_connection = py.sfu

                first = bot.run(leases.holder(room))
                assert first in cluster.workers
                cluster.workers[first].send_signal(signal.SIGKILL)
                cluster.workers[first].wait(10)

                wait_until(
                    lambda: (second := bot.run(leases.holder(room))) is not None and second != first,
                    timeout=MEDIA_WAIT_S,
                    message="the other worker claims the room",
                )
                for name, page in (("host", host), ("viewer", viewer)):
                    wait_until(
                        lambda p=page, n=name: _ufrag(p) not in (None, before[n]),
                        timeout=MEDIA_WAIT_S,
                        message=f"{name}: a new SFU connection",
                    )
                wait_until(lambda: _plays(viewer, host_id), timeout=MEDIA_WAIT_S, message="the viewer plays again")
                wait_until(
                    lambda: py.sfu is not None and py.sfu is not python_connection and py_subscribed(),
                    timeout=MEDIA_WAIT_S,
                    message="the Python viewer on a new SFU connection, subscribed again",
                )
                assert bot.run(_python_viewer_frames(py, host_id, 5), timeout=MEDIA_WAIT_S) == 5
                assert viewer.evaluate("lcTest.room.mediaRoute") == "sfu"
                bot.run(py.leave())
            finally:
                browser.close()
    finally:
        bot.stop()
