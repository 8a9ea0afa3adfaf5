"""Turn a spooled live file into a seekable one: remux with codec copy (cues, duration), never re-encode.

A file cut off by a crash is read up to its last whole packet; what follows is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av

logger = logging.getLogger("django_levelchat.recording")


@dataclass(frozen=True, slots=True)
class Remuxed:
    path: Path
    duration: float  # seconds
    packets: int
    truncated: bool  # the source ended in the middle of a packet (a crash)


def remux(source: Path, target: Path) -> Remuxed:
    """Copy every packet of ``source`` into a fresh, non-live ``target`` of the same container format."""
    truncated = False
    packets = 0
    with av.open(str(source)) as src:
        fmt = "webm" if source.suffix == ".webm" else "matroska"
        with av.open(str(target), "w", format=fmt) as dst:
            mapping = {s.index: dst.add_stream_from_template(s) for s in src.streams if s.type in ("audio", "video")}
            try:
                for packet in src.demux(*[s for s in src.streams if s.index in mapping]):
                    if packet.dts is None:
                        continue  # the demuxer's end-of-stream marker
                    packet.stream = mapping[packet.stream_index]
                    dst.mux(packet)
                    packets += 1
            except (av.error.InvalidDataError, av.error.EOFError) as exc:
                truncated = True
                logger.info("%s ends mid-packet (%s); kept %d packets", source.name, exc, packets)
    return Remuxed(path=target, duration=probe_duration(target), packets=packets, truncated=truncated)


def probe_duration(path: Path) -> float:
    """Seconds of media in a finished file (0.0 for an empty or unreadable one)."""
    try:
        with av.open(str(path)) as container:
            if container.duration:
                return container.duration / 1_000_000
    except av.error.FFmpegError:
        return 0.0
    return 0.0
