"""The signaling WebSocket: upgrade auth, hello/welcome, one handler per message type, capability checks.

Built on ``AsyncConsumer`` rather than the stock JSON consumer: frames are decoded by ``protocol.parse_frame``
(size first, depth-limited), every handler runs inside one ``try`` so no exception can end a socket with 1011,
and channel-layer failures (a Redis outage) are caught and answered instead of killing the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.db import DatabaseError

from django_levelchat import capabilities as caps
from django_levelchat import lifecycle, protocol
from django_levelchat.conf import levelchat_settings
from django_levelchat.exceptions import CapabilityError, IllegalTransition, TokenError
from django_levelchat.ids import new_message_id, new_participant_id
from django_levelchat.models import Participant, Room
from django_levelchat.protocol import CloseReason, ErrorCode, ProtocolError
from django_levelchat.signaling import clock, janitor, liveness, media, rooms, transport
from django_levelchat.signaling.orm import db_call
from django_levelchat.signaling.presence import AdmissionRequest, Entry, get_presence
from django_levelchat.signaling.ratelimit import FloodGuard, SessionLimits, TokenBucket
from django_levelchat.signaling.speaker import LevelSmoother
from django_levelchat.tokens import RoomClaims, issue_resume_credential, verify_resume_credential, verify_token

logger = logging.getLogger("django_levelchat.signaling")

RESUMABLE_CLIENT_CLOSES = frozenset({1006, 1011, 1012, 1013, 1014, 1015})
RECONNECTING_NOTICE_AFTER = 1.0


class Forbidden(ProtocolError):
    def __init__(self, message: str, ref: str | None = None) -> None:
        super().__init__(ErrorCode.FORBIDDEN, message, ref=ref)


class RateLimited(ProtocolError):
    def __init__(self, message: str, ref: str | None = None) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, message, ref=ref)
        self.retry_after = 1.0

    def to_frame(self) -> dict[str, Any]:
        return protocol.error(self.code, self.message, ref=self.ref, retry_after=self.retry_after)


class Close(Exception):
    """Raised inside a handler to close the socket with the code that ``reason`` maps to."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


@db_call
def _load_room(public_id: str) -> Room | None:
    return Room.objects.select_related("policy").filter(public_id=public_id).first()


@db_call
def _join(room: Room, claims: RoomClaims, pid: str, effective: frozenset[str]) -> str | None:
    """Record the session; returns the room's running recording for the ``welcome`` (read in the same trip to
    the database thread: a join storm queues on those trips)."""
    lifecycle.join(
        room,
        claims.identity,
        name=claims.name,
        role=claims.role,
        capabilities=sorted(effective),
        metadata=claims.metadata,
        public_id=pid,
    )
    return rooms.recording_of(room)


@db_call
def _open_participant(room: Room, pid: str, identity: str) -> Participant | None:
    """The session's row if it never ended (no ``left_at``): the database outlives a Redis restart."""
    return Participant.objects.filter(room=room, public_id=pid, identity=identity, left_at__isnull=True).first()


@db_call
def _reload_room(room: Room) -> Room | None:
    return Room.objects.select_related("policy").filter(pk=room.pk).first()


@db_call
def _end_room(room: Room, reason: str) -> bool:
    return lifecycle.end_room(room, reason)


#: How far this process has seen a room event come behind a later one (see _learn_lateness); 0 until it has.
_late_by = 0.0


def reorder_window() -> float:
    """Seconds a room event is held for a missing earlier seq: SEQ_REORDER_WINDOW, or longer once this process saw
    a seq come after its window (a loaded machine stalls a sender between stamping a seq and sending it)."""
    base = float(levelchat_settings.SEQ_REORDER_WINDOW)
    return min(max(base, 1.5 * _late_by), 8 * base)


def _learn_lateness(behind: float) -> None:
    global _late_by
    _late_by = max(_late_by, behind)


#: No capabilities (one instance: an empty frozenset per socket is 216 bytes).
_NONE: frozenset[str] = frozenset()

#: Refused admissions (``Presence.admit``) -> how the socket closes.
_ADMISSION_CLOSES = {
    "removed": (CloseReason.REMOVED, "you were removed from this room"),
    "ended": (CloseReason.ROOM_ENDED,),
    "full": (CloseReason.ROOM_FULL,),
    "taken": (CloseReason.REPLACED, "this identity is already in the room"),
}


#: Joins and resumes in progress, per event loop (see _join_gate).
_join_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _join_gate() -> asyncio.Semaphore:
    """At most ``JOIN_CONCURRENCY`` hellos of this process are joined or resumed at once; the others wait their
    turn. A join is a dozen round trips to Redis and the database, and the event loop advances every ready one a
    step at a time: a reconnect storm (every client of a restarted process) finished all together at its end, so
    on a busy machine most sessions missed their resume window, and at 1,000 the Redis pools ran dry. In turn, the
    first ones are answered at once (docs/reliability.md, G14)."""
    loop = asyncio.get_running_loop()
    gate = _join_gates.get(loop)
    if gate is None:
        gate = _join_gates[loop] = asyncio.Semaphore(max(1, int(levelchat_settings.JOIN_CONCURRENCY)))
    return gate


#: "The running recording was not read yet" (None means "there is none").
_UNREAD = object()

#: Unread bytes after which each further frame counts toward OUTBOUND_MAX_FRAMES.
_BACKLOG_FRAMES_AFTER = 65536


def _cheap_ref(text: str) -> str | None:
    """The request id of a frame that is being dropped, or None.

    Every request gets an answer, so a client never waits for one that will not come: a long chat dropped by the
    frame rate is answered too. Parsing is bounded by MAX_FRAME_BYTES, as on the normal path, and a frame with no
    ``"id"`` in it at all is not parsed."""
    if '"id"' not in text:
        return None
    try:
        ref = protocol.decode_frame(text).get("id")
    except ProtocolError:
        return None
    return ref if isinstance(ref, str) and 0 < len(ref) <= protocol.MAX_ID_LEN else None


def _hello_close_reason(exc: ProtocolError, obj: dict[str, Any]) -> str:
    """A refused ``hello`` closes 4400 (``unsupported_protocol`` for a well-typed version we do not speak), or
    4401 ``token_invalid`` when the broken field is its token."""
    version = obj.get("protocol")
    if exc.field == "token":
        return CloseReason.TOKEN_INVALID  # a token failure is 4401 whichever way the token came
    if exc.field == "protocol" and isinstance(version, int) and not isinstance(version, bool):
        return CloseReason.UNSUPPORTED_PROTOCOL
    return CloseReason.BAD_HELLO


