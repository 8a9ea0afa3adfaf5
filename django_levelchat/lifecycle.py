"""Every state transition of rooms, participant sessions and recordings, in one place.

Transitions are conditional UPDATEs (``WHERE status IN allowed_from``), so two processes racing to end the same
room cannot both succeed, on SQLite as on PostgreSQL. Signals fire only for the transition that won.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_levelchat import signals
from django_levelchat.exceptions import IllegalTransition
from django_levelchat.models import Participant, Recording, Room

# Typed as Any: without Django's stubs mypy reads each TextChoices member as its (value, label) tuple.
S: Any = Room.Status

#: target status -> (statuses it may come from, timestamp field set on arrival)
ROOM_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    S.ACTIVE: (frozenset({S.CREATED}), "started_at"),
    S.ENDED: (frozenset({S.CREATED, S.ACTIVE}), "ended_at"),
    S.ARCHIVED: (frozenset({S.ENDED}), "archived_at"),
}

R: Any = Recording.Status
#: target status -> statuses it may come from (a recording is born ``recording``, see ``create_recording``)
RECORDING_TRANSITIONS: dict[str, frozenset[str]] = {
    R.PROCESSING: frozenset({R.RECORDING}),
    R.READY: frozenset({R.PROCESSING}),
    R.FAILED: frozenset({R.RECORDING, R.PROCESSING}),
}


def _transition_room(room: Room, target: str, **extra: object) -> bool:
    allowed_from, stamp = ROOM_TRANSITIONS[target]
    now = timezone.now()
    updated = Room.objects.filter(pk=room.pk, status__in=allowed_from).update(status=target, **{stamp: now}, **extra)
    room.refresh_from_db(fields=["status", "started_at", "ended_at", "archived_at", "end_reason"])
    if updated:
        return True
    if room.status == target:
        return False
    raise IllegalTransition(f"Room {room.public_id} cannot go from {room.status} to {target}.")


def start_room(room: Room) -> bool:
    """created → active on the first join. Idempotent: returns False if the room was already active."""
    started = _transition_room(room, S.ACTIVE)
    if started:
        transaction.on_commit(lambda: signals.room_started.send(sender=Room, room=room))
    return started


def end_room(room: Room, reason: str = "ended") -> bool:
    """created|active → ended. Idempotent on an ended room; closes every open participant session."""
    ended = _transition_room(room, S.ENDED, end_reason=reason[:64])
    if ended:
        now = timezone.now()
        Participant.objects.filter(room=room, left_at__isnull=True).update(left_at=now, leave_reason="room_ended")
        transaction.on_commit(lambda: signals.room_ended.send(sender=Room, room=room, reason=reason))
    return ended


def archive_room(room: Room) -> bool:
    """ended → archived. Idempotent on an archived room."""
    archived = _transition_room(room, S.ARCHIVED)
    if archived:
        transaction.on_commit(lambda: signals.room_archived.send(sender=Room, room=room))
    return archived


def ensure_joinable(room: Room) -> None:
    """Raise IllegalTransition unless a participant may join (created or active)."""
    room.refresh_from_db(fields=["status"])
    if not room.is_joinable:
        raise IllegalTransition(f"Room {room.public_id} is {room.status}; it cannot be joined.", code="room_ended")


def join(
    room: Room,
    identity: str,
    *,
    name: str = "",
    role: str,
    capabilities: list[str],
    metadata: dict | None = None,
    public_id: str | None = None,
) -> Participant:
    """Record a new participant session, activating the room on its first join."""
    ensure_joinable(room)
    if room.status == S.CREATED:
        start_room(room)
    fields = {"public_id": public_id} if public_id else {}
    participant = Participant.objects.create(
        room=room,
        identity=identity,
        name=name,
        role=role,
        capabilities=sorted(capabilities),
        metadata=metadata or {},
        **fields,
    )
    transaction.on_commit(lambda: signals.participant_joined.send(sender=Participant, participant=participant))
    return participant


def leave(participant: Participant, reason: str) -> bool:
    """Close a session once; returns False when it was already closed (e.g. by end_room)."""
    now = timezone.now()
    updated = Participant.objects.filter(pk=participant.pk, left_at__isnull=True).update(
        left_at=now, leave_reason=reason[:64]
    )
    participant.refresh_from_db(fields=["left_at", "leave_reason"])
    if updated:
        transaction.on_commit(
            lambda: signals.participant_left.send(sender=Participant, participant=participant, reason=reason)
        )
    return bool(updated)


def create_recording(room: Room, *, started_by: str = "", worker: str = "") -> Recording:
    """A new ``recording`` row, when the worker has started writing. One live recording per room (a unique
    constraint, so two racing starts cannot both win): a second start raises ``IllegalTransition``."""
    now = timezone.now()
    try:
        with transaction.atomic():
            recording = Recording.objects.create(
                room=room, started_by=started_by[:128], worker=worker[:64], started_at=now, heartbeat_at=now
            )
    except IntegrityError:
        raise IllegalTransition(f"Room {room.public_id} is already being recorded.", code="recording_active") from None
    transaction.on_commit(lambda: signals.recording_started.send(sender=Recording, recording=recording))
    return recording


def set_recording_status(recording: Recording, target: str, **fields: object) -> None:
    """Move a recording along recording → processing → ready, or to failed from either.

    Leaving ``recording`` stamps ``stopped_at`` and queues the finalise/compose job (``needs_processing``).
    """
    allowed_from = RECORDING_TRANSITIONS.get(target)
    if allowed_from is None:
        raise IllegalTransition(f"Unknown recording status {target!r}.")
    rows = Recording.objects.filter(pk=recording.pk)
    updated = 0
    if R.RECORDING in allowed_from:  # leaving the live state: stamp it and queue the job, atomically
        stopping = {"stopped_at": timezone.now(), "needs_processing": True, **fields}
        updated = rows.filter(status=R.RECORDING).update(status=target, **stopping)
    if not updated:
        updated = rows.filter(status__in=allowed_from - {R.RECORDING}).update(status=target, **fields)
    recording.refresh_from_db()
    if not updated:
        raise IllegalTransition(f"Recording {recording.public_id} cannot go from {recording.status} to {target}.")
    if target in (R.READY, R.FAILED):
        transaction.on_commit(lambda: signals.recording_finished.send(sender=Recording, recording=recording))
