from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.db import OperationalError
from django.db.backends.base.operations import BaseDatabaseOperations

from django_levelchat.models import Room
from tests.services import RedisServer, redis_missing_reason


@pytest.fixture(scope="session", autouse=True)
def flush_waits_for_table_locks() -> Iterator[None]:
    """The test database is shared-cache in-memory SQLite, whose table locks are never waited for (the busy
    timeout does not apply to them). A transactional test's teardown flush then fails when work the test set off
    is still writing on another thread (a consumer's departure finishing on a loaded machine), and a failed flush
    leaves the connection unusable for every later test. The flush is retried while the table is locked."""
    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                return original(self, sql_list)
            except OperationalError as exc:
                if "is locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


@pytest.fixture
def room(db) -> Room:
    return Room.objects.create(name="Standup")


@pytest.fixture
def levelchat_settings(settings):
    """Set LEVELCHAT keys for one test: ``levelchat_settings(TOKEN_TTL=30)``."""

    def apply(**values):
        settings.LEVELCHAT = {**getattr(settings, "LEVELCHAT", {}), **values}

    return apply


def private_redis() -> Iterator[RedisServer]:
    """A redis-server of our own (free port, empty), stopped afterwards; skips when the binary is missing."""
    reason = redis_missing_reason()
    if reason:
        pytest.skip(reason)
    server = RedisServer().start()
    yield server
    server.stop()


#: One redis-server per test module. Each group of server processes needs a Redis of its own: the processes on
#: one Redis elect one janitor among themselves, and a process of another test's cluster must never win it.
redis_server = pytest.fixture(scope="module", name="redis_server")(private_redis)
#: The same for one test (a second cluster inside a module that already has one).
redis_server_for_test = pytest.fixture(name="redis_server_for_test")(private_redis)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``slow`` tests run only when asked for (``pytest -m slow``, or any ``-m`` naming them): the default run stays
    within the README's time."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
