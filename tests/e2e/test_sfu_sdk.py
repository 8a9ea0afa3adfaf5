"""The browser SDK on the SFU path (sdk/sfu.js) through the embedded SFU of a real daphne server, with Chromium.

- A live room: one broadcaster page and three viewer pages through the SDK. Viewers' videos play, they hold one
  peer connection (to the SFU) and no mesh connection.
- SDK publisher → SFU → SDK subscriber: `setPreferredQuality` picks the simulcast layer (videoWidth follows), and
  the publisher pauses the layers nobody watches (`layer-demand`).
- A meeting past the mesh limit (2 here): the third join moves all three pages to the SFU without leaving; each
  ends with one connection (to the SFU) and plays the other two from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_levelchat import tokens
from django_levelchat.models import Room
from tests.e2e.conftest import HARNESS, in_db_thread, served, wait_until
from tests.e2e.live import WAIT_S, LiveServer

pytestmark = pytest.mark.e2e
#: This module's own database alias: the shared e2e server's alias points at another SQLite file.
DB_ALIAS = "sfu_sdk_e2e"
#: Media through the SFU on a loaded 2-core machine: the first frames can take a while.
MEDIA_WAIT_S = 3 * WAIT_S


@pytest.fixture(scope="module")
def sfu_server(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[LiveServer]:
    """A server of its own with the in-memory channel layer (the SFU runs embedded) and a mesh limit of 2."""
    with served(
        tmp_path_factory.mktemp("sfu-sdk"), django_db_blocker, DB_ALIAS, extra_env={"LEVELCHAT_SFU_MESH_LIMIT": 2}
    ) as server:
        yield server


@pytest.fixture
def room_and_tokens(django_db_blocker: Any) -> Callable[..., tuple[Room, Callable[..., str]]]:
    def make(room_type: str) -> tuple[Room, Callable[..., str]]:
        room = in_db_thread(
            lambda: Room.objects.using(DB_ALIAS).create(name="SFU " + room_type, room_type=room_type),
            django_db_blocker,
        )

        def mint(identity: str, **kwargs: Any) -> str:
            return in_db_thread(lambda: tokens.issue_token(room, identity, **kwargs), django_db_blocker)

        return room, mint

    return make


@pytest.fixture
def sfu_page(browser: Any, sfu_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """``sfu_page(path="/sdk-test/")``: a page on this module's server with the harness (tests/e2e/harness.js)."""
    contexts: list[Any] = []
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type in ("warning", "error") and message.text.startswith("[levelchat"):
            errors.append(f"console.{message.type}: {message.text}")

    def make(path: str = "/sdk-test/") -> Any:
        context = browser.new_context()
        context.set_default_timeout(MEDIA_WAIT_S * 1000)
        contexts.append(context)
        context.add_init_script(path=str(HARNESS))
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", on_console)
        page.goto(sfu_server.url + path)
        if path == "/sdk-test/":
            page.wait_for_function("window.levelchat !== undefined")
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors or SDK warnings in the page: {errors}"


def _join(page: Any, token: str, server: LiveServer, **options: Any) -> str:
    result = page.evaluate("([t, o]) => lcTest.join(t, o)", [token, options])
    if "error" in result:
        raise AssertionError(f"join failed: {result['error']}\nserver log:\n{server.log_tail(60)}")
    return str(result["id"])


def _plays(page: Any, pid: str) -> dict[str, Any]:
    state = page.evaluate("(p) => lcTest.videoPlays(p)", pid)
    return state if state["ok"] else {}


def _connections(page: Any) -> list[str]:
    return sorted(page.evaluate("[...lcTest.room.peerConnections.keys()]"))


def _diagnose(pages: dict[str, Any], server: LiveServer) -> str:
    lines = []
    for name, page in pages.items():
        state = page.evaluate(
            """async () => {
              const room = lcTest.room; const out = {route: room.mediaRoute, pcs: [], names: lcTest.names().slice(-15)};
              for (const [id, pc] of room.peerConnections) {
                const rtp = [];
                for (const s of (await pc.getStats()).values())
                  if (s.type.endsWith('bound-rtp')) rtp.push([s.type, s.kind, s.mid, s.frameWidth, s.packetsSent ?? s.packetsReceived]);
                const transceivers = pc.getTransceivers().map((t) => [t.mid, t.direction, t.currentDirection, t.receiver.track?.readyState, t.receiver.track?.muted]);
                out.pcs.push({id, conn: pc.connectionState, sig: pc.signalingState, rtp, transceivers});
              }
              return out;
            }"""
        )
        lines.append(f"{name}: {state}")
    lines.append(server.log_tail(60))
    return "\n".join(lines)


