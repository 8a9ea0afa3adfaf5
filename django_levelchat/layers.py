"""The embedded default channel layer: Channels' in-memory layer with its expiry scan throttled.

The stock layer walks every channel and every group membership of the process on each ``receive`` and
``group_send``; with a few hundred sockets that scan was ~15 % of daphne's time in the fan-out benchmark. Running it
at most once per ``clean_interval`` keeps expiry (messages live 60 s by default) while making the cost per message
independent of the number of sockets.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer


class InMemoryChannelLayer(StockInMemoryChannelLayer):
    #: The throttle's clock (tests replace it to step time instead of racing it).
    clock = staticmethod(time.monotonic)

    def __init__(self, *args: Any, clean_interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clean_interval = clean_interval
        self._last_clean = float("-inf")

    def _clean_expired(self) -> None:
        now = self.clock()
        if now - self._last_clean >= self.clean_interval:
            self._last_clean = now
            super()._clean_expired()
