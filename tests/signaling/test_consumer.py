"""The signaling consumer in-process: handshake, presence, relay, tracks, chat, moderation, lifecycle, resume."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from asgiref.sync import sync_to_async

from django_levelchat import lifecycle, protocol
from django_levelchat.models import Participant, Room
from django_levelchat.signaling import control
from tests.signaling.conftest import WAIT, Client

pytestmark = pytest.mark.django_db(transaction=True)

OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n"
SEND_VIDEO = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n"
CAMERA = {"sid": "TR_cam1", "kind": "video", "source": "camera"}


async def test_welcome_and_roster(client_for, signal_room):
    alice = client_for("alice", name="Alice")
    welcome = await alice.join()
    assert welcome["protocol"] == 1
    assert welcome["you"]["identity"] == "alice" and welcome["you"]["name"] == "Alice"
    assert welcome["you"]["id"].startswith("PA_")
    assert "publish:*" in welcome["you"]["capabilities"]
    assert welcome["room"]["id"] == signal_room.public_id and welcome["room"]["status"] == "active"
    assert welcome["roster"] == [] and welcome["chat"] == []
    assert welcome["ice_servers"] == [] and welcome["ping_interval"] > 0 and welcome["ping_timeout"] > 0
    assert welcome["resume"]["session"] == welcome["you"]["id"] and welcome["resume"]["credential"]

    bob = client_for("bob")
    bob_welcome = await bob.join()
    assert [p["identity"] for p in bob_welcome["roster"]] == ["alice"]
    joined = await alice.recv("participant-joined")
    assert joined["participant"]["identity"] == "bob" and joined["seq"] > welcome["seq"]
    assert alice.id < bob.id, "ids sort by join order: the lower id offers"
    await sync_to_async(signal_room.refresh_from_db)()
    assert signal_room.status == "active"
    assert await sync_to_async(Participant.objects.filter(room=signal_room, left_at__isnull=True).count)() == 2


async def test_subprotocol_echo_is_only_levelchat(client_for):
    alice = client_for("alice")
    connected, subprotocol = await alice.connect()
    assert connected and subprotocol == "levelchat.v1"
    await alice.disconnect()


async def test_token_in_query_and_in_hello(token_for):
    by_query = Client(token_for("q"), query=True)
    assert (await by_query.join())["you"]["identity"] == "q"
    by_hello = Client(None)
    assert (await by_hello.join(token=token_for("h")))["you"]["identity"] == "h"


async def test_leave_broadcasts_and_closes_session(client_for, signal_room):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.recv("participant-joined")
    assert (await bob.request({"type": "leave"}))["type"] == "ack"
    assert (await bob.closed())["code"] == 1000
    left = await alice.recv("participant-left")
    assert left["participant"]["id"] == bob.id and left["reason"] == "client_initiated"
    session = await sync_to_async(Participant.objects.get)(public_id=bob.id)
    assert session.left_at is not None and session.leave_reason == "client_initiated"


async def test_clean_client_close_is_a_leave(client_for):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await bob.disconnect(1000)
    left = await alice.recv("participant-left")
    assert left["reason"] == "client_initiated"


async def test_signal_relay_stamps_from_and_stays_in_room(client_for, token_for, signal_room):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    other_room = await sync_to_async(Room.objects.create)(name="elsewhere")
    carol = Client(token_for("carol", room=other_room))
    await carol.join()
    await alice.drain()
    reply = await alice.request(
        {"type": "signal", "to": bob.id, "from": carol.id, "description": {"type": "offer", "sdp": OFFER}}
    )
    assert reply["type"] == "ack"
    relayed = await bob.recv("signal")
    assert relayed["from"] == alice.id and relayed["description"]["sdp"] == OFFER
    cand = {"candidate": "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    await alice.request({"type": "signal", "to": bob.id, "candidate": cand})
    assert (await bob.recv("signal"))["candidate"]["candidate"] == cand["candidate"]
    reply = await alice.request({"type": "signal", "to": carol.id, "candidate": cand})
    assert reply["code"] == "unknown_participant"
    assert await carol.nothing()


async def test_publish_unpublish_mute_fan_out(client_for):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    assert (await alice.request({"type": "publish", "track": CAMERA}))["type"] == "ack"
    published = await bob.recv("track-published")
    assert published["participant"] == alice.id and published["track"]["sid"] == "TR_cam1"
    carol = client_for("carol")
    roster = (await carol.join())["roster"]
    assert next(p for p in roster if p["id"] == alice.id)["tracks"][0]["sid"] == "TR_cam1"
    await alice.request({"type": "mute", "track": "TR_cam1", "muted": True})
    muted = await bob.recv("track-muted")
    assert muted["muted"] is True and muted["track"] == "TR_cam1"
    assert (await alice.request({"type": "publish", "track": CAMERA}))["code"] == "bad_request"
    assert (await alice.request({"type": "unpublish", "track": "TR_nope"}))["code"] == "unknown_track"
    await alice.request({"type": "unpublish", "track": "TR_cam1"})
    assert (await bob.recv("track-unpublished"))["track"] == "TR_cam1"


async def test_chat_history_private_and_reactions(client_for):
    alice, bob = client_for("alice", name="Alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    reply = await alice.request({"type": "chat", "text": "hello <b>all</b>", "from": "mallory"})
    assert reply["type"] == "ack" and reply["id"].startswith("CM_") and reply["ts"] > 0
    message = await bob.recv("chat-message")
    assert message["text"] == "hello <b>all</b>" and message["from"]["id"] == alice.id
    assert message["from"]["name"] == "Alice" and message["to"] is None and message["ts"] > 0
    assert (await alice.recv("chat-message"))["id"] == message["id"], "the sender gets its own message too"
    await bob.request({"type": "chat", "text": "psst", "to": alice.id})
    private = await alice.recv("chat-message")
    assert private["to"] == alice.id and "seq" not in private
    carol = client_for("carol")
    history = (await carol.join())["chat"]
    assert [m["text"] for m in history] == ["hello <b>all</b>"], "private messages are not replayed"
    await bob.send({"type": "reaction", "emoji": "👍"})
    reaction = await alice.recv("reaction")
    assert reaction["emoji"] == "👍" and reaction["from"]["id"] == bob.id


async def test_welcome_with_a_full_history_of_long_chats_fits_one_frame(client_for, settings):
    """50 messages of 2,000 characters (~100 KB of history, 3-byte characters: ~300 KB) would overflow the documented
    frame limit: the welcome carries the newest that fit, in order, and stays within MAX_FRAME_BYTES."""
    limits = {"CHAT_RATE": 1000, "CHAT_BURST": 1000, "RATE_LIMIT_BURST": 1000}  # 51 frames back to back
    settings.LEVELCHAT = {**settings.LEVELCHAT, **limits}
    alice = client_for("alice")
    await alice.join()
    texts = [f"{i:03d}" + ("€" if i % 2 else "x") * (protocol.MAX_CHAT_LEN - 3) for i in range(50)]
    for text in texts:
        assert (await alice.request({"type": "chat", "text": text}, timeout=WAIT))["type"] == "ack"
    bob = client_for("bob")
    await bob.connect()
    await bob.send({"type": "hello", "protocol": 1})
    raw = await bob.channel.receive(WAIT)
    assert isinstance(raw, str) and len(raw.encode()) <= protocol.MAX_FRAME_BYTES
    history = [m["text"] for m in protocol.parse_server_frame(raw)["chat"]]
    assert 5 < len(history) < 50 and history == texts[-len(history) :], "the newest messages, oldest first"
    snapshot = await bob.request({"type": "resync"}, timeout=WAIT)
    assert len(protocol.encode(snapshot).encode()) <= protocol.MAX_FRAME_BYTES


async def test_raise_hand_is_in_the_roster_and_a_host_lowers_it(client_for):
    host, bob = client_for("host", role="host"), client_for("bob")
    await host.join()
    await bob.join()
    await host.drain()
    assert (await bob.request({"type": "hand", "raised": True}))["type"] == "ack"
    raised = await host.recv("participant-updated")
    assert raised["participant"]["id"] == bob.id and raised["participant"]["hand"] > 0
    carol = client_for("carol")
    roster = {p["identity"]: p for p in (await carol.join())["roster"]}
    assert roster["bob"]["hand"] == raised["participant"]["hand"] and "hand" not in roster["host"]
    # Only your own hand goes up; lowering someone else's needs room:admin.
    bad = await bob.request({"type": "hand", "raised": True, "participant": host.id})
    assert bad["code"] == "bad_request" and bad["field"] == "raised"
    refused = await carol.request({"type": "hand", "raised": False, "participant": bob.id})
    assert refused["code"] == "forbidden"
    assert (await host.request({"type": "hand", "raised": False, "participant": bob.id}))["type"] == "ack"
    lowered = await carol.recv("participant-updated")
    assert lowered["participant"] == {"id": bob.id, "hand": None}
    late = client_for("dave")
    assert all("hand" not in p for p in (await late.join())["roster"])


async def test_unknown_type_and_bad_frames_keep_socket_up(client_for):
    alice = client_for("alice")
    await alice.join()
    for bad, code in [
        ("{not json", "bad_json"),
        ("[]", "bad_json"),
        ('{"type": "bogus"}', "unknown_type"),
        ('{"type": "chat"}', "bad_request"),
        ("[" * 5000 + "]" * 5000, "bad_json"),
    ]:
        await alice.send(bad)
        assert (await alice.recv("error"))["code"] == code
    await alice.send({"type": "ping", "ts": 5})
    assert (await alice.recv("pong"))["ts"] == 5


async def test_signal_before_hello_and_second_hello(client_for):
    alice = client_for("alice")
    await alice.connect()
    await alice.send({"type": "chat", "id": "x", "text": "hi"})
    assert (await alice.recv("error"))["code"] == "bad_state"
    await alice.send({"type": "hello", "protocol": 1})
    await alice.recv("welcome")
    await alice.send({"type": "hello", "protocol": 1, "id": "h2"})
    err = await alice.recv("error")
    assert err["code"] == "bad_state" and err["ref"] == "h2"


async def test_record_rpc_answers_sfu_unavailable(client_for, settings):
    settings.LEVELCHAT = {**settings.LEVELCHAT, "SFU_EMBEDDED": False}  # recording with a worker: tests/sfu
    host = client_for("host", role="host")
    await host.join()
    assert (await host.request({"type": "record-start"}))["code"] == "sfu_unavailable"
    assert (await host.request({"type": "record-stop"}))["code"] == "sfu_unavailable"


async def test_duplicate_identity_replaces_older_session(client_for, token_for):
    alice, watcher = client_for("alice"), client_for("watcher")
    await alice.join()
    await watcher.join()
    await watcher.drain()
    second = Client(token_for("alice"))
    welcome = await second.join()
    close = await alice.closed()
    assert close["code"] == 4409 and close["reason"] == "replaced"
    left = await watcher.recv("participant-left")
    assert left["participant"]["id"] == alice.id and left["reason"] == "replaced"
    joined = await watcher.recv("participant-joined")
    assert joined["participant"]["id"] == welcome["you"]["id"]
    assert [p["identity"] for p in welcome["roster"]] == ["watcher"]


async def test_room_full(client_for, signal_room):
    signal_room.max_participants = 1
    await sync_to_async(signal_room.save)()
    await client_for("a").join()
    late = client_for("b")
    await late.connect()
    await late.send({"type": "hello", "protocol": 1})
    close = await late.closed()
    assert (close["code"], close["reason"]) == (4403, "room_full")


async def test_ended_room_refuses_join_and_end_closes_everyone(client_for, signal_room):
    alice, host = client_for("alice"), client_for("host", role="host")
    await alice.join()
    await host.join()
    await alice.drain()
    assert (await alice.request({"type": "end-room"}))["code"] == "forbidden"
    assert (await host.request({"type": "end-room", "reason": "done"}))["type"] == "ack"
    assert (await alice.recv("room-ended"))["reason"] == "done"
    close = await alice.closed()
    assert (close["code"], close["reason"]) == (4403, "room_ended")
    await sync_to_async(signal_room.refresh_from_db)()
    assert signal_room.status == "ended"
    late = client_for("late")
    await late.connect()
    await late.send({"type": "hello", "protocol": 1})
    assert (await late.closed())["code"] == 4403


async def test_end_from_server_code_closes_sockets(client_for, signal_room):
    alice = client_for("alice")
    await alice.join()
    await sync_to_async(lifecycle.end_room)(signal_room, "ended_by_api")
    assert (await alice.recv("room-ended"))["reason"] == "ended_by_api"
    assert (await alice.closed())["code"] == 4403


async def test_remove_participant_over_socket_and_token_replay(client_for, token_for):
    host, bob = client_for("host", role="host"), client_for("bob")
    await host.join()
    await bob.join()
    await host.drain()
    assert (await bob.request({"type": "remove-participant", "participant": host.id}))["code"] == "forbidden"
    assert (await host.request({"type": "remove-participant", "participant": bob.id}))["type"] == "ack"
    close = await bob.closed()
    assert (close["code"], close["reason"]) == (4403, "removed")
    assert (await host.recv("participant-left"))["reason"] == "removed"
    replay = Client(bob.token)
    await replay.connect()
    await replay.send({"type": "hello", "protocol": 1})
    assert (await replay.closed())["reason"] == "removed"


async def test_moderation_mute_and_capability_revoke(client_for, signal_room):
    host, bob = client_for("host", role="host"), client_for("bob")
    await host.join()
    await bob.join()
    await bob.request({"type": "publish", "track": CAMERA})
    await bob.request({"type": "publish", "track": {"sid": "TR_mic", "kind": "audio", "source": "microphone"}})
    await host.drain()
    await host.request({"type": "mute-participant", "participant": bob.id, "kind": "audio"})
    muted = await host.recv("track-muted")
    assert muted["track"] == "TR_mic" and muted["by"] == host.id
    assert await sync_to_async(control.update_capabilities)(signal_room, "bob", ["subscribe:all", "publish:mic"])
    gone = await host.recv("track-unpublished")
    assert gone["track"] == "TR_cam1" and gone["reason"] == "capability_revoked"
    updated = await bob.recv("participant-updated")
    assert updated["participant"]["capabilities"] == ["publish:mic", "subscribe:all"]
    assert (await bob.request({"type": "publish", "track": {**CAMERA, "sid": "TR_cam2"}}))["code"] == "forbidden"


async def test_server_side_control_functions(client_for, signal_room):
    alice = client_for("alice")
    await alice.join()
    await alice.request({"type": "publish", "track": CAMERA})
    roster = await sync_to_async(control.live_roster)(signal_room)
    assert [p["identity"] for p in roster] == ["alice"] and roster[0]["tracks"][0]["sid"] == "TR_cam1"
    frame = await sync_to_async(control.send_message)(signal_room, "maintenance at 5")
    message = await alice.recv("chat-message")
    assert message["id"] == frame["id"] and message["from"]["identity"] == "system"
    assert await sync_to_async(control.mute_track)(signal_room, "alice", track="TR_cam1")
    assert (await alice.recv("track-muted"))["muted"] is True
    assert not await sync_to_async(control.mute_track)(signal_room, "nobody", kind="audio")
    assert await sync_to_async(control.remove_participant)(signal_room, "alice")
    assert (await alice.closed())["code"] == 4403


async def test_resume_keeps_participant_id_without_leave(client_for, token_for):
    alice, bob = client_for("alice"), client_for("bob")
    welcome = await alice.join()
    await bob.join()
    await alice.drain()
    await bob.disconnect(1006)
    again = Client(token_for("bob"))
    resumed = await again.join(resume={"session": bob.id, "credential": bob.welcome["resume"]["credential"]})
    assert resumed["you"]["id"] == bob.id
    assert [p["id"] for p in resumed["roster"]] == [welcome["you"]["id"]]
    assert await alice.nothing(0.3), "a quick resume shows no leave/join"


async def test_slow_resume_announces_reconnecting(client_for, token_for):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    await bob.disconnect(1006)
    assert (await alice.recv("participant-reconnecting"))["participant"]["id"] == bob.id
    again = Client(token_for("bob"))
    await again.join(resume={"session": bob.id, "credential": bob.welcome["resume"]["credential"]})
    assert (await alice.recv("participant-reconnected"))["participant"]["id"] == bob.id


async def test_resume_after_token_expiry_works_fresh_join_does_not(client_for, levelchat_settings):
    levelchat_settings(JWT_LEEWAY=0)
    bob = client_for("bob", ttl=5)  # long enough to join on a loaded machine
    await bob.join()
    await bob.disconnect(1006)
    expires = jwt.decode(bob.token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, expires - time.time()) + 1.1)  # until the token has expired (a lower bound)
    resumed = Client(bob.token)
    welcome = await resumed.join(resume={"session": bob.id, "credential": bob.welcome["resume"]["credential"]})
    assert welcome["you"]["id"] == bob.id
    fresh = Client(bob.token)
    await fresh.connect()
    await fresh.send({"type": "hello", "protocol": 1})
    close = await fresh.closed()
    assert (close["code"], close["reason"]) == (4401, "token_expired")


async def test_resume_with_forged_credential_is_a_fresh_join(client_for, token_for):
    bob = client_for("bob")
    await bob.join()
    await bob.disconnect(1006)
    again = Client(token_for("bob"))
    welcome = await again.join(resume={"session": bob.id, "credential": "forged"})
    assert welcome["you"]["id"] != bob.id


async def test_active_speaker_with_hysteresis(client_for):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    for _ in range(4):
        await bob.send({"type": "audio-level", "level": 0.6})
        await asyncio.sleep(0.1)
    speaker = await alice.recv("active-speaker")
    assert speaker["participant"] == bob.id
    frames = await alice.drain()
    assert not [f for f in frames if f["type"] == "active-speaker"], "sent only on change"


async def test_quality_report_fans_out_on_change(client_for):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await alice.drain()
    await bob.request({"type": "quality-report", "quality": "poor", "score": 30})
    assert (await alice.recv("connection-quality"))["quality"] == "poor"
    await bob.request({"type": "quality-report", "quality": "poor", "score": 31})
    assert await alice.nothing()


async def test_resync_returns_snapshot(client_for):
    alice, bob = client_for("alice"), client_for("bob")
    await alice.join()
    await bob.join()
    await bob.request({"type": "chat", "text": "public"})
    await bob.request({"type": "chat", "text": "private", "to": alice.id})
    await alice.send({"type": "resync", "id": "s1"})
    snapshot = await alice.recv("resync")
    assert snapshot["ref"] == "s1" and [p["id"] for p in snapshot["roster"]] == [bob.id] and snapshot["seq"] >= 1
    # The chats a gap lost come with the snapshot, as in a welcome (public ones only).
    assert [m["text"] for m in snapshot["chat"]] == ["public"]


async def test_hidden_recorder_is_not_in_roster(client_for):
    alice = client_for("alice")
    await alice.join()
    recorder = client_for("rec", role="recorder")
    welcome = await recorder.join()
    assert [p["identity"] for p in welcome["roster"]] == ["alice"]
    assert await alice.nothing()
    bob = client_for("bob")
    assert [p["identity"] for p in (await bob.join())["roster"]] == ["alice"]


async def test_created_room_becomes_active_on_first_join(client_for, signal_room):
    assert signal_room.status == Room.Status.CREATED
    await client_for("a").join()
    await sync_to_async(signal_room.refresh_from_db)()
    assert signal_room.status == Room.Status.ACTIVE and signal_room.started_at


async def test_sending_to_a_vanished_client_is_quiet():
    from django_levelchat.signaling.consumers import SignalingConsumer

    class Disconnected(Exception):
        pass

    async def gone(message):
        raise Disconnected("transport closed")

    consumer = SignalingConsumer()
    consumer.base_send = gone
    consumer.state = "joined"
    await consumer.send_frame({"type": "pong"})
    assert consumer.state == "closed"
    await consumer.close("left")  # no second attempt, no exception


async def test_every_request_with_an_id_gets_an_answer(client_for):
    host, bob = client_for("host", role="host"), client_for("bob")
    await host.join()
    await bob.join()
    requests = [
        {"type": "publish", "track": {"sid": "TR_x", "kind": "video", "source": "camera"}},
        {"type": "mute", "track": "TR_x", "muted": True},
        {"type": "unpublish", "track": "TR_x"},
        {"type": "subscribe", "participant": bob.id, "kind": "video"},
        {"type": "unsubscribe", "participant": bob.id},
        {"type": "set-preferred-quality", "quality": "low"},
        {"type": "chat", "text": "hi"},
        {"type": "reaction", "emoji": "🎉"},
        {"type": "audio-level", "level": 0.3},
        {"type": "quality-report", "quality": "good"},
        {"type": "signal", "to": bob.id, "candidate": {"candidate": ""}},
        {"type": "mute-participant", "participant": bob.id},
        {"type": "record-start"},
    ]
    for frame in requests:
        reply = await host.request(frame)
        assert reply["type"] in ("ack", "error") and reply["ref"] == "r1", frame
    await host.send({"type": "ping", "id": "p1", "ts": 1})
    assert (await host.recv("pong"))["ref"] == "p1"
    await host.send({"type": "resync", "id": "s1"})
    assert (await host.recv("resync"))["ref"] == "s1"


async def test_simultaneous_hellos_are_joined_in_turn(client_for, signal_room, settings):
    """JOIN_CONCURRENCY = 1: a hello refused inside the join gate (its room ended) frees it, and six simultaneous
    hellos are all joined, one after another (a restarted process's reconnect storm, in small)."""
    settings.LEVELCHAT = {**settings.LEVELCHAT, "JOIN_CONCURRENCY": 1}
    ended = await sync_to_async(Room.objects.create)(name="ended")
    await sync_to_async(lifecycle.end_room)(ended, "ended_by_api")
    late = client_for("late", room=ended)
    await late.connect()
    await late.send({"type": "hello", "protocol": 1})
    assert (await late.closed(WAIT))["reason"] == "room_ended"

    crowd = [client_for(f"p{i}") for i in range(6)]
    for client in crowd:
        assert (await client.connect())[0]
    for client in crowd:
        await client.send({"type": "hello", "protocol": 1})
    welcomes = await asyncio.gather(*(client.recv("welcome", timeout=WAIT) for client in crowd))
    assert len({w["you"]["id"] for w in welcomes}) == 6
    assert sorted(len(w["roster"]) for w in welcomes) == [0, 1, 2, 3, 4, 5], "each joined after the one before"
