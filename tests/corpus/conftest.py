"""The corpus runs through the same in-process signaling fixtures as tests/signaling."""

from tests.signaling.conftest import (  # noqa: F401  (pytest registers imported fixtures)
    client_for,
    fresh_presence,
    signal_room,
    stop_janitor,
    token_for,
)
