"""Every state transition of rooms, participant sessions and recordings, in one place.

Transitions are conditional UPDATEs (``WHERE status IN allowed_from``), so two processes racing to end the same
room cannot both succeed, on SQLite as on PostgreSQL. Signals fire only for the transition that won, after
commit; the webhook event of a transition is written in the same transaction (``webhooks.outbox``), so an event
exists exactly when its change does. Track events come from the signaling layer through ``track_published`` and
``track_unpublished`` here (the core never imports the transport).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from django_levelchat import signals
from django_levelchat.exceptions import IllegalTransition
from django_levelchat.models import Participant, Recording, Room
from django_levelchat.models import WebhookEventType as E
from django_levelchat.webhooks import outbox

logger = logging.getLogger("django_levelchat")

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


ROOM_ENDED = "room_ended"


def _send_left(participant: Participant, reason: str) -> Any:
    return lambda: signals.participant_left.send(sender=Participant, participant=participant, reason=reason)


def start_room(room: Room) -> bool:
    """created → active on the first join. Idempotent: returns False if the room was already active."""
    with transaction.atomic():
        started = _transition_room(room, S.ACTIVE)
        if started:
            outbox.record(E.ROOM_STARTED, room)
            transaction.on_commit(lambda: signals.room_started.send(sender=Room, room=room))
    return started


def end_room(room: Room, reason: str = "ended") -> bool:
    """created|active → ended. Idempotent on an ended room; closes every open session (``participant_left``)."""
    with transaction.atomic():
        ended = _transition_room(room, S.ENDED, end_reason=reason[:64])
        if ended:
            now = timezone.now()
            # Locked (PostgreSQL) after the room UPDATE (which holds SQLite's write lock): a concurrent leave of
            # one of these sessions waits, then finds it closed, so each session gets exactly one left event.
            open_sessions = list(Participant.objects.select_for_update().filter(room=room, left_at__isnull=True))
            Participant.objects.filter(pk__in=[p.pk for p in open_sessions]).update(
                left_at=now, leave_reason=ROOM_ENDED
            )
            for participant in open_sessions:
                participant.left_at, participant.leave_reason = now, ROOM_ENDED
                outbox.record(E.PARTICIPANT_LEFT, room, participant=participant, reason=ROOM_ENDED)
                transaction.on_commit(_send_left(participant, ROOM_ENDED))
            outbox.record(E.ROOM_ENDED, room, reason=reason)
            transaction.on_commit(lambda: signals.room_ended.send(sender=Room, room=room, reason=reason))
    return ended


def archive_room(room: Room) -> bool:
    """ended → archived. Idempotent on an archived room."""
    with transaction.atomic():
        archived = _transition_room(room, S.ARCHIVED)
        if archived:
            outbox.record(E.ROOM_ARCHIVED, room)
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
    with transaction.atomic():
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
        outbox.record(E.PARTICIPANT_JOINED, room, participant=participant)
        transaction.on_commit(lambda: signals.participant_joined.send(sender=Participant, participant=participant))
    return participant


def leave(participant: Participant, reason: str) -> bool:
    """Close a session once; returns False when it was already closed (e.g. by end_room)."""
    with transaction.atomic():
        now = timezone.now()
        updated = Participant.objects.filter(pk=participant.pk, left_at__isnull=True).update(
            left_at=now, leave_reason=reason[:64]
        )
        participant.refresh_from_db(fields=["left_at", "leave_reason"])
        if updated:
            outbox.record(E.PARTICIPANT_LEFT, participant.room, participant=participant, reason=reason)
            transaction.on_commit(_send_left(participant, reason))
    return bool(updated)


def _track_event(room: Room, participant_id: str, track: dict[str, Any], reason: str | None) -> None:
    event, signal = (
        (E.TRACK_UNPUBLISHED, signals.track_unpublished) if reason else (E.TRACK_PUBLISHED, signals.track_published)
    )
    extra = {"reason": reason} if reason else {}
    try:
        with transaction.atomic():
            participant = Participant.objects.filter(public_id=participant_id, room=room).first()
            if participant is None:
                return
            outbox.record(event, room, participant=participant, track=dict(track), reason=reason)
            transaction.on_commit(
                lambda: signal.send(sender=Participant, participant=participant, track=track, **extra)
            )
    except DatabaseError:
        # Signaling goes on without the database; the event is lost and said so.
        logger.exception("could not record %s of %s in %s", event, participant_id, room.public_id)


def track_published(room: Room, participant_id: str, track: dict[str, Any]) -> None:
    """The signaling layer saw ``participant_id`` publish ``track`` (wire dict): signal + webhook event."""
    _track_event(room, participant_id, track, None)


def track_unpublished(room: Room, participant_id: str, track: dict[str, Any], reason: str = "unpublished") -> None:
    """The track is gone (``unpublished`` by its owner, or ``capability_revoked``): signal + webhook event."""
    _track_event(room, participant_id, track, reason)


def create_recording(room: Room, *, started_by: str = "", worker: str = "") -> Recording:
    """A new ``recording`` row, when the worker has started writing. One live recording per room (a unique
    constraint, so two racing starts cannot both win): a second start raises ``IllegalTransition``."""
    now = timezone.now()
    try:
        with transaction.atomic():
            recording = Recording.objects.create(
                room=room, started_by=started_by[:128], worker=worker[:64], started_at=now, heartbeat_at=now
            )
            outbox.record(E.RECORDING_STARTED, room, recording=recording)
    except IntegrityError:
        raise IllegalTransition(f"Room {room.public_id} is already being recorded.", code="recording_active") from None
    transaction.on_commit(lambda: signals.recording_started.send(sender=Recording, recording=recording))
    transaction.on_commit(_wake_recording_jobs)
    return recording


def set_recording_status(recording: Recording, target: str, **fields: object) -> None:
    """Move a recording along recording → processing → ready, or to failed from either.

    Leaving ``recording`` stamps ``stopped_at`` and queues the finalise/compose job (``needs_processing``).
    """
    allowed_from = RECORDING_TRANSITIONS.get(target)
    if allowed_from is None:
        raise IllegalTransition(f"Unknown recording status {target!r}.")
    rows = Recording.objects.filter(pk=recording.pk)
    with transaction.atomic():
        updated = 0
        if R.RECORDING in allowed_from:  # leaving the live state: stamp it and queue the job, atomically
            stopping = {"stopped_at": timezone.now(), "needs_processing": True, **fields}
            updated = rows.filter(status=R.RECORDING).update(status=target, **stopping)
        if not updated:
            updated = rows.filter(status__in=allowed_from - {R.RECORDING}).update(status=target, **fields)
        recording.refresh_from_db()
        if not updated:
            raise IllegalTransition(f"Recording {recording.public_id} cannot go from {recording.status} to {target}.")
        announced = RECORDING_EVENTS.get(target)
        if announced is not None:
            event, signal = announced
            outbox.record(event, recording.room, recording=recording, reason=recording.error or None)
            transaction.on_commit(lambda: signal.send(sender=Recording, recording=recording))
        if recording.needs_processing:
            transaction.on_commit(_wake_recording_jobs)


def _wake_recording_jobs() -> None:
    from django_levelchat.recording import runner  # local: the runner is optional machinery, not the core

    runner.notify()


#: recording status reached → (webhook event, signal); ``recording_started`` is sent by ``create_recording``
RECORDING_EVENTS = {
    R.READY: (E.RECORDING_FINISHED, signals.recording_finished),
    R.FAILED: (E.RECORDING_FAILED, signals.recording_failed),
}