def _token_close_reason(exc: TokenError) -> str:
    try:
        return CloseReason(exc.code)
    except ValueError:
        return CloseReason.TOKEN_INVALID


class SignalingConsumer(AsyncConsumer):
    """One participant session. State: ``connecting`` → ``joined`` → ``closed``."""

    def __init__(self) -> None:
        self.state = "connecting"
        self.token_error: TokenError | None = None
        self.claims: RoomClaims | None = None
        self.room: Room | None = None
        self.pid: str | None = None
        self.entry: Entry | None = None
        self.caps: frozenset[str] = _NONE  # effective: granted ∩ the role's current ceiling
        self.granted: frozenset[str] = _NONE  # what the token (or a REST update) grants
        self.role = caps.PARTICIPANT
        self.hidden = False
        self.departed = False
        self.closing = False
        self.resumable_close = False
        self.snapshot_seq = 0  # last room seq this client has (snapshot or delivered event)
        # Room events that arrived ahead of a missing seq: seq -> (event type, text, arrival on the loop's clock).
        self.held: dict[int, tuple[str | None, str, float]] = {}
        self.hold_timer: asyncio.TimerHandle | None = None
        # Recently given-up seqs -> (the window they had, when): one that comes after all teaches the window.
        self.given_up: dict[int, tuple[float, float]] = {}
        # Held by every dispatched message and by the release of held events, so a release runs between
        # messages, as if it were one (it cannot go through our own channel: that is full when events are lost).
        self.dispatching = asyncio.Lock()
        self.unflushed_frames = 0
        self.hello_task: asyncio.Task[Any] | None = None
        self.errors: list[float] = []
        self.smoother: LevelSmoother | None = None  # made on the first audio level: most sockets never send one
        self.last_touch = float("-inf")
        self.router: media.MeshRouter | None = None
        now = time.monotonic()
        self.limits = SessionLimits(
            frames=FloodGuard(
                float(levelchat_settings.RATE_LIMIT_RATE),
                float(levelchat_settings.RATE_LIMIT_BURST),
                float(levelchat_settings.RATE_LIMIT_GRACE),
                now,
            ),
            chat=FloodGuard(
                float(levelchat_settings.CHAT_RATE),
                float(levelchat_settings.CHAT_BURST),
                float(levelchat_settings.RATE_LIMIT_GRACE),
                now,
            ),
            levels=TokenBucket(10, 10, now),
        )

    # ------------------------------------------------------------------ ASGI plumbing

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self.base_send = send
        self.channel_layer = get_channel_layer()
        try:
            self.channel_name = await self.channel_layer.new_channel()
        except rooms.LAYER_ERRORS:
            logger.warning("channel layer unavailable at connect")
            self.channel_name = ""
        try:
            await await_many_dispatch([receive, self._channel_receive], self.dispatch)
        except StopConsumer:
            pass
        finally:
            if self.hello_task:
                self.hello_task.cancel()
            if self.hold_timer:
                self.hold_timer.cancel()
            forget = getattr(self.channel_layer, "forget_channel", None)
            if forget is not None and self.channel_name:
                forget(self.channel_name)  # what still arrives for us is dropped, not buffered for ever (G16)
            # The router's reply callable refers to us: without this cycle the session is freed as it ends, not
            # at the next collection of the generation it reached (tune_gc makes those rare, G16).
            self.router = None

    async def _channel_receive(self) -> dict[str, Any]:
        """Channel-layer receive that survives outages: back off, then re-join the room group."""
        delay = 0.2
        while True:
            if not self.channel_name:
                await asyncio.sleep(3600)
                continue
            try:
                return await self.channel_layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # redis-py turns a cancel into its TimeoutError
                logger.warning("channel layer receive failed (%r); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                if self.state == "joined" and self.room is not None:
                    self.last_touch = float("-inf")  # the next frame re-checks our presence entry
                    try:
                        await self.channel_layer.group_add(rooms.room_group(self.room.public_id), self.channel_name)
                        await self._send_resync(None)
                    except rooms.LAYER_ERRORS:
                        continue

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = {
            "websocket.connect": self.websocket_connect,
            "websocket.receive": self.websocket_receive,
            "websocket.disconnect": self.websocket_disconnect,
            rooms.EVENT: self.on_event,
            rooms.CLOSE: self.on_close,
            rooms.CONTROL: self.on_control,
        }.get(message.get("type", ""))
        if handler is None:
            return
        try:
            async with self.dispatching:
                await handler(message)
        except StopConsumer:
            raise
        except Close as exc:
            await self.close(exc.reason, str(exc) if str(exc) != exc.reason else "")
        except rooms.LAYER_ERRORS as exc:
            logger.warning("signaling backend unavailable: %s", rooms.describe(exc))
            await self.send_frame(protocol.error(ErrorCode.UNAVAILABLE, "the signaling backend is unavailable"))
        except DatabaseError as exc:  # R10: locked, restarting or unreachable; a join may simply be retried
            logger.warning("database unavailable: %r", exc)
            if self.state == "connecting":
                await self.close(CloseReason.UNAVAILABLE, "the database is unavailable, try again")
            else:
                await self.send_frame(protocol.error(ErrorCode.UNAVAILABLE, "the database is unavailable"))
        except Exception:
            logger.exception("signaling handler failed for %s", message.get("type"))
            await self.send_frame(protocol.error(ErrorCode.INTERNAL, "internal error"))

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send_text(protocol.encode(frame))

    async def send_text(self, text: str) -> None:
        """Send one encoded frame; a client that is already gone is not an error (its disconnect follows).

        A client that stopped reading is closed 4013 ``slow_consumer`` (it may resume) once its unread backlog
        passes OUTBOUND_MAX_BYTES or OUTBOUND_MAX_FRAMES, so one non-reader cannot grow the server.
        """
        if self.state == "closed":
            return
        if not self.closing and self._backlogged(len(text)):
            logger.warning("closing a slow consumer (%s frames unread)", self.unflushed_frames)
            await self.close(CloseReason.SLOW_CONSUMER)
            return
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        except Exception as exc:  # the transport's own "disconnected" error (autobahn Disconnected under daphne)
            logger.info("dropping a frame for a closed socket: %r", exc)
            self.state = "closed"

    def _backlogged(self, size: int) -> bool:
        pending = transport.pending_bytes(self.base_send)
        # Frames count once a real backlog exists (the kernel's buffer is full and Twisted is holding data), not
        # for the few bytes every write leaves until the reactor's next turn flushes them.
        self.unflushed_frames = self.unflushed_frames + 1 if pending > _BACKLOG_FRAMES_AFTER else 0
        return pending + size > int(levelchat_settings.OUTBOUND_MAX_BYTES) or self.unflushed_frames > int(
            levelchat_settings.OUTBOUND_MAX_FRAMES
        )

    async def close(self, reason: str, message: str = "") -> None:
        if self.state == "closed":
            return
        code = protocol.CLOSE_REASON_CODES.get(reason, protocol.CloseCode.PROTOCOL_ERROR)
        self.closing = True
        await self.send_frame(protocol.closing(code=code, reason=reason, message=message))
        if self.state == "closed":
            return  # the client was already gone
        self.state = "closed"
        self.resumable_close = code in protocol.RETRYABLE_CLOSE_CODES
        try:
            await self.base_send({"type": "websocket.close", "code": int(code), "reason": str(reason)})
        except Exception as exc:
            logger.info("close on a closed socket: %r", exc)

    # ------------------------------------------------------------------ connect / hello

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        subprotocol, token = protocol.split_subprotocols(self.scope.get("subprotocols") or [])
        if token is None:
            query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
            token = (query.get("token") or [None])[0]
        await self.base_send({"type": "websocket.accept", "subprotocol": subprotocol})
        self.hello_task = rooms.spawn(self._hello_deadline())  # armed first: nothing below may skip it
        if not self.channel_name:
            raise Close(CloseReason.UNAVAILABLE)
        if token is not None:
            await self._verify(token)

    async def _hello_deadline(self) -> None:
        await asyncio.sleep(float(levelchat_settings.HELLO_TIMEOUT))
        if self.state == "connecting":
            await self.close(CloseReason.HELLO_TIMEOUT)

    async def _verify(self, token: str) -> None:
        """Verify the token; an expired one is kept (it may still resume), anything else closes 4401.

        An expired token with a second defect (a lifetime over the cap, a bad claim) closes with that defect's
        reason: it could not be used even for a resume.
        """
        try:
            self.claims = verify_token(token)
        except TokenError as exc:
            if exc.code != CloseReason.TOKEN_EXPIRED:
                raise Close(_token_close_reason(exc)) from None
            try:
                self.claims = verify_token(token, allow_expired=True)
            except TokenError as second:
                raise Close(_token_close_reason(second)) from None
            self.token_error = exc

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.state == "closed":
            return
        if message.get("text") is None:
            raise Close(CloseReason.BINARY_FRAME)
        text = message["text"]
        if (
            len(text) > protocol.MAX_FRAME_BYTES
            or len(text.encode("utf-8", "surrogatepass")) > protocol.MAX_FRAME_BYTES
        ):
            await self.send_frame(
                protocol.error(ErrorCode.TOO_LARGE, f"frame is larger than {protocol.MAX_FRAME_BYTES} bytes")
            )
            raise Close(CloseReason.FRAME_TOO_LARGE)
        verdict = self.limits.frames.check(time.monotonic())
        if verdict == FloodGuard.CLOSE:
            raise Close(CloseReason.RATE_LIMITED)
        if verdict != FloodGuard.ALLOW:
            ref = _cheap_ref(text)
            if ref is not None or verdict == FloodGuard.REFUSE:
                await self.send_frame(
                    protocol.error(ErrorCode.RATE_LIMITED, "too many frames; slow down", ref=ref, retry_after=1.0)
                )
            return
        pong = protocol.canonical_pong(text)
        if pong is not None:
            await self._answer_ping(pong)
            return
        obj: dict[str, Any] | None = None
        try:
            obj = protocol.decode_frame(text)
            msg = protocol.parse_message(obj)
        except ProtocolError as exc:
            if self.state == "connecting" and obj is not None and obj.get("type") == "hello":
                reason = _hello_close_reason(exc, obj)
                if reason != CloseReason.TOKEN_INVALID:
                    await self.send_frame(exc.to_frame())
                raise Close(reason) from None
            await self._protocol_error(exc)
            return
        try:
            await self.handle(msg)
        except ProtocolError as exc:
            await self._protocol_error(exc)

    async def _answer_ping(self, pong: str) -> None:
        """A canonical ping, answered as ``handle`` would answer it (allowed before ``hello``; marks us heard)."""
        if self.state == "joined":
            await self._touch()
        await self.send_text(pong)

    async def _protocol_error(self, exc: ProtocolError) -> None:
        """Report the error; count it toward the protocol-error budget unless it is a rate limit (a normal
        client that sends a burst must not be closed for it: the flood guard handles real floods)."""
        await self.send_frame(exc.to_frame())
        if exc.code == ErrorCode.RATE_LIMITED:
            return
        now = time.monotonic()
        self.errors = [t for t in self.errors if t > now - protocol.PROTOCOL_ERROR_WINDOW] + [now]
        if len(self.errors) > protocol.MAX_PROTOCOL_ERRORS:
            raise Close(CloseReason.TOO_MANY_ERRORS)

    async def handle(self, msg: protocol.ClientMessage) -> None:
        if isinstance(msg, protocol.Hello):
            await self.on_hello(msg)
            return
        if isinstance(msg, protocol.Ping) and self.state == "connecting":
            await self.on_ping(msg)  # allowed before hello (docs/protocol.md §4): measures RTT, keeps NATs open
            return
        if self.state != "joined":
            raise ProtocolError(ErrorCode.BAD_STATE, f"send hello before {msg.TYPE}", ref=msg.id)
        await self._touch()
        needed = protocol.required_capability(msg)
        if needed is not None and not caps.has_capability(self.caps, needed):
            raise Forbidden(f"{needed} is not in your capabilities", ref=msg.id)
        handler = getattr(self, "on_" + msg.TYPE.replace("-", "_"))
        await handler(msg)

    async def _touch(self) -> None:
        """Mark this session heard from; the janitor's loop writes the marks of the whole process in one batch."""
        now = clock.now()
        if now - self.last_touch >= liveness.interval() and self.room is not None and self.pid is not None:
            self.last_touch = now
            liveness.heard(self.room.public_id, self.pid, now)

    async def restore_presence(self) -> None:
        """Called by ``liveness.flush`` when our entry is gone."""
        try:
            await self._restore()
        except rooms.LAYER_ERRORS as exc:
            self.last_touch = float("-inf")  # try again on the next frame
            logger.warning("could not restore the presence of %s: %r", self.pid, exc)

    async def _restore(self) -> None:
        """Our presence entry vanished without a removal (Redis restarted empty): put it back, tell the room,
        and give our client a fresh snapshot, so rosters converge within a ping interval."""
        room, entry = self.room, self.entry
        if room is None or entry is None or self.departed or self.state != "joined":
            return
        presence = get_presence()
        removed = await presence.removal(room.public_id, entry["id"])
        if removed is not None:
            # Removed by another process. Its close message is on the way, unless it was lost (a channel-layer
            # outage, a process behind): close as it would have, so the tombstone need not outlive this look.
            self.departed = True
            await self.close(removed if removed in protocol.CLOSE_REASON_CODES else CloseReason.PING_TIMEOUT)
            return
        logger.warning("restoring lost presence of %s in %s", entry["id"], room.public_id)
        await presence.claim_identity(room.public_id, entry["identity"], entry["id"], replace=True)
        await presence.add(room.public_id, entry)
        await self.channel_layer.group_add(rooms.room_group(room.public_id), self.channel_name)
        if not self.hidden:
            await rooms.broadcast(
                room.public_id, protocol.participant_joined, participant=rooms.public_participant(entry)
            )
        await self._send_resync(None)

    async def ack(self, msg: protocol.ClientMessage, **data: Any) -> None:
        if msg.id is not None:
            await self.send_frame(protocol.ack(msg.id, **data))

    async def on_hello(self, msg: protocol.Hello) -> None:
        if self.state != "connecting":
            raise ProtocolError(ErrorCode.BAD_STATE, "hello was already sent", ref=msg.id)
        if self.hello_task is not None:
            self.hello_task.cancel()  # the hello arrived in time; a slow join (a busy database) is not a timeout
            self.hello_task = None  # not kept for the socket's life (with its coroutine: 0.5 KB a socket)
        if self.claims is None:
            if not msg.token:
                raise Close(CloseReason.TOKEN_MISSING)
            await self._verify(msg.token)
        assert self.claims is not None
        async with _join_gate():
            room = await _load_room(self.claims.room)
            if room is None:
                raise Close(CloseReason.WRONG_ROOM, "no such room")
            self.room = room
            if msg.resume is not None and await self._resume(msg.resume):
                return
            if self.token_error is not None:
                raise Close(_token_close_reason(self.token_error))
            await self._join_fresh()

    async def _join_fresh(self) -> None:
        claims, room = self.claims, self.room
        assert claims is not None and room is not None
        presence = get_presence()
        self.role = claims.role
        self.granted = claims.capabilities
        self.caps = self._effective(room)
        self.hidden = caps.has_capability(self.caps, caps.PRESENCE_HIDDEN)
        pid = new_participant_id()
        # Revocation, room state and size, and the identity claim (T13: of two simultaneous joins exactly one
        # holds it) in one atomic step.
        admission = await presence.admit(
            room.public_id,
            AdmissionRequest(
                identity=claims.identity,
                pid=pid,
                issued_at=claims.issued_at,
                joinable=room.is_joinable,
                hidden=self.hidden,
                max_participants=room.max_participants,
                replace=bool(levelchat_settings.REPLACE_DUPLICATE_IDENTITY),
            ),
        )
        refused = _ADMISSION_CLOSES.get(admission.outcome)
        if refused is not None:
            raise Close(*refused)
        previous = admission.previous
        if previous is not None:
            await rooms.depart(room.public_id, previous, protocol.LeaveReason.REPLACED, close=CloseReason.REPLACED)
        for old in admission.stale:  # sessions from before the claim existed (or a claim lost in a Redis restart)
            if old != previous:
                await rooms.depart(room.public_id, old, protocol.LeaveReason.REPLACED, close=CloseReason.REPLACED)
        try:
            recording = await _join(room, claims, pid, self.caps)
        except IllegalTransition:
            raise Close(CloseReason.ROOM_ENDED) from None
        entry: Entry = {
            "id": pid,
            "identity": claims.identity,
            "name": claims.name,
            "role": claims.role,
            "metadata": claims.metadata,
            "caps": sorted(self.caps),
            "granted": sorted(self.granted),
            "tracks": [],
            "hidden": self.hidden,
            "channel": self.channel_name,
            "owner": liveness.PROCESS,
            "state": "connected",
        }
        if not await presence.add_if_claimed(room.public_id, entry):
            # A newer join of the same identity took the claim while we were joining: it wins, we never appear.
            await rooms.close_session(pid, protocol.LeaveReason.REPLACED)
            raise Close(CloseReason.REPLACED)
        self.pid = pid
        self.entry = entry
        self.last_touch = clock.now()
        liveness.joined(room.public_id, pid, self)
        await self.channel_layer.group_add(rooms.room_group(room.public_id), self.channel_name)
        self.state = "joined"
        # The welcome's snapshot takes the seq of our own participant-joined in the same step (one round trip), and
        # reads whether the meeting moved to the SFU (after our group_add, as a separate lookup did: a move after it
        # reaches us as an sfu-state event).
        snapshot, promoted = await presence.snapshot_and_member(
            room.public_id, reserve_seq=not self.hidden, set_key=media.promotion_set(room)
        )
        if not self.hidden:
            joined = protocol.participant_joined(participant=rooms.public_participant(entry), seq=snapshot[0])
            await rooms.publish(room.public_id, joined)
        await self._open_media(promoted)
        await self._welcome(entry, recording=recording, snapshot=snapshot)
        janitor.ensure_running()
        await self._connect_media()
        if await media.outgrew_mesh(room, admission.others + 1):
            await rooms.broadcast(room.public_id, protocol.sfu_state, state="ready")

    async def _resume(self, resume: protocol.ResumeInfo) -> bool:
        """Take over a session that is still in the roster; False (fall back to a fresh join) otherwise."""
        claims, room = self.claims, self.room
        assert claims is not None and room is not None
        try:
            data = verify_resume_credential(resume.credential)
        except TokenError:
            return False
        if (data["session"], data["room"], data["identity"]) != (resume.session, room.public_id, claims.identity):
            return False
        presence = get_presence()
        entry = await presence.get(room.public_id, resume.session)
        if entry is None and room.is_joinable:
            entry = await self._revive(room, resume.session, claims.identity)
        if entry is None or not room.is_joinable:
            return False
        old_channel = entry.get("channel")
        announced = entry.pop("announced_reconnecting", False)
        entry.update(channel=self.channel_name, owner=liveness.PROCESS, state="connected")
        entry.pop("disconnected_at", None)
        # Heard first, then taken over: the janitor removes only sessions still silent, so once the touch lands
        # the session is ours; if it fails, the janitor got there first (the window had passed): join afresh.
        self.last_touch = clock.now()
        if not await presence.touch(room.public_id, entry["id"], self.last_touch):
            return False
        if not await presence.put(room.public_id, entry):
            return False
        if old_channel and old_channel != self.channel_name:
            await rooms.control(old_channel, "superseded")
        self.pid = entry["id"]
        self.entry = entry
        self.role = entry.get("role") or caps.PARTICIPANT
        granted = entry.get("granted")
        self.granted = frozenset(entry.get("caps") or () if granted is None else granted)
        liveness.joined(room.public_id, self.pid, self)
        self.caps = frozenset(entry.get("caps", ()))
        self.hidden = bool(entry.get("hidden"))
        await self.channel_layer.group_add(rooms.room_group(room.public_id), self.channel_name)
        self.state = "joined"
        if announced and not self.hidden:
            await rooms.broadcast(room.public_id, protocol.participant_reconnected, participant={"id": self.pid})
        await self._open_media()
        await self._welcome(entry)
        for frame in await presence.pop_signals(room.public_id, self.pid):
            await self.send_frame(frame)  # signals peers sent while we were away (e.g. an ICE-restart offer)
        await self._recompute_capabilities(room)  # the policy may have changed while we were away
        janitor.ensure_running()
        await self._connect_media()
        return True

    async def _revive(self, room: Room, pid: str, identity: str) -> Entry | None:
        """A session that dropped while Redis was away and came back empty: its presence entry is gone but its
        row never ended, so it resumes under its id (its tracks are not known any more: the client republishes).
        None when the session really ended, or the identity joined again since."""
        presence = get_presence()
        if await presence.removal(room.public_id, pid) is not None:
            return None  # removed a moment ago: its row may not be closed yet
        row = await _open_participant(room, pid, identity)
        if row is None:
            return None
        claimed, _ = await presence.claim_identity(room.public_id, identity, pid, replace=False)
        entry: Entry = {
            "id": pid,
            "identity": identity,
            "name": row.name,
            "role": row.role,
            "metadata": row.metadata or {},
            "caps": list(row.capabilities),
            "granted": list(row.capabilities),
            "tracks": [],
            "hidden": caps.has_capability(frozenset(row.capabilities), caps.PRESENCE_HIDDEN),
            "channel": self.channel_name,
            "owner": liveness.PROCESS,
            "state": "connected",
        }
        if not claimed or not await presence.add_if_claimed(room.public_id, entry):
            return None
        logger.warning("resuming %s in %s from the database: its presence was lost", pid, room.public_id)
        if not entry["hidden"]:
            await rooms.broadcast(
                room.public_id, protocol.participant_joined, participant=rooms.public_participant(entry)
            )
        return entry

    async def _open_media(self, promoted: bool | None = None) -> None:
        """Pick this session's media router: mesh or SFU, by room (again when a meeting moved to the SFU);
        ``promoted`` when the caller already read whether the meeting moved."""
        assert self.room is not None and self.pid is not None
        subscribe = caps.has_capability(self.caps, caps.SUBSCRIBE_ALL)
        self.router = await media.router_for(
            self.room, self.pid, lambda: self.channel_name, subscribe=subscribe, promoted=promoted
        )

    def _media(self) -> media.MeshRouter:
        assert self.router is not None, "media router used before join"
        return self.router

    async def _room_view(self, recording: str | None | object = _UNREAD) -> dict[str, Any]:
        """The ``room`` of a welcome or resync; ``recording`` when the caller already read it."""
        assert self.room is not None
        view = rooms.room_view(self.room)
        view["recording"] = await rooms.live_recording(self.room) if recording is _UNREAD else recording
        state = await self._media().sfu_state()
        if state is not None:
            view["sfu"] = state
        return view

    async def _connect_media(self) -> None:
        """SFU rooms: tell the worker we are here (after a resume: our new channel). No worker is not fatal."""
        try:
            await self._media().joined()
        except ProtocolError as exc:
            logger.info("SFU not reachable for %s: %s", self.pid, exc)

    async def _welcome(
        self,
        entry: Entry,
        *,
        recording: str | None | object = _UNREAD,
        snapshot: tuple[int, list[Entry], list[dict[str, Any]]] | None = None,
    ) -> None:
        """``snapshot`` (seq, roster, chat) when the caller already read it."""
        room = self.room
        assert room is not None and self.pid is not None
        room_id = room.public_id
        seq, roster, chat = snapshot if snapshot is not None else await get_presence().snapshot(room_id)
        self.snapshot_seq = seq
        you = {
            "id": self.pid,
            "identity": entry["identity"],
            "name": entry["name"],
            "role": entry["role"],
            "capabilities": sorted(self.caps),
            "metadata": entry.get("metadata") or {},
            "tracks": entry.get("tracks", []),
        }
        await self.send_frame(
            protocol.welcome(
                you=you,
                room=await self._room_view(recording),
                roster=rooms.visible_roster(roster, exclude=self.pid),
                chat=[m for m in chat if m.get("to") is None],
                ice_servers=levelchat_settings.ICE_SERVERS,
                ping_interval=levelchat_settings.PING_INTERVAL,
                ping_timeout=levelchat_settings.PING_TIMEOUT,
                resume={
                    "session": self.pid,
                    "credential": issue_resume_credential(self.pid, room_id, entry["identity"]),
                    "expires_in": levelchat_settings.PING_TIMEOUT,
                },
                seq=seq,
            )
        )

    # ------------------------------------------------------------------ disconnect

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        code = message.get("code", 1006)
        room, pid = self.room, self.pid
        was_joined = self.state == "joined" or (self.closing and pid is not None)
        self.state = "closed"
        if room is not None and pid is not None:
            liveness.left(room.public_id, pid, self)
        if room is not None and pid is not None and was_joined and not self.departed:
            try:
                if code in RESUMABLE_CLIENT_CLOSES or (self.closing and self.resumable_close):
                    await self._mark_reconnecting(room.public_id, pid)
                elif not self.closing:
                    await rooms.depart(room.public_id, pid, protocol.LeaveReason.CLIENT_INITIATED)
            except rooms.LAYER_ERRORS:
                logger.warning("could not record the disconnect of %s", pid)
        if room is not None and self.channel_name:
            try:
                await self.channel_layer.group_discard(rooms.room_group(room.public_id), self.channel_name)
            except rooms.LAYER_ERRORS:
                pass
        raise StopConsumer

    async def _mark_reconnecting(self, room_id: str, pid: str) -> None:
        changed = await get_presence().update_if(
            room_id, pid, {"channel": self.channel_name}, {"state": "reconnecting", "disconnected_at": time.time()}
        )
        if changed is not None:
            rooms.spawn(_announce_reconnecting(room_id, pid, self.channel_name))

    # ------------------------------------------------------------------ channel-layer events

    async def on_event(self, message: dict[str, Any]) -> None:
        """A frame for this client, encoded once by the sender for every receiver.

        Room events are delivered in ``seq`` order: the channel layer keeps no order between senders (two
        processes, or two sockets of one process, broadcasting at once), so an event that arrives ahead of a
        missing seq is held for up to ``reorder_window()`` seconds. If the missing one never comes (really lost),
        the held events go out anyway and the client's gap check asks for a resync. No event waits longer than
        the window, however many seqs are missing: the channel layer drops many when it overflows.
        """
        if message.get("publishers_only") and (message.get("exclude") == self.pid or not self._publishing()):
            return
        if message.get("event") == "room-ended":
            self.departed = True
        seq = message.get("seq")
        if seq is None or self.state != "joined":
            await self.send_text(message["text"])
            return
        if seq <= self.snapshot_seq:
            if seq in self.given_up:  # not lost but late: the window is shorter than this server's stalls
                window, given_up_at = self.given_up.pop(seq)
                late = asyncio.get_running_loop().time() - given_up_at
                _learn_lateness(window + late)
                logger.warning(
                    "seq %s came %.2f s after its %.2f s reorder window; the client resyncs, the window is now %.2f s",
                    seq,
                    late,
                    window,
                    reorder_window(),
                )
            return  # already part of the welcome/resync snapshot (or delivered)
        if seq != self.snapshot_seq + 1:
            loop = asyncio.get_running_loop()
            self.held[seq] = (message.get("event"), message["text"], loop.time())
            if self.hold_timer is None:
                self.hold_timer = loop.call_later(reorder_window(), self._release_held)
            return
        self.snapshot_seq = seq
        await self._deliver(message.get("event"), message["text"])
        await self._flush_held()

    async def _deliver(self, event: str | None, text: str) -> None:
        await self.send_text(text)
        if event == "sfu-state" and '"ready"' in text:
            await self._open_media()  # a meeting may just have moved to the SFU
            await self._connect_media()  # or another worker took the room over: connect to it

    async def _flush_held(self) -> None:
        while self.held:
            upto = self.snapshot_seq + 1
            held = self.held.pop(upto, None)
            if held is None:
                return
            self.snapshot_seq = upto
            await self._deliver(held[0], held[1])
        if self.hold_timer is not None:
            self.hold_timer.cancel()
            self.hold_timer = None

    def _release_held(self) -> None:
        """The reorder window of the oldest held event passed."""
        self.hold_timer = None
        if self.held:
            rooms.spawn(self._release_due())

    async def _release_due(self) -> None:
        async with self.dispatching:
            try:
                await self._release_due_now()
            except Exception:
                logger.exception("releasing held events failed for %s", self.pid)

    async def _release_due_now(self) -> None:
        """Give up on the seqs missing below every event held for a full window; deliver in order what that frees,
        and wait for the next oldest held event's window."""
        if self.state == "closed":
            return
        loop = asyncio.get_running_loop()
        window = reorder_window()
        now = loop.time()
        self.held = {s: h for s, h in self.held.items() if s > self.snapshot_seq}
        due = [s for s, h in self.held.items() if now - h[2] >= window - 0.001]
        if due:
            last_due = max(due)
            for seq in range(self.snapshot_seq + 1, last_due):
                if seq not in self.held:
                    self.given_up[seq] = (window, now)
            while len(self.given_up) > 256:
                del self.given_up[next(iter(self.given_up))]
            for seq in sorted(s for s in self.held if s <= last_due):
                event, text, _ = self.held.pop(seq)
                self.snapshot_seq = seq
                await self._deliver(event, text)
            await self._flush_held()
        if self.hold_timer is not None:  # started by an event held since this release became due
            self.hold_timer.cancel()
            self.hold_timer = None
        if self.held:
            oldest = min(h[2] for h in self.held.values())
            self.hold_timer = loop.call_later(max(0.0, oldest + window - now), self._release_held)

    async def on_close(self, message: dict[str, Any]) -> None:
        self.departed = True
        await self.close(message["reason"])

    async def on_control(self, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == "superseded":
            self.departed = True  # the same session resumed on a newer socket
            await self.close(CloseReason.REPLACED)
        elif action == "mute":
            await self._mute_own(message.get("track"), message.get("kind"), by=message.get("by"))
        elif action == "lower-hand":
            await self._set_hand(False)
        elif action == "capabilities":  # a REST update of this participant's grant (and role, when given)
            self.granted = frozenset(message.get("capabilities", ()))
            self.role = message.get("role") or self.role
            await self._apply_capabilities(self.caps_for(self.room))
        elif action == "policy" and self.room is not None:  # the room's policy (or its ceiling) changed
            room = await _reload_room(self.room)
            if room is not None:
                self.room = room
                await self._recompute_capabilities(room)

    # ------------------------------------------------------------------ helpers on own state

    def _entry(self) -> Entry:
        """Our own presence entry: this consumer is its only writer, so the cached copy is authoritative."""
        assert self.entry is not None
        return self.entry

    async def _save(self, entry: Entry) -> None:
        assert self.room is not None
        self.entry = entry
        if not await get_presence().put(self.room.public_id, entry):
            await self._restore()

    def _publishing(self) -> bool:
        return bool(self.entry and self.entry.get("tracks"))

    def _me(self) -> dict[str, Any]:
        claims = self.claims
        assert claims is not None and self.pid is not None
        return {"id": self.pid, "identity": claims.identity, "name": claims.name}

    async def _mute_own(self, track: str | None, kind: str | None, *, by: str | None) -> None:
        entry = self._entry()
        changed = []
        for t in entry["tracks"]:
            if (track is None or t["sid"] == track) and (kind is None or t["kind"] == kind) and not t["muted"]:
                t["muted"] = True
                changed.append(t["sid"])
        if changed:
            await self._save(entry)
        assert self.room is not None and self.pid is not None
        for sid in changed:
            await rooms.broadcast(
                self.room.public_id, protocol.track_muted, participant=self.pid, track=sid, muted=True, by=by
            )

    def _effective(self, room: Room) -> frozenset[str]:
        """Granted capabilities ∩ the role's ceiling in this room now; an unknown role gets nothing."""
        try:
            ceiling = room.capabilities_for(self.role)
        except CapabilityError:
            logger.warning("role %r has no capabilities in room %s", self.role, room.public_id)
            ceiling = frozenset()
        return caps.intersect(self.granted, ceiling)

    def caps_for(self, room: Room | None) -> frozenset[str]:
        return self._effective(room) if room is not None else frozenset()

    async def _recompute_capabilities(self, room: Room) -> None:
        effective = self._effective(room)
        if effective != self.caps or frozenset(self._entry().get("caps", ())) != effective:
            await self._apply_capabilities(effective)

    async def _apply_capabilities(self, granted: frozenset[str]) -> None:
        """Capabilities changed server-side: drop tracks no longer allowed, tell the room and the client."""
        if self.state != "joined" or self.entry is None:
            return
        entry = self._entry()
        self.caps = granted
        entry["caps"] = sorted(granted)
        entry["granted"] = sorted(self.granted)
        entry["role"] = self.role
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for t in entry["tracks"]:
            (kept if caps.can_publish(granted, t["source"]) else dropped).append(t)
        entry["tracks"] = kept
        await self._save(entry)
        assert self.room is not None and self.pid is not None
        for t in dropped:
            await rooms.broadcast(
                self.room.public_id,
                protocol.track_unpublished,
                participant=self.pid,
                track=t["sid"],
                reason="capability_revoked",
            )
            await database_sync_to_async(lifecycle.track_unpublished)(self.room, self.pid, t, "capability_revoked")
        update = {"id": self.pid, "role": self.role, "capabilities": sorted(granted)}
        if self.hidden:  # a hidden participant (recorder) is not in anyone's roster: only it is told
            await self.send_frame(protocol.participant_updated(participant=update))
        else:
            await rooms.broadcast(self.room.public_id, protocol.participant_updated, participant=update)

    async def _target(self, pid: str, ref: str | None) -> Entry:
        assert self.room is not None
        entry = await get_presence().get(self.room.public_id, pid)
        if entry is None:
            raise ProtocolError(ErrorCode.UNKNOWN_PARTICIPANT, f"no participant {pid} in this room", ref=ref)
        return entry

    async def _send_resync(self, ref: str | None) -> None:
        """A snapshot as of one instant, with the chat history like a welcome: events up to its seq are dropped
        from now on, so the chats lost in a gap must come with it (docs/protocol.md §7)."""
        room = self.room
        assert room is not None
        seq, roster, chat = await get_presence().snapshot(room.public_id)
        self.snapshot_seq = seq
        self.held = {s: t for s, t in self.held.items() if s > seq}
        await self.send_frame(
            protocol.resync(
                room=await self._room_view(),
                roster=rooms.visible_roster(roster, exclude=self.pid),
                chat=[m for m in chat if m.get("to") is None],
                seq=seq,
                ref=ref,
            )
        )

    # ------------------------------------------------------------------ message handlers

    async def on_ping(self, msg: protocol.Ping) -> None:
        await self.send_frame(protocol.pong(msg.ts, ref=msg.id))

    async def on_resync(self, msg: protocol.Resync) -> None:
        await self._send_resync(msg.id)

    async def on_leave(self, msg: protocol.Leave) -> None:
        assert self.room is not None and self.pid is not None
        self.departed = True
        await self.ack(msg)
        await rooms.depart(self.room.public_id, self.pid, protocol.LeaveReason.CLIENT_INITIATED)
        await self.close(CloseReason.LEFT)

    def _check_sent_kinds(self, msg: protocol.Signal | protocol.SfuSignal) -> None:
        """T24: a description may only offer to send media kinds the sender may publish."""
        if msg.description is not None and msg.description.sdp:
            for kind in protocol.sdp_sent_kinds(msg.description.sdp):
                needed = protocol.send_capabilities(kind)
                if needed and not any(caps.has_capability(self.caps, c) for c in needed):
                    raise Forbidden(f"you may not send {kind}", ref=msg.id)

    async def on_signal(self, msg: protocol.Signal) -> None:
        assert self.pid is not None
        if msg.to == self.pid:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "cannot signal yourself", field="to", ref=msg.id)
        target = await self._target(msg.to, msg.id)
        self._check_sent_kinds(msg)
        frame = protocol.signal(from_=self.pid, description=msg.description, candidate=msg.candidate)
        if target.get("state") == "reconnecting" or not target.get("channel"):
            # Its socket is gone: hold the signal for the resume window, delivered right after its welcome
            # (an ICE-restart offer must not vanish, or both peers wait for each other for good).
            assert self.room is not None
            await get_presence().push_signal(
                self.room.public_id,
                msg.to,
                frame,
                int(levelchat_settings.PENDING_SIGNALS),
                float(levelchat_settings.PING_TIMEOUT),
            )
        else:
            await rooms.send_frame(target["channel"], frame)
        await self.ack(msg)

    async def on_sfu_signal(self, msg: protocol.SfuSignal) -> None:
        self._check_sent_kinds(msg)
        await self._media().sfu_signal(msg)  # the worker answers with ack or error

    async def on_publish(self, msg: protocol.Publish) -> None:
        assert self.room is not None and self.pid is not None
        entry = self._entry()
        tracks = entry["tracks"]
        known = next((t for t in tracks if t["sid"] == msg.track.sid), None)
        if known is not None:
            if not msg.track.mids or (known["kind"], known["source"]) != (msg.track.kind, msg.track.source):
                raise ProtocolError(ErrorCode.BAD_REQUEST, "track sid already published", field="track.sid", ref=msg.id)
            await self._media().sfu_leg(msg.track, msg.id)  # the worker answers with ack or error
            return
        if len(tracks) >= protocol.MAX_TRACKS:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST, f"at most {protocol.MAX_TRACKS} tracks", field="track", ref=msg.id
            )
        track = msg.track.to_wire()
        tracks.append(track)
        await self._save(entry)
        await self.ack(msg)
        await rooms.broadcast(self.room.public_id, protocol.track_published, participant=self.pid, track=track)
        await self._media().published(msg.track)
        await database_sync_to_async(lifecycle.track_published)(self.room, self.pid, track)

    async def on_unpublish(self, msg: protocol.Unpublish) -> None:
        assert self.room is not None and self.pid is not None
        entry = self._entry()
        kept = [t for t in entry["tracks"] if t["sid"] != msg.track]
        if len(kept) == len(entry["tracks"]):
            raise ProtocolError(ErrorCode.UNKNOWN_TRACK, f"you have no track {msg.track}", ref=msg.id)
        gone = next(t for t in entry["tracks"] if t["sid"] == msg.track)
        entry["tracks"] = kept
        await self._save(entry)
        await self.ack(msg)
        await rooms.broadcast(self.room.public_id, protocol.track_unpublished, participant=self.pid, track=msg.track)
        await database_sync_to_async(lifecycle.track_unpublished)(self.room, self.pid, gone)

    async def on_mute(self, msg: protocol.Mute) -> None:
        assert self.room is not None and self.pid is not None
        entry = self._entry()
        track = next((t for t in entry["tracks"] if t["sid"] == msg.track), None)
        if track is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TRACK, f"you have no track {msg.track}", ref=msg.id)
        await self.ack(msg)
        if track["muted"] == msg.muted:
            return
        track["muted"] = msg.muted
        await self._save(entry)
        await rooms.broadcast(
            self.room.public_id, protocol.track_muted, participant=self.pid, track=msg.track, muted=msg.muted
        )

    async def on_subscribe(self, msg: protocol.Subscribe) -> None:
        await self._media().subscription(msg, subscribed=True)
        await self.ack(msg)

    async def on_unsubscribe(self, msg: protocol.Unsubscribe) -> None:
        await self._media().subscription(msg, subscribed=False)
        await self.ack(msg)

    async def on_set_preferred_quality(self, msg: protocol.SetPreferredQuality) -> None:
        await self._media().preferred_quality(msg)
        await self.ack(msg)

    async def on_chat(self, msg: protocol.Chat) -> None:
        assert self.room is not None and self.pid is not None
        verdict = self.limits.chat.check(time.monotonic())
        if verdict == FloodGuard.CLOSE:
            raise Close(CloseReason.RATE_LIMITED)
        if verdict != FloodGuard.ALLOW:
            raise RateLimited("too many chat messages", ref=msg.id)
        room_id = self.room.public_id
        message_id = new_message_id()
        ts = int(time.time() * 1000)
        if msg.to is not None:
            target = await self._target(msg.to, msg.id)
            frame = protocol.chat_message(id=message_id, from_=self._me(), text=msg.text, ts=ts, to=msg.to)
            if target.get("channel"):
                await rooms.send_frame(target["channel"], frame)
            if msg.to != self.pid:
                await self.send_frame(frame)
        else:
            await rooms.broadcast_chat(room_id, from_=self._me(), text=msg.text, ts=ts, message_id=message_id)
        await self.ack(msg, id=message_id, ts=ts)

    async def on_reaction(self, msg: protocol.Reaction) -> None:
        assert self.room is not None
        await rooms.broadcast(self.room.public_id, protocol.reaction, from_=self._me(), emoji=msg.emoji)
        await self.ack(msg)

    async def on_hand(self, msg: protocol.Hand) -> None:
        """Our own hand, or (a host) someone else's lowered through their consumer, the only writer of its entry."""
        if msg.participant is not None and msg.participant != self.pid:
            target = await self._target(msg.participant, msg.id)
            if target.get("channel"):
                await rooms.control(target["channel"], "lower-hand")
        else:
            await self._set_hand(msg.raised)
        await self.ack(msg)

    async def _set_hand(self, raised: bool) -> None:
        """The hand is the time it went up (ms), so lists can order hands; everyone gets participant-updated."""
        entry = self._entry()
        if bool(entry.get("hand")) == raised:
            return
        entry["hand"] = int(time.time() * 1000) if raised else None
        await self._save(entry)
        assert self.room is not None and self.pid is not None
        if not self.hidden:
            await rooms.broadcast(
                self.room.public_id, protocol.participant_updated, participant={"id": self.pid, "hand": entry["hand"]}
            )

    async def on_audio_level(self, msg: protocol.AudioLevel) -> None:
        assert self.room is not None and self.pid is not None
        await self.ack(msg)
        if self.hidden or not self.limits.levels.take(time.monotonic()):
            return  # over 10 reports/s: dropped quietly, the next one carries the same information
        now = time.time()
        if self.smoother is None:
            self.smoother = LevelSmoother()
        level = self.smoother.observe(msg.level, now)
        view = await get_presence().report_level(self.room.public_id, self.pid, level, now)
        await rooms.update_active_speaker(self.room.public_id, now, view)

    async def on_quality_report(self, msg: protocol.QualityReport) -> None:
        assert self.room is not None and self.pid is not None
        entry = self._entry()
        await self.ack(msg)
        if entry.get("quality") == msg.quality:
            return
        entry["quality"] = msg.quality
        await self._save(entry)
        if not self.hidden:
            await rooms.broadcast(
                self.room.public_id, protocol.connection_quality, participant=self.pid, quality=msg.quality
            )

    async def on_record_start(self, msg: protocol.RecordStart) -> None:
        """The room's SFU worker records and answers (``ack`` with ``recording``, or ``error``); all get ``recording``."""
        by = f"participant:{self._entry()['identity']}"
        await self._media().sfu.request("record-start", ref=msg.id, by=by)

    async def on_record_stop(self, msg: protocol.RecordStop) -> None:
        by = f"participant:{self._entry()['identity']}"
        await self._media().sfu.request("record-stop", ref=msg.id, by=by)

    async def on_mute_participant(self, msg: protocol.MuteParticipant) -> None:
        target = await self._target(msg.participant, msg.id)
        if msg.track is not None and not any(t["sid"] == msg.track for t in target.get("tracks", [])):
            raise ProtocolError(ErrorCode.UNKNOWN_TRACK, f"{msg.participant} has no track {msg.track}", ref=msg.id)
        if target.get("channel"):
            await rooms.control(target["channel"], "mute", track=msg.track, kind=msg.kind, by=self.pid)
        await self.ack(msg)

    async def on_remove_participant(self, msg: protocol.RemoveParticipant) -> None:
        assert self.room is not None
        target = await self._target(msg.participant, msg.id)
        await rooms.remove_identity(self.room.public_id, target["identity"])
        await self.ack(msg)

    async def on_end_room(self, msg: protocol.EndRoom) -> None:
        assert self.room is not None
        await self.ack(msg)
        await _end_room(self.room, msg.reason or "ended_by_host")  # receivers.py closes every socket


async def _announce_reconnecting(room_id: str, pid: str, channel: str) -> None:
    await asyncio.sleep(RECONNECTING_NOTICE_AFTER)
    entry = await get_presence().update_if(
        room_id, pid, {"channel": channel, "state": "reconnecting"}, {"announced_reconnecting": True}
    )
    if entry is not None and not entry.get("hidden"):
        await rooms.broadcast(room_id, protocol.participant_reconnecting, participant={"id": pid})
