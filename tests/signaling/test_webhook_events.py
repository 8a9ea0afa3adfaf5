"""The signaling consumer reports track events to the core (``lifecycle.track_published``/``track_unpublished``):
they become signals and outbox events, in order after the participant's join."""

from __future__ import annotations

from channels.db import database_sync_to_async

from django_levelchat import signals
from django_levelchat.models import WebhookEndpoint, WebhookEvent

CAMERA = {"sid": "TR_cam1", "kind": "video", "source": "camera"}
MIC = {"sid": "TR_mic1", "kind": "audio", "source": "microphone"}


@database_sync_to_async
def subscribe() -> None:
    hook = WebhookEndpoint(url="http://127.0.0.1:9/hook")
    hook.set_new_secret()
    hook.save()


@database_sync_to_async
def events(room_id: str) -> list[tuple[str, dict]]:
    return [(e.type, e.payload) for e in WebhookEvent.objects.filter(room_key=room_id).order_by("pk")]


async def test_published_and_unpublished_tracks_are_events(client_for, signal_room, levelchat_settings):
    levelchat_settings(WEBHOOK_IN_PROCESS=False)
    await subscribe()
    received = []

    def on_track(sender, **kwargs):
        received.append(kwargs)

    signals.track_published.connect(on_track)
    signals.track_unpublished.connect(on_track)
    try:
        alice, bob = client_for("alice"), client_for("bob", capabilities=["subscribe:all"])
        await alice.join()
        await bob.join()
        assert (await alice.request({"type": "publish", "track": CAMERA}))["type"] == "ack"
        assert (await alice.request({"type": "publish", "track": MIC}))["type"] == "ack"
        await alice.request({"type": "unpublish", "track": "TR_cam1"})
        assert (await bob.recv("track-unpublished"))["track"] == "TR_cam1"
        await alice.request({"type": "unpublish", "track": "TR_nope"})  # an error frame, no event
        await alice.disconnect()
        await bob.disconnect()
    finally:
        signals.track_published.disconnect(on_track)
        signals.track_unpublished.disconnect(on_track)
    got = await events(signal_room.public_id)
    types = [t for t, _ in got]
    assert types[:5] == [
        "room_started",
        "participant_joined",
        "participant_joined",
        "track_published",
        "track_published",
    ]
    assert types[5] == "track_unpublished" and types.count("track_unpublished") == 1
    published, unpublished = got[3][1], got[5][1]
    assert published["participant"]["id"] == alice.id and published["track"]["sid"] == "TR_cam1"
    assert published["track"]["kind"] == "video" and published["track"]["source"] == "camera"
    assert unpublished["track"]["sid"] == "TR_cam1" and unpublished["reason"] == "unpublished"
    assert [k["track"]["sid"] for k in received] == ["TR_cam1", "TR_mic1", "TR_cam1"]
    assert received[2]["reason"] == "unpublished" and received[0]["participant"].identity == "alice"
