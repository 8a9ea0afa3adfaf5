"""Fan-out: the forwarding state of one (subscriber, published track): which layer, keyframe gate, pts.

Frames are pushed, not pulled: a layer calls ``on_frame`` for each of its sinks as soon as a frame is complete, and
this hands it straight to the subscriber's ``sfu.egress.Egress``, which packetizes and sends it synchronously (no
queue, no task switch per subscriber and frame). The subscriber's RTP stream has its own SSRC, sequence numbers,
timestamp origin and VP8 picture id (the egress's), so a layer switch only has to start on a keyframe of the new
layer and keep pts monotonic. Until the subscriber's connection is up (ICE, DTLS), frames from the first keyframe
on are held (a bounded backlog) and sent the moment it is, so the first picture does not wait for another
keyframe request; a frame that cannot be sent later is dropped and video waits for a keyframe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django_levelchat.sfu.relay import EncodedFrame, Layer

#: Frames held for a subscriber whose connection is not up yet (about a second), sent the moment it is.
PENDING_FRAMES = {"video": 30, "audio": 50}
#: pts gap inserted at a layer switch: one frame at 30 fps (90 kHz) / one Opus frame (48 kHz).
SWITCH_STEP = {"video": 3000, "audio": 960}


class ForwardTrack:
    """Forwards one layer of a source at a time; ``set_layer`` switches on the next keyframe of the target."""

    def __init__(self, kind: str, track_id: str, on_switch: Callable[[], None] | None = None) -> None:
        self._on_switch = on_switch
        self.kind = kind
        self.id = track_id
        self.egress: Any = None  # sfu.egress.Egress of the subscriber's sender, set when its transceiver exists
        self._pending: list[tuple[EncodedFrame, int]] = []
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
        self._pending.clear()

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
        if self.egress is None or not self.egress.ready:
            self._hold(frame, pts)
        elif self.egress.send(frame, pts):
            self.forwarded += 1
        else:
            self.dropped += 1
            self._need_key = self.kind == "video"

    def _hold(self, frame: EncodedFrame, pts: int) -> None:
        if len(self._pending) >= PENDING_FRAMES[self.kind]:
            # Not up after a second: start over from a later keyframe. No request here (a subscriber that never
            # connects must not make the publisher send keyframes); ``egress_ready`` asks for one if none is held.
            self.dropped += len(self._pending)
            self._pending.clear()
            self._need_key = self.kind == "video"
            return
        self._pending.append((frame, pts))

    def egress_ready(self) -> None:
        """The subscriber's connection is up: send what was held; with nothing held, video needs a keyframe."""
        pending, self._pending = self._pending, []
        for frame, pts in pending:
            if self.egress.send(frame, pts):
                self.forwarded += 1
        if not pending and self.kind == "video":
            self._need_key = True
            self.request_keyframe()

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
