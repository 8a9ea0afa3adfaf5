"""Connects lifecycle signals to live sockets: when a room ends anywhere, its sockets are told and closed."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from django_levelchat import signals
from django_levelchat.models import Room
from django_levelchat.signaling import rooms

logger = logging.getLogger("django_levelchat.signaling")


def close_ended_room(sender: Any, room: Room, reason: str, **kwargs: Any) -> None:
    if get_channel_layer() is None:
        return
    try:
        async_to_sync(rooms.end_room_live)(room.public_id, reason)
    except Exception:
        logger.exception("could not close the sockets of ended room %s", room.public_id)


def connect() -> None:
    signals.room_ended.connect(close_ended_room, dispatch_uid="levelchat.close_ended_room")
