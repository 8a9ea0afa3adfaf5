"""Record a room on the SFU: one copy-muxed file per published track, fed by the relay at its top layer.

A recorder is one more sink of each source's best layer, like a subscriber that never decodes: every encoded
frame goes to its track's :class:`~django_levelchat.recording.writer.TrackWriter`. New tracks join the recording
as they are published (``sync`` is called on every change and by a slow poll), tracks that go away have their
file closed. Sender reports (RTCP SR) of each recorded receiver are tapped for audio/video alignment. No Django
here: the worker's ``recording`` module owns the database row and the events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django_levelchat.recording.spool import TrackMeta
from django_levelchat.recording.writer import TrackWriter
from django_levelchat.sfu.relay import EncodedFrame, Layer

logger = logging.getLogger("django_levelchat.sfu")

CODECS = {"video": "vp8", "audio": "opus"}  # what the SFU pins (sdp.PINNED)
_SR_TAPS = "_levelchat_sr_taps"


def tap_sender_reports(receiver: Any, listener: Callable[[int, int, int], None]) -> Callable[[], None]:
    """Call ``listener(ssrc, ntp, rtp)`` for each RTCP SR ``receiver`` gets; returns the function that untaps.

    aiortc has no public hook: its ``_handle_rtcp_packet`` is wrapped once per receiver, listeners are a list.
    """
    taps: list[Callable[[int, int, int], None]] | None = getattr(receiver, _SR_TAPS, None)
    if taps is None:
        taps = []
        setattr(receiver, _SR_TAPS, taps)
        original = receiver._handle_rtcp_packet

        async def handle(packet: Any) -> None:
            info = getattr(packet, "sender_info", None)
            if info is not None:
                for tap in list(taps):
                    tap(packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)
            await original(packet)

        receiver._handle_rtcp_packet = handle
    taps.append(listener)
    return lambda: taps.remove(listener) if listener in taps else None


class _TrackSink:
    """The recorder's sink on one layer: frames → writer, SRs of that layer's SSRC → writer."""

    def __init__(self, layer: Layer, writer: TrackWriter) -> None:
        self.layer = layer
        self.writer = writer
        self.untap = tap_sender_reports(layer.receiver, self.on_sender_report)
        layer.add_sink(self)

    def on_frame(self, layer: Layer, frame: EncodedFrame) -> None:
        try:
            self.writer.write(frame.data, frame.timestamp, frame.keyframe)
        except Exception:  # a full disk or a muxer error stops this file, never the forwarding
            logger.exception("recording %s failed; closing it", self.writer.path)
            self.close()

    def on_sender_report(self, ssrc: int, ntp: int, rtp: int) -> None:
        if ssrc == self.layer.buffer.ssrc:
            self.writer.sender_report(ntp, rtp)

    def close(self) -> None:
        self.layer.remove_sink(self)
        self.untap()
        self.writer.close()


class RoomRecorder:
    """Records every published track of ``room`` (an ``SfuRoom``) into ``directory`` until ``stop``."""

    def __init__(self, room: Any, directory: Path, *, poll: float = 0.5) -> None:
        self.room = room
        self.directory = Path(directory)
        self.poll = poll
        self.sinks: dict[tuple[str, str], _TrackSink] = {}
        self._task: asyncio.Task[Any] | None = None
        self._count = 0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sync()
        self._task = asyncio.ensure_future(self._watch())

    def sync(self) -> None:
        """Attach to tracks published since the last call (at their top layer), close the ones that went away."""
        sources = self.room.sources
        for key in [k for k in self.sinks if k not in sources]:
            self.sinks.pop(key).close()
        for key, source in sources.items():
            if key in self.sinks or not source.layers:
                continue
            layer = source.pick("high")
            if layer is None:
                continue
            self._count += 1
            meta = TrackMeta(
                participant=source.publisher,
                track=source.sid,
                kind=source.kind,
                codec=CODECS[source.kind],
                source=source.source,
            )
            stem = f"{self._count:03d}-{source.kind}-{source.sid}"
            writer = TrackWriter(self.directory, stem, meta, request_keyframe=layer.request_keyframe)
            self.sinks[key] = _TrackSink(layer, writer)
            layer.request_keyframe()  # the file starts on a keyframe: ask now rather than wait for one

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            self.sync()

    @property
    def frames(self) -> int:
        return sum(sink.writer.frames for sink in self.sinks.values())

    async def stop(self) -> None:
        """Close every file (trailer written); the recording job finalises them."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for sink in self.sinks.values():
            sink.close()
