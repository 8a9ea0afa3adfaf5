"""Connects model and lifecycle signals to live sockets, over the channel layer only.

- A room ends anywhere: its sockets are told and closed.
- A room's capability policy changes (REST ``PATCH /rooms/{id}``, the admin, your own code), or a policy's roles
  change: every live session of the affected rooms recomputes its effective capabilities (token ∩ ceiling).
- A live participant's role or capabilities are edited (admin, your own code): that session recomputes them.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_save, pre_delete

from django_levelchat import signals
from django_levelchat.models import CapabilityPolicy, Participant, Room
from django_levelchat.signaling import rooms

logger = logging.getLogger("django_levelchat.signaling")


def close_ended_room(sender: Any, room: Room, reason: str, **kwargs: Any) -> None:
    if get_channel_layer() is None:
        return
    try:
        async_to_sync(rooms.end_room_live)(room.public_id, reason)
    except Exception:
        logger.exception("could not close the sockets of ended room %s", room.public_id)


def _after_commit(action: Any, *args: Any) -> None:
    """Run a live action once the change is committed (sockets re-read the database), never failing the save."""

    def run() -> None:
        if get_channel_layer() is None:
            return
        try:
            async_to_sync(action)(*args)
        except Exception:
            logger.exception("could not tell live sockets about a capability change")

    transaction.on_commit(run)


async def _policy_changed(room_ids: list[str]) -> None:
    for room_id in room_ids:
        await rooms.policy_changed(room_id)


def room_saved(sender: Any, instance: Room, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or (update_fields is not None and "policy" not in update_fields) or not instance.is_joinable:
        return
    _after_commit(_policy_changed, [instance.public_id])


def policy_saved(sender: Any, instance: CapabilityPolicy, using: str | None = None, **kwargs: Any) -> None:
    # The database the policy was saved to (a second alias, e.g. a sharded or test database), not the default.
    rooms_db = Room.objects.using(using or instance._state.db)
    live = rooms_db.filter(policy=instance, status__in=[Room.Status.CREATED, Room.Status.ACTIVE])
    room_ids = list(live.values_list("public_id", flat=True))
    if room_ids:
        _after_commit(_policy_changed, room_ids)


def participant_saved(sender: Any, instance: Participant, created: bool, **kwargs: Any) -> None:
    if created or not instance.is_live:
        return
    _after_commit(
        rooms.grant_changed, instance.room.public_id, instance.public_id, instance.role, list(instance.capabilities)
    )


def connect() -> None:
    signals.room_ended.connect(close_ended_room, dispatch_uid="levelchat.close_ended_room")
    post_save.connect(room_saved, sender=Room, dispatch_uid="levelchat.room_saved")
    post_save.connect(policy_saved, sender=CapabilityPolicy, dispatch_uid="levelchat.policy_saved")
    pre_delete.connect(policy_saved, sender=CapabilityPolicy, dispatch_uid="levelchat.policy_deleted")
    post_save.connect(participant_saved, sender=Participant, dispatch_uid="levelchat.participant_saved")
