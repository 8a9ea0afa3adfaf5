from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_levelchat.models import Room
from tests.services import RedisServer, redis_missing_reason


@pytest.fixture
def room(db) -> Room:
    return Room.objects.create(name="Standup")


@pytest.fixture
def levelchat_settings(settings):
    """Set LEVELCHAT keys for one test: ``levelchat_settings(TOKEN_TTL=30)``."""

    def apply(**values):
        settings.LEVELCHAT = {**getattr(settings, "LEVELCHAT", {}), **values}

    return apply


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of this test session's own (free port, empty): no other suite on the machine shares it."""
    reason = redis_missing_reason()
    if reason:
        pytest.skip(reason)
    server = RedisServer().start()
    yield server
    server.stop()
