"""A Python participant for levelchat rooms (bots, recorders, test peers, load tests), on aiortc.

    room = await join_room(token, url="https://example.org")
    room.on("track-subscribed", lambda track, publication, participant: ...)
    await room.publish_track(SyntheticVideoTrack(), source="camera")

Two layers: ``signaling`` (frames over a WebSocket, usable alone for raw-frame tests) and ``room`` + ``mesh``
(the participant API and its media). See docs/python-client.md.
"""

from django_levelchat.client.media import SyntheticVideoTrack, ToneAudioTrack, read_frame_counter
from django_levelchat.client.room import EVENTS, Participant, Room, TrackPublication, join_live, join_room
from django_levelchat.client.signaling import (
    Backoff,
    Close,
    ClosedError,
    JoinError,
    RequestError,
    Session,
    SignalingClient,
    signal_url,
)

__all__ = [
    "EVENTS",
    "Backoff",
    "Close",
    "ClosedError",
    "JoinError",
    "Participant",
    "RequestError",
    "Room",
    "Session",
    "SignalingClient",
    "SyntheticVideoTrack",
    "ToneAudioTrack",
    "TrackPublication",
    "join_live",
    "join_room",
    "read_frame_counter",
    "signal_url",
]
