"""One transport-wide REMB per publisher connection, instead of one per video receiver.

aiortc runs a bitrate estimator per receiver and sends each estimate as a REMB naming only that stream. Chrome
reads any REMB as the estimate for the whole transport, so with three simulcast transceivers it held the publisher
at about 110 kbps in total (measured, docs/sfu.md). We capture every receiver's estimate, suppress its own REMB
and send the sum for all their SSRCs twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

logger = logging.getLogger("django_levelchat.sfu")

INTERVAL = 0.5


class RembAggregator:
    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._receivers: list[Any] = []
        self._estimates: dict[int, tuple[int, list[int]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.sent: list[int] = []  # recent totals, newest last (bounded), for stats and tests

    def add_receiver(self, receiver: Any) -> None:
        """Capture ``receiver``'s estimates; its own estimator then never produces a REMB of its own."""
        estimator = receiver._RTCRtpReceiver__remote_bitrate_estimator
        if estimator is None or receiver in self._receivers:
            return
        self._receivers.append(receiver)
        original = estimator.add
        key = id(receiver)

        def add(**kwargs: Any) -> None:
            estimate = original(**kwargs)
            if estimate is not None:
                self._estimates[key] = estimate
            return None

        estimator.add = add
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def total(self) -> tuple[int, list[int]]:
        bitrate = sum(b for b, _ in self._estimates.values())
        ssrcs = sorted({s for _, ss in self._estimates.values() for s in ss})
        return bitrate, ssrcs

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            bitrate, ssrcs = self.total()
            if not ssrcs:
                continue
            receiver = next((r for r in self._receivers if r._RTCRtpReceiver__rtcp_ssrc is not None), None)
            if receiver is None:
                continue
            packet = RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP,
                ssrc=receiver._RTCRtpReceiver__rtcp_ssrc,
                media_ssrc=0,
                fci=pack_remb_fci(bitrate, ssrcs),
            )
            await receiver._send_rtcp(packet)
            self.sent = [*self.sent[-19:], bitrate]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
