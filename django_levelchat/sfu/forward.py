"""Egress: one track per (subscriber, published track) that hands ENCODED frames to aiortc's sender.

``RTCRtpSender`` packs an ``av.Packet`` returned by ``recv()`` without encoding (rtcrtpsender.py, the path of
``MediaPlayer(decode=False)``) and applies its own SSRC, sequence numbers, timestamp origin, VP8 picture id, RTX and
NACK history. So a layer switch only has to start on a keyframe of the new layer and keep pts monotonic.

The queue is bounded: a subscriber that cannot keep up loses whole frames, never the loop's memory; after an
overflow (or at the start) video waits for a keyframe, which is requested upstream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from django_levelchat.sfu.relay import EncodedFrame, Layer

VIDEO_QUEUE = 30
AUDIO_QUEUE = 50
#: pts gap inserted at a layer switch: one frame at 30 fps (90 kHz) / one Opus frame (48 kHz).
SWITCH_STEP = {"video": 3000, "audio": 960}


class ForwardTrack(MediaStreamTrack):
    """Forwards one layer of a source at a time; ``set_layer`` switches on the next keyframe of the target."""

    def __init__(self, kind: str, track_id: str, on_switch: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._on_switch = on_switch
        self.kind = kind
        self._id = track_id
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(VIDEO_QUEUE if kind == "video" else AUDIO_QUEUE)
        self.current: Layer | None = None
        self.target: Layer | None = None
        self._need_key = kind == "video"
        self._offset = 0
        self._last_pts: int | None = None
        self._paused_at: float | None = None
        self.forwarded = 0
        self.dropped = 0
        self.switches = 0

    # ---------------------------------------------------------------- control (event loop)

    def set_layer(self, layer: Layer | None) -> None:
        """Forward ``layer`` from its next keyframe on; until then keep forwarding the current one."""
        if layer is self.target:
            return
        if self.target is not None and self.target is not self.current:
            self.target.remove_sink(self)
        self.target = layer
        if layer is None:
            return
        if layer is self.current:
            return
        layer.add_sink(self)
        layer.request_keyframe()

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        """Stop forwarding (last-N / top audio left this track out): leave the layers, so they cost nothing.

        ``set_layer`` resumes, from the next keyframe; the output timestamps then skip the paused time.
        """
        if self._paused_at is None:
            self._paused_at = time.monotonic()
        self.detach()

    def request_keyframe(self) -> None:
        """The subscriber lost a picture (its PLI/FIR reached our sender): ask the publisher, rate-limited."""
        layer = self.target or self.current
        if layer is not None:
            layer.request_keyframe()

    def detach(self) -> None:
        for layer in {self.current, self.target}:
            if layer is not None:
                layer.remove_sink(self)
        self.current = self.target = None
        self._need_key = self.kind == "video"

    def stop(self) -> None:
        self.detach()
        super().stop()
        try:
            self._queue.put_nowait(None)  # wake the sender so it notices the end
        except asyncio.QueueFull:
            pass

    # ---------------------------------------------------------------- data path

    def on_frame(self, layer: Layer, frame: EncodedFrame) -> None:
        if layer is not self.current:
            if layer is not self.target or not frame.keyframe:
                return
            self._switch(layer, frame)
        elif self._need_key:
            if not frame.keyframe:
                return
            self._need_key = False
        pts = frame.timestamp + self._offset
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        packet = av.Packet(frame.data)
        packet.pts = pts
        packet.time_base = Fraction(1, layer.clock_rate)
        try:
            self._queue.put_nowait(packet)
        except asyncio.QueueFull:
            self._overflow()
            return
        self.forwarded += 1

    def _switch(self, layer: Layer, frame: EncodedFrame) -> None:
        """Start forwarding ``layer`` at ``frame`` (a keyframe); rebase pts so the output continues one step later."""
        previous = self.current
        self.current = layer
        if previous is not None:
            previous.remove_sink(self)
            self.switches += 1
            if self._on_switch is not None:
                self._on_switch()  # the old layer may have lost its last viewer
        self._need_key = False
        step = SWITCH_STEP[self.kind]
        if self._paused_at is not None:
            # Resuming: let the timestamps show the silence, so the receiver's jitter buffer sees no clock jump.
            step = max(step, int((time.monotonic() - self._paused_at) * layer.clock_rate))
            self._paused_at = None
        if self._last_pts is None:
            self._offset = -frame.timestamp
        else:
            self._offset = self._last_pts + step - frame.timestamp

    def _overflow(self) -> None:
        """The subscriber's sender fell behind: drop the backlog and restart video on a keyframe."""
        while not self._queue.empty():
            self._queue.get_nowait()
            self.dropped += 1
        if self.kind == "video":
            self._need_key = True
            self.request_keyframe()

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet
