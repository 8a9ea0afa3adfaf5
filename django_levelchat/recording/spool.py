"""The local spool: track files being written, each with a small JSON sidecar saying what it is.

Layout: ``<spool dir>/<recording id>/<file stem>.webm|.mkv`` and ``<file stem>.json``. The sidecar is replaced
atomically, so after a ``kill -9`` every file still says whose track it is and where it starts: finalising a
crashed recording reads exactly what a clean stop would.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

MEDIA_SUFFIXES = (".webm", ".mkv")


@dataclass(slots=True)
class TrackMeta:
    participant: str  # identity of the publisher
    track: str  # track sid
    kind: str  # "audio" | "video"
    codec: str  # "vp8" | "opus" | "h264"
    source: str = ""  # "camera" | "mic" | "screen" | …
    arrival: float | None = None  # Unix seconds when pts 0 arrived
    sender: float | None = None  # pts 0 on the sender's NTP clock (RTCP SR), Unix seconds
    width: int | None = None
    height: int | None = None


def recording_dir(spool: Path | str, recording_id: str) -> Path:
    return Path(spool) / recording_id


def write_meta(media_path: Path, meta: TrackMeta) -> None:
    """Replace the sidecar atomically (write, fsync, rename)."""
    target = media_path.with_suffix(".json")
    tmp = target.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(asdict(meta), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def read_meta(media_path: Path) -> TrackMeta | None:
    try:
        data = json.loads(media_path.with_suffix(".json").read_text(encoding="utf-8"))
        return TrackMeta(**data)
    except (OSError, ValueError, TypeError):
        return None


def track_files(directory: Path) -> list[tuple[Path, TrackMeta]]:
    """The media files of one recording's spool directory that have a readable sidecar, in name order."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if path.suffix in MEDIA_SUFFIXES and (meta := read_meta(path)) is not None:
            found.append((path, meta))
    return found
