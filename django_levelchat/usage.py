"""Usage for billing: participant sessions and participant-minutes per room, clipped to a time window.

A session counts from ``joined_at`` to ``left_at`` (an open session: to now). Inside a window ``[start, end)``
only the overlap counts, so consecutive billing periods add up to the total without counting a minute twice.
The source is the ``Participant`` rows themselves (one per session, closed by the lifecycle), so usage needs
no webhook consumer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from django_levelchat.models import Participant


def sessions_in(start: datetime | None, end: datetime | None) -> QuerySet[Participant]:
    """Sessions that overlap ``[start, end)`` (either bound may be open)."""
    sessions = Participant.objects.all()
    if end is not None:
        sessions = sessions.filter(joined_at__lt=end)
    if start is not None:
        sessions = sessions.filter(Q(left_at__isnull=True) | Q(left_at__gt=start))
    return sessions


def billed_seconds(
    session: Participant, start: datetime | None, end: datetime | None, now: datetime | None = None
) -> float:
    """Seconds of ``session`` inside ``[start, end)``; an open session runs until now."""
    finish = session.left_at or now or timezone.now()
    if end is not None:
        finish = min(finish, end)
    begin = session.joined_at if start is None else max(session.joined_at, start)
    return max(0.0, (finish - begin).total_seconds())


@dataclass
class RoomUsage:
    sessions: int = 0
    seconds: float = 0.0

    @property
    def participant_minutes(self) -> float:
        return round(self.seconds / 60, 3)


def by_room(sessions: Iterable[Participant], start: datetime | None, end: datetime | None) -> dict[int, RoomUsage]:
    """Room pk → sessions and seconds inside the window."""
    now = timezone.now()
    usage: dict[int, RoomUsage] = defaultdict(RoomUsage)
    for session in sessions:
        entry = usage[session.room_id]
        entry.sessions += 1
        entry.seconds += billed_seconds(session, start, end, now)
    return dict(usage)