def test_live_room_viewers_receive_over_the_sfu(
    sfu_server: LiveServer, sfu_page: Callable[..., Any], room_and_tokens: Callable[..., Any]
) -> None:
    _, mint = room_and_tokens(Room.RoomType.LIVE)
    host = sfu_page()
    host_id = _join(host, mint("host", role="broadcaster"), sfu_server, live="broadcaster")
    viewers = {}
    for n in range(3):
        page = sfu_page()
        _join(page, mint(f"viewer{n}", role="viewer"), sfu_server, live="viewer", publish=False)
        viewers[f"viewer{n}"] = page
    for name, page in viewers.items():
        try:
            wait_until(lambda p=page: _plays(p, host_id), timeout=MEDIA_WAIT_S, message=f"{name} plays the host")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_diagnose({'host': host, **viewers}, sfu_server)}") from None
        assert page.evaluate("lcTest.room.mediaRoute") == "sfu"
        assert _connections(page) == ["sfu"]  # one connection, to the SFU: no mesh with the host or each other
        assert page.evaluate("(p) => lcTest.subscribedFrom(p)", host_id) == [
            "camera",
            "microphone",
        ]
    assert _connections(host) == ["sfu"]
    # The host's camera went up as three layers; the viewers (auto quality) watch at least one.
    sid = host.evaluate("lcTest.room.localParticipant.getTrack('camera').sid")
    transceivers = host.evaluate("(sid) => lcTest.room.sfuTransport.publications.get(sid).transceivers.length", sid)
    assert transceivers == 3


def test_preferred_quality_picks_the_layer_and_unwatched_layers_pause(
    sfu_server: LiveServer, sfu_page: Callable[..., Any], room_and_tokens: Callable[..., Any]
) -> None:
    _, mint = room_and_tokens(Room.RoomType.LIVE)
    host = sfu_page()
    host_id = _join(host, mint("host", role="broadcaster"), sfu_server, live="broadcaster", resolution="720p")
    viewer = sfu_page()
    _join(viewer, mint("viewer", role="viewer"), sfu_server, live="viewer", publish=False)
    full = host.evaluate("lcTest.room.localParticipant.getTrack('camera').mediaStreamTrack.getSettings().width")
    sid = host.evaluate("lcTest.room.localParticipant.getTrack('camera').sid")
    pages = {"host": host, "viewer": viewer}
    try:
        wait_until(lambda: _plays(viewer, host_id), timeout=MEDIA_WAIT_S, message="the viewer plays the host")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_diagnose(pages, sfu_server)}") from None
    for quality, width, layer in (("low", full // 4, "q"), ("high", full, "f"), ("medium", full // 2, "h")):
        viewer.evaluate("(q) => lcTest.room.setPreferredQuality(q)", quality)
        try:
            wait_until(
                lambda w=width: (s := _plays(viewer, host_id)) and s["width"] == w,
                timeout=MEDIA_WAIT_S,
                message=f"{quality}: videoWidth {width}",
            )
            # Dynacast: once the switch settled, only the watched layer is sending.
            wait_until(
                lambda name=layer: host.evaluate("(s) => lcTest.room.sfuTransport.activeLayers(s)", sid) == [name],
                timeout=MEDIA_WAIT_S,
                message=f"only layer {layer} active at the publisher",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_diagnose(pages, sfu_server)}") from None
    # Still playing after the switches.
    wait_until(lambda: _plays(viewer, host_id), timeout=MEDIA_WAIT_S, message="playing after the switches")


def test_meeting_past_the_mesh_limit_moves_to_the_sfu(
    sfu_server: LiveServer, sfu_page: Callable[..., Any], room_and_tokens: Callable[..., Any]
) -> None:
    """Two members mesh; the third join takes the meeting past the limit of 2 and everyone moves to the SFU
    without leaving: the mesh closes once the SFU connection is up, and every page plays every other's camera
    from it."""
    _, mint = room_and_tokens(Room.RoomType.MEETING)
    pages: dict[str, Any] = {}
    ids: dict[str, str] = {}
    for name in ("alice", "bob"):
        pages[name] = sfu_page()
        ids[name] = _join(pages[name], mint(name), sfu_server)

    def watch(viewers: list[str], check: Callable[[Any, str], Any], what: str) -> None:
        for viewer in viewers:
            for other in pages:
                if other == viewer:
                    continue
                try:
                    wait_until(
                        lambda v=viewer, o=other: check(pages[v], ids[o]),
                        timeout=MEDIA_WAIT_S,
                        message=f"{viewer} {what} {other}",
                    )
                except AssertionError as exc:
                    raise AssertionError(f"{exc}\n{_diagnose(pages, sfu_server)}") from None

    watch(["alice", "bob"], _plays, "plays (mesh)")
    assert {name: page.evaluate("lcTest.room.mediaRoute") for name, page in pages.items()} == {
        "alice": "mesh",
        "bob": "mesh",
    }
    pages["carol"] = sfu_page()
    ids["carol"] = _join(pages["carol"], mint("carol"), sfu_server)
    for name, page in pages.items():
        try:
            wait_until(
                lambda p=page: p.evaluate("lcTest.room.mediaRoute") == "sfu" and _connections(p) == ["sfu"],
                timeout=MEDIA_WAIT_S,
                message=f"{name} on the SFU only (the mesh torn down)",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_diagnose(pages, sfu_server)}") from None
    watch(list(pages), lambda p, pid: p.evaluate("(pid) => lcTest.cameraViaSfu(pid)", pid), "receives over the SFU")
    watch(list(pages), _plays, "plays")
    for name, page in pages.items():
        assert _connections(page) == ["sfu"], name
        for other, pid in ids.items():
            if other != name:
                sources = set(page.evaluate("(p) => lcTest.subscribedFrom(p)", pid))
                assert sources == {"camera", "microphone"}, (name, other, sources)
