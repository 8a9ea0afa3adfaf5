from __future__ import annotations

import pytest

from django_levelchat.sfu import embedded, leases
from django_levelchat.signaling import janitor, presence


@pytest.fixture(autouse=True)
async def fresh_sfu_state():
    """Each test gets empty presence and leases and no embedded worker left from another test's loop."""
    presence._store = None
    leases._store = None
    yield
    await embedded.stop_worker()
    await janitor.stop()
    presence._store = None
    leases._store = None
