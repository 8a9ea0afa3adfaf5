"""The outbox: an event row plus one delivery row per subscribed endpoint, written in the caller's transaction.

``record`` must run inside the ``transaction.atomic`` block that makes the state change it reports (see
``lifecycle.py``), so an event exists exactly when its change was committed. Nothing is written when no active
endpoint wants the event type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_levelchat.models import (
    Participant,
    Recording,
    Room,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def room_data(room: Room) -> dict[str, Any]:
    return {
        "id": room.public_id,
        "name": room.name,
        "room_type": room.room_type,
        "status": room.status,
        "metadata": room.metadata,
        "created_at": _iso(room.created_at),
        "started_at": _iso(room.started_at),
        "ended_at": _iso(room.ended_at),
        "end_reason": room.end_reason,
    }


def participant_data(participant: Participant) -> dict[str, Any]:
    return {
        "id": participant.public_id,
        "identity": participant.identity,
        "name": participant.name,
        "role": participant.role,
        "metadata": participant.metadata,
        "joined_at": _iso(participant.joined_at),
        "left_at": _iso(participant.left_at),
        "leave_reason": participant.leave_reason,
        "duration": participant.duration,
    }


def recording_data(recording: Recording) -> dict[str, Any]:
    return {
        "id": recording.public_id,
        "status": recording.status,
        "partial": recording.partial,
        "started_at": _iso(recording.started_at),
        "stopped_at": _iso(recording.stopped_at),
        "duration": recording.duration,
        "size": recording.size,
        "error": recording.error,
    }


def record(
    event_type: str,
    room: Room,
    *,
    participant: Participant | None = None,
    track: dict[str, Any] | None = None,
    recording: Recording | None = None,
    reason: str | None = None,
) -> WebhookEvent | None:
    """Queue ``event_type`` for every active endpoint that wants it; returns the event (None if nobody does)."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(is_active=True).only("pk", "events") if e.wants(event_type)]
    if not endpoints:
        return None
    now = timezone.now()
    event = WebhookEvent(type=event_type, room_key=room.public_id, created_at=now)
    event.payload = {
        "id": event.public_id,
        "type": event_type,
        "created_at": _iso(now),
        "room": room_data(room),
        "participant": participant_data(participant) if participant is not None else None,
        "track": track,
        "recording": recording_data(recording) if recording is not None else None,
        "reason": reason,
    }
    event.save()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, endpoint=endpoint, room_key=room.public_id, next_attempt_at=now, created_at=now)
        for endpoint in endpoints
    )
    from django_levelchat.webhooks import inprocess

    transaction.on_commit(inprocess.notify)
    return event
