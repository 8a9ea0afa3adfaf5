"""Public Django signals, sent by ``lifecycle.py`` after the database change is committed.

Receivers get ``sender=Room`` (or ``Participant``/``Recording``) and the instance as keyword arguments:

- ``room_started(room)``, ``room_ended(room, reason)``, ``room_archived(room)``
- ``participant_joined(participant)``, ``participant_left(participant, reason)`` (also for each session that
  ``end_room`` closes, with reason ``room_ended``, before ``room_ended``)
- ``track_published(participant, track)``, ``track_unpublished(participant, track, reason)``: ``track`` is the
  wire dict (``sid``, ``kind``, ``source``, ``muted``…); ``reason`` is ``unpublished`` or ``capability_revoked``
- ``recording_started(recording)``, ``recording_finished(recording)`` (ready),
  ``recording_failed(recording)`` (failed; ``recording.partial`` when what was written is kept)

Every one of them is also a webhook event of the same name (``docs/webhooks.md``).
"""

from django.dispatch import Signal

room_started = Signal()
room_ended = Signal()
room_archived = Signal()
participant_joined = Signal()
participant_left = Signal()
track_published = Signal()
track_unpublished = Signal()
recording_started = Signal()
recording_finished = Signal()
recording_failed = Signal()
