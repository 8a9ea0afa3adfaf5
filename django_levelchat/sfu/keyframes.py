"""Upstream keyframe requests (PLI): rate-limited per layer and collapsed across subscribers.

Every subscriber that joins, switches layer or loses a frame wants a keyframe. Forwarding each request would make
the publisher send a keyframe per request (a PLI storm: every keyframe is 5-10 times a delta frame). One request
goes out at once; any asked for within ``min_interval`` after it collapse into a single deferred one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class KeyframeRequester:
    """Calls ``send`` at most once per ``min_interval`` seconds; requests in between collapse into one."""

    def __init__(
        self,
        send: Callable[[], None],
        *,
        min_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.min_interval = min_interval
        self._clock = clock
        self._last: float | None = None
        self._pending: asyncio.TimerHandle | None = None
        self.requested = 0
        self.sent = 0

    def request(self) -> None:
        self.requested += 1
        if self._pending is not None:
            return
        now = self._clock()
        wait = 0.0 if self._last is None else self._last + self.min_interval - now
        if wait <= 0:
            self._fire()
        else:
            self._pending = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._last = self._clock()
        self.sent += 1
        self._send()

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
