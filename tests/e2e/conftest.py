"""Browser tests: a live daphne server, Debian chromium through Playwright, rooms and tokens minted here.

Fixtures other browser tests can reuse:

- ``levelchat_server`` (session; not ``live_server``, which is pytest-django's): daphne serving ``example_project``
  on a free loopback port with a temporary SQLite file, static files and (when ``redis-server`` is installed) the
  Redis channel layer on a private redis-server of its own. ``levelchat_server.close_socket(room_id, participant_id, reason)`` makes
  the server close one participant's socket (Redis only).
- ``e2e_room`` / ``make_room``: a Room created in that SQLite file; ``mint_token(room, identity, ...)``: a room
  JWT signed with the server's key (``django_levelchat.tokens.issue_token``).
- ``browser`` (module), ``new_page(path="/sdk-test/")``: a Chromium page, each in its own browser context (its own
  user). On ``/sdk-test/`` the SDK is on ``window.levelchat`` and the harness (``tests/e2e/harness.js``) on
  ``window.lcTest``. Uncaught page errors and SDK console warnings fail the test.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.db import connections

from django_levelchat import tokens
from django_levelchat.models import Room
from tests.e2e.live import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, WAIT_S, LiveServer, start_server
from tests.services import RedisServer, redis_missing_reason

HARNESS = Path(__file__).with_name("harness.js")
DB_ALIAS = "e2e"
#: Database work runs on one thread of its own: Playwright's sync API keeps an event loop running on the test
#: thread, where Django refuses synchronous ORM calls.
_db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e-db")


def in_db_thread(fn: Callable[[], Any], blocker: Any) -> Any:
    def run() -> Any:
        with blocker.unblock():
            return fn()

    return _db_thread.submit(run).result(timeout=30)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"browser tests need {CHROMIUM}")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@contextlib.contextmanager
def served(
    workdir: Path, blocker: Any, alias: str, *, redis_url: str | None = None, extra_env: dict[str, Any] | None = None
) -> Iterator[LiveServer]:
    """A daphne server (tests/e2e/live.py) whose SQLite file this process reaches through database ``alias``."""
    server = start_server(workdir, secret_key=settings.SECRET_KEY, redis_url=redis_url, extra_env=extra_env)
    conf = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(server.db_path), "OPTIONS": {"timeout": 20}}
    connections.settings[alias] = connections.configure_settings({"default": {}, alias: conf})[alias]
    try:
        yield server
    finally:
        # Tests that override DATABASES rebuild Django's connection settings and drop this alias on the way.
        if alias in connections.settings:

            def forget() -> None:  # the connection object lives in the database thread
                connections[alias].close()
                del connections[alias]

            in_db_thread(forget, blocker)
            del connections.settings[alias]
        server.stop()


@pytest.fixture(scope="session")
def levelchat_server(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[LiveServer]:
    redis = None if redis_missing_reason() else RedisServer().start()  # this server's own (see tests/conftest.py)
    try:
        with served(
            tmp_path_factory.mktemp("e2e"), django_db_blocker, DB_ALIAS, redis_url=redis.url if redis else None
        ) as server:
            yield server
    finally:
        if redis:
            redis.stop()


@pytest.fixture
def make_room(levelchat_server: LiveServer, django_db_blocker: Any) -> Callable[..., Room]:
    def make(name: str = "e2e room", **fields: Any) -> Room:
        return in_db_thread(lambda: Room.objects.using(DB_ALIAS).create(name=name, **fields), django_db_blocker)

    return make


@pytest.fixture
def e2e_room(make_room: Callable[..., Room]) -> Room:
    return make_room()


@pytest.fixture
def mint_token(django_db_blocker: Any) -> Callable[..., str]:
    """``mint_token(room, identity, role=..., ttl=..., expired=False)``: a token the live server accepts."""

    def mint(room: Room, identity: str, *, expired: bool = False, **kwargs: Any) -> str:
        token = in_db_thread(lambda: tokens.issue_token(room, identity, **kwargs), django_db_blocker)
        if not expired:
            return token
        # Re-sign the same claims an hour in the past (issue_token refuses to mint an expired token).
        claims = jwt.decode(token, options={"verify_signature": False})
        shift = 3600
        for claim in ("iat", "nbf", "exp"):
            claims[claim] -= shift
        kid = jwt.get_unverified_header(token)["kid"]
        key = tokens.get_keys()[kid]
        return jwt.encode(claims, key.signing_key, algorithm=key.algorithm, headers={"kid": kid})

    return mint


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: Playwright's sync API keeps an asyncio loop running on this thread while it is
    # open, which would break every async test that pytest runs after the browser tests.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser: Any, levelchat_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """``new_page(path="/sdk-test/")``: a fresh context and page on the live server, with the harness loaded."""
    contexts: list[Any] = []
    errors: list[str] = []

    def on_console(message: Any) -> None:
        # At the default level (warn) the SDK says nothing in normal operation.
        if message.type in ("warning", "error") and message.text.startswith("[levelchat"):
            errors.append(f"console.{message.type}: {message.text}")

    def make(path: str = "/sdk-test/") -> Any:
        context = browser.new_context()
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        context.add_init_script(path=str(HARNESS))
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", on_console)
        page.goto(levelchat_server.url + path)
        if path == "/sdk-test/":
            page.wait_for_function("window.levelchat !== undefined")
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors or SDK warnings in the page: {errors}"


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT_S, interval: float = 0.1, message: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message} (last: {last!r})")
