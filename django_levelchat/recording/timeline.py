"""Timestamps of recorded tracks: RTP wraparound, and where each file starts on the call's timeline.

Nothing here knows about Django or aiortc: the writer feeds it RTP timestamps and RTCP sender reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)


def ntp_to_unix(ntp_timestamp: int) -> float:
    """A 64-bit NTP timestamp (RTCP SR) in Unix seconds."""
    return (ntp_timestamp >> 32) - NTP_EPOCH_OFFSET + (ntp_timestamp & 0xFFFFFFFF) / 2**32


class RtpUnwrapper:
    """Extends 32-bit RTP timestamps to a monotonic-ish int across wraparound.

    Accepts already-extended (64-bit) timestamps too: only the low 32 bits are read, so the SFU's own unwrapping
    and ours agree. A step backwards (reordering) is returned as such; the writer clamps it.
    """

    MOD = 1 << 32
    HALF = 1 << 31

    def __init__(self) -> None:
        self.last: int | None = None

    def __call__(self, timestamp: int) -> int:
        timestamp %= self.MOD
        if self.last is None:
            self.last = timestamp
            return timestamp
        delta = (timestamp - self.last) % self.MOD
        if delta >= self.HALF:
            delta -= self.MOD
        extended = self.last + delta
        if delta > 0:
            self.last = extended
        return extended


@dataclass(frozen=True, slots=True)
class TrackStart:
    """Where a track file's pts 0 lies: our wall clock at arrival, and the sender's NTP clock if it sent an SR."""

    key: str  # the file's name
    group: str  # files that share a sender clock (one participant)
    arrival: float  # Unix seconds when its first packet reached us
    sender: float | None  # Unix seconds on the sender's NTP clock (RTCP SR), when known


def align(starts: Iterable[TrackStart]) -> dict[str, float]:
    """Offset in seconds of each file from the earliest one.

    Within one group (one participant's audio and video) files are placed by the sender's clock when every one
    of them has an SR mapping, which keeps lip sync exact whatever the network did to the first packets; the
    group is anchored at its earliest arrival. Across groups only our own clock is comparable.
    """
    groups: dict[str, list[TrackStart]] = {}
    for start in starts:
        groups.setdefault(start.group, []).append(start)
    placed: dict[str, float] = {}
    for members in groups.values():
        anchor = min(s.arrival for s in members)
        if all(s.sender is not None for s in members):
            first = min(s.sender for s in members if s.sender is not None)
            for s in members:
                placed[s.key] = anchor + (s.sender or 0.0) - first
        else:
            for s in members:
                placed[s.key] = s.arrival
    if not placed:
        return {}
    origin = min(placed.values())
    return {key: value - origin for key, value in placed.items()}
