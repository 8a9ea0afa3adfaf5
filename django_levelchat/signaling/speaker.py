"""Dominant-speaker detection from the audio levels clients report while they speak.

Each client reports its own mic level (0..1) up to 10 times a second, only while above its local speaking
threshold. The owning consumer smooths them (``LevelSmoother``); the room decides with ``choose_dominant``,
with hysteresis so the highlight does not flap between two people talking over each other. The constants
start from LiveKit's defaults: a 500 ms observation window in which a speaker must be active for ~40 %, and
smoothing over ~4 windows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

LEVEL_THRESHOLD = 0.05  # below this a report counts as silence
WINDOW = 0.5  # seconds observed
REPORT_RATE = 10  # reports per second the SDK sends while speaking
ACTIVE_RATIO = 0.4  # share of the window with reports above threshold to count as speaking
SMOOTHING = 4  # the smoothed level moves 1/SMOOTHING of the way on each report
SILENCE_AFTER = 0.8  # seconds without a report after which a speaker is silent
SWITCH_MARGIN = 1.25  # a challenger must be this much louder than the current speaker to take over


class LevelSmoother:
    """Smooths one participant's reported levels; ``observe`` returns the level to publish (0 when not active)."""

    def __init__(self) -> None:
        self.samples: deque[float] = deque()
        self.smoothed = 0.0

    def observe(self, level: float, now: float) -> float:
        self.samples.append(now if level >= LEVEL_THRESHOLD else -now)
        while self.samples and abs(self.samples[0]) < now - WINDOW:
            self.samples.popleft()
        loud = sum(1 for ts in self.samples if ts > 0)
        active = loud >= ACTIVE_RATIO * WINDOW * REPORT_RATE
        target = level if active else 0.0
        self.smoothed += (target - self.smoothed) / SMOOTHING
        return self.smoothed if active else 0.0


def choose_dominant(states: Mapping[str, tuple[float, float]], current: str | None, now: float) -> str | None:
    """The dominant speaker from ``{pid: (smoothed level, last report time)}``, or None when nobody speaks."""
    speaking = {
        pid: level for pid, (level, at) in states.items() if level >= LEVEL_THRESHOLD and now - at <= SILENCE_AFTER
    }
    if not speaking:
        return None
    best = max(speaking, key=lambda pid: (speaking[pid], pid))
    if current in speaking and best != current and speaking[best] < speaking[current] * SWITCH_MARGIN:
        return current
    return best
