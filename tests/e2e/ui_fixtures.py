"""Fixtures and helpers for the prebuilt call UI browser tests (``test_call_ui.py``).

They reuse ``tests/e2e/conftest.py``: the live daphne server (``levelchat_server``), its database alias and the
session Chromium (``browser``). Users log in through Django's login form, as a person would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from django_levelchat.models import CapabilityPolicy, Room
from tests.e2e.conftest import DB_ALIAS, in_db_thread
from tests.e2e.live import WAIT_MS, WAIT_S, LiveServer

__all__ = ["UIPage", "axe_violations", "ui_pages", "ui_room_factory", "ui_users"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "demo"
USERS = {"alice": "Alice", "bob": "Bob", "carol": "Carol"}
#: Participants of UI test rooms may also record and end the room (so the More menu shows both).
HOST_LIKE = ["publish:*", "subscribe:all", "chat:send", "react:send", "hand:raise", "record:control", "room:admin"]


#: Added to every UI test page: keeps every capture (to check the camera light goes off) and the root's states.
RECORDER = """
(() => {
  window.__lcTracks = [];
  window.__lcStates = [];
  window.__lcEvents = [];
  for (const name of ['levelchat:joined', 'levelchat:left', 'levelchat:error', 'levelchat:recording']) {
    document.addEventListener(name, (e) => window.__lcEvents.push({ name, detail: e.detail }));
  }
  const md = navigator.mediaDevices;
  for (const name of ['getUserMedia', 'getDisplayMedia']) {
    const original = md && md[name] && md[name].bind(md);
    if (!original) continue;
    md[name] = async (...args) => {
      const stream = await original(...args);
      window.__lcTracks.push(...stream.getTracks());
      return stream;
    };
  }
  new MutationObserver((records) => {
    for (const r of records) {
      const state = r.target.dataset && r.target.dataset.lcState;
      if (r.attributeName === 'data-lc-state' && state && window.__lcStates.at(-1) !== state) window.__lcStates.push(state);
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-lc-state'] });
})();
"""


@dataclass
class UIPage:
    """A logged-in user's page, with the errors it raised."""

    name: str
    page: Any
    context: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def root(self) -> Any:
        return self.page.locator("[data-levelchat-call]")

    def state(self) -> str | None:
        return self.root().get_attribute("data-lc-state")

    def wait_state(self, state: str, timeout: float = WAIT_S) -> None:
        try:
            self.page.wait_for_function(
                "(s) => document.querySelector('[data-levelchat-call]')?.dataset.lcState === s",
                arg=state,
                timeout=timeout * 1000,
            )
        except Exception as exc:
            raise AssertionError(f"{self.name} never reached {state!r}: {self.diagnostics()}") from exc

    def diagnostics(self) -> dict[str, Any]:
        """What the page shows, for failure messages."""
        return self.page.evaluate(
            """() => ({
                states: window.__lcStates,
                root: { ...document.querySelector('[data-levelchat-call]')?.dataset },
                toasts: [...document.querySelectorAll('.lc-toast')].map((t) => t.textContent),
                alert: document.querySelector('[data-lc-live=alert]')?.textContent,
                status: document.querySelector('[data-lc-live=status]')?.textContent,
                card: document.querySelector('.lc-card')?.textContent,
                dialogs: [...document.querySelectorAll('dialog[open]')].map((d) => d.textContent),
            })"""
        ) | {"errors": self.errors}

    def tile(self, name: str, source: str = "camera") -> Any:
        return self.page.locator(f'.lc-stage [role="group"][data-lc-source="{source}"][aria-label="{name}"]')

    def live_tracks(self) -> list[str]:
        """Captures (camera, mic, screen) that were opened and are still live."""
        return self.page.evaluate(
            "window.__lcTracks.filter((t) => t.readyState === 'live').map((t) => t.kind + ':' + t.label)"
        )

    def states(self) -> list[str]:
        return self.page.evaluate("window.__lcStates")

    def events(self) -> list[dict[str, Any]]:
        """The root's DOM events so far: ``{name, detail}``."""
        return self.page.evaluate("window.__lcEvents")

    def control(self, name: str) -> Any:
        return self.page.get_by_role("toolbar", name="Call controls").get_by_role("button", name=name, exact=True)


@pytest.fixture(scope="session")
def ui_users(levelchat_server: LiveServer, django_db_blocker: Any) -> dict[str, str]:
    """alice and bob (password ``demo``) in the live server's database."""

    def create() -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import PBKDF2PasswordHasher

        # The server checks passwords with its own hashers (not the test settings' MD5): PBKDF2, cheaply.
        hasher = PBKDF2PasswordHasher()
        users = get_user_model().objects.db_manager(DB_ALIAS)
        for username, first in USERS.items():
            user = users.filter(username=username).first() or users.model(username=username)
            user.first_name = first
            user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
            user.save(using=DB_ALIAS)

    in_db_thread(create, django_db_blocker)
    return dict(USERS)


@pytest.fixture(scope="session")
def ui_room_factory(levelchat_server: LiveServer, django_db_blocker: Any) -> Callable[..., Room]:
    """``make(name, host_like=False, room_type="meeting")``: a room; ``host_like`` lets participants record and end
    it."""

    def make(name: str = "UI room", host_like: bool = False, room_type: str = "meeting") -> Room:
        def create() -> Room:
            policy = None
            if host_like:
                policy, _ = CapabilityPolicy.objects.using(DB_ALIAS).get_or_create(
                    name="ui-host-like", defaults={"roles": {"participant": HOST_LIKE}}
                )
            return Room.objects.using(DB_ALIAS).create(name=name, policy=policy, room_type=room_type)

        return in_db_thread(create, django_db_blocker)

    return make


@pytest.fixture
def ui_pages(browser: Any, levelchat_server: LiveServer, ui_users: dict[str, str]) -> Iterator[Callable[..., UIPage]]:
    """``open(user, viewport=..., **context_options)``: a new browser context logged in as ``user``."""
    opened: list[UIPage] = []

    def open_page(user: str | None, viewport: dict[str, int] | None = None, **options: Any) -> UIPage:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, **options)
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(RECORDER)
        page = context.new_page()
        ui = UIPage(user or "anonymous", page, context)
        page.on("pageerror", lambda exc: ui.errors.append(str(exc)))
        page.on("request", lambda request: ui.requests.append(request.url))
        page.on("dialog", lambda dialog: (ui.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        if user:
            page.goto(levelchat_server.url + "/accounts/login/")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click("form button[type=submit]")
        opened.append(ui)
        return ui

    yield open_page
    for ui in opened:
        try:
            ui.context.close()
        except Exception:  # already closed by the test
            pass


def join_call(ui: UIPage, server: LiveServer, room: Room, *, prejoin: bool = True, screenshot: str = "") -> None:
    """Open the room page and join through pre-join (its preview must play the fake camera first)."""
    ui.page.goto(f"{server.url}/rooms/{room.public_id}/")
    if prejoin:
        ui.wait_state("prejoin")
        join = ui.page.get_by_role("button", name="Join", exact=True)
        join.wait_for()
        # The preview plays the fake camera before we join.
        ui.page.wait_for_function("document.querySelector('.lc-prejoin__video')?.videoWidth > 0")
        if screenshot:
            shot(ui, screenshot)
        join.click()
    ui.wait_state("connected")


def video_advances(ui: UIPage, selector: str, timeout: float = WAIT_S) -> dict[str, Any]:
    """Wait until the video at ``selector`` has decoded frames and its time moves forward."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = ui.page.evaluate(
            """async (sel) => {
                const v = document.querySelector(sel);
                if (!v) return { ok: false, why: 'no video' };
                const t1 = v.currentTime;
                await new Promise((r) => setTimeout(r, 400));
                return { ok: v.videoWidth > 0 && v.currentTime > t1, width: v.videoWidth, t1, t2: v.currentTime };
            }""",
            selector,
        )
        if last.get("ok"):
            return last
        time.sleep(0.2)
    raise AssertionError(f"{ui.name}: video {selector} does not play: {last}")


def shot(ui: UIPage, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    ui.page.screenshot(path=str(path))
    return path


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(ui: UIPage, view: str) -> None:
    """Run axe-core (the npm dev dependency, injected from node_modules: no network) on the page and fail on any
    serious or critical violation, naming the rule and the elements."""
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (axe-core is a dev dependency)"
    if not ui.page.evaluate("typeof window.axe === 'object'"):
        ui.page.add_script_tag(path=str(AXE))
    found = ui.page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ['violations'] });
            return result.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                             nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' — ' + n.failureSummary) }));
        }"""
    )
    assert found == [], f"axe, {view} view ({ui.name}): {found}"
