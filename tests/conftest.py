from __future__ import annotations

import pytest

from django_levelchat.models import Room


@pytest.fixture
def room(db) -> Room:
    return Room.objects.create(name="Standup")


@pytest.fixture
def levelchat_settings(settings):
    """Set LEVELCHAT keys for one test: ``levelchat_settings(TOKEN_TTL=30)``."""

    def apply(**values):
        settings.LEVELCHAT = {**getattr(settings, "LEVELCHAT", {}), **values}

    return apply
