"""Public Django signals, sent by ``lifecycle.py`` after the database change is saved.

Receivers get ``sender=Room`` (or ``Participant``/``Recording``) and the instance as keyword arguments:

- ``room_started(room)``, ``room_ended(room, reason)``, ``room_archived(room)``
- ``participant_joined(participant)``, ``participant_left(participant, reason)``
- ``recording_started(recording)``, ``recording_finished(recording)``
"""

from django.dispatch import Signal

room_started = Signal()
room_ended = Signal()
room_archived = Signal()
participant_joined = Signal()
participant_left = Signal()
recording_started = Signal()
recording_finished = Signal()
