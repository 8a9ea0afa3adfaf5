import pytest

from django_levelchat import lifecycle, signals
from django_levelchat.exceptions import IllegalTransition
from django_levelchat.models import Participant, Room


@pytest.fixture
def received():
    events = []
    handlers = {}
    for name in (
        "room_started",
        "room_ended",
        "room_archived",
        "participant_joined",
        "participant_left",
        "recording_started",
        "recording_finished",
        "recording_failed",
    ):

        def handler(sender, _name=name, **kwargs):
            events.append((_name, kwargs))

        handlers[name] = handler
        getattr(signals, name).connect(handler)
    yield events
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def test_public_ids_are_random_prefixed_strings(room):
    other = Room.objects.create(name="x")
    assert room.public_id.startswith("RM_") and len(room.public_id) == 23
    assert room.public_id != other.public_id
    assert not room.public_id[3:].isdigit()


@pytest.mark.django_db(transaction=True)
def test_full_lifecycle_with_timestamps_and_signals(received):
    room = Room.objects.create(name="r")
    assert room.status == "created" and room.started_at is None
    p = lifecycle.join(room, "alice", name="Alice", role="participant", capabilities=["chat:send"])
    assert room.status == "active" and room.started_at is not None
    assert p.public_id.startswith("PA_") and p.is_live
    assert lifecycle.leave(p, "client_initiated")
    assert not lifecycle.leave(p, "again"), "a session closes once"
    assert p.leave_reason == "client_initiated" and p.left_at is not None
    assert lifecycle.end_room(room, "empty_timeout")
    assert room.status == "ended" and room.ended_at and room.end_reason == "empty_timeout"
    assert lifecycle.archive_room(room)
    assert room.status == "archived" and room.archived_at
    names = [name for name, _ in received]
    assert names == ["room_started", "participant_joined", "participant_left", "room_ended", "room_archived"]
    assert received[2][1]["reason"] == "client_initiated"
    assert received[3][1]["reason"] == "empty_timeout"


def test_start_is_idempotent(room):
    assert lifecycle.start_room(room)
    assert not lifecycle.start_room(room)


def test_created_room_can_end_directly(room):
    assert lifecycle.end_room(room)
    assert room.status == "ended" and room.started_at is None


@pytest.mark.parametrize(
    ("setup", "step"),
    [
        (["end"], "start"),
        (["end", "archive"], "start"),
        (["end", "archive"], "end"),
        ([], "archive"),
        (["start"], "archive"),
    ],
)
def test_illegal_transitions_raise(room, setup, step):
    steps = {"start": lifecycle.start_room, "end": lifecycle.end_room, "archive": lifecycle.archive_room}
    for s in setup:
        steps[s](room)
    before = room.status
    with pytest.raises(IllegalTransition) as exc:
        steps[step](room)
    assert exc.value.code == "illegal_transition"
    room.refresh_from_db()
    assert room.status == before


def test_repeat_end_and_archive_are_idempotent(room):
    assert lifecycle.end_room(room)
    assert not lifecycle.end_room(room)
    assert lifecycle.archive_room(room)
    assert not lifecycle.archive_room(room)


def test_join_refused_on_ended_room(room):
    lifecycle.end_room(room)
    with pytest.raises(IllegalTransition) as exc:
        lifecycle.join(room, "late", role="participant", capabilities=[])
    assert exc.value.code == "room_ended"
    assert not Participant.objects.exists()


def test_end_room_closes_open_sessions(room):
    a = lifecycle.join(room, "a", role="participant", capabilities=[])
    lifecycle.end_room(room)
    a.refresh_from_db()
    assert a.left_at is not None and a.leave_reason == "room_ended"


def test_each_join_is_a_session_row_sorted_by_id(room):
    first = lifecycle.join(room, "a", role="participant", capabilities=[])
    second = lifecycle.join(room, "a", role="participant", capabilities=[])
    assert first.public_id != second.public_id
    assert Participant.objects.filter(room=room, identity="a").count() == 2


@pytest.mark.django_db(transaction=True)
def test_recording_transitions(received):
    room = Room.objects.create(name="r")
    rec = lifecycle.create_recording(room, started_by="api:lc_pk_x", worker="w1")
    assert rec.status == "recording" and rec.started_at and rec.heartbeat_at and rec.worker == "w1"
    with pytest.raises(IllegalTransition) as busy:
        lifecycle.create_recording(room)
    assert busy.value.code == "recording_active", "one live recording per room"
    lifecycle.set_recording_status(rec, "processing")
    assert rec.stopped_at and rec.needs_processing
    with pytest.raises(IllegalTransition):
        lifecycle.set_recording_status(rec, "recording")
    lifecycle.set_recording_status(rec, "ready", duration=12.5, size=1024, needs_processing=False)
    assert rec.status == "ready" and rec.duration == 12.5
    with pytest.raises(IllegalTransition):
        lifecycle.set_recording_status(rec, "failed")
    with pytest.raises(IllegalTransition):
        lifecycle.set_recording_status(rec, "bogus")
    second = lifecycle.create_recording(room)  # the room is free again
    lifecycle.set_recording_status(second, "failed", partial=True, error="worker died")
    assert second.needs_processing and second.partial and second.stopped_at
    assert [n for n, _ in received] == [
        "recording_started",
        "recording_finished",
        "recording_started",
        "recording_failed",
    ]
