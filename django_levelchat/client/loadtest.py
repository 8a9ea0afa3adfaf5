"""A bounded load test with Python participants (``manage.py levelchat_loadtest`` drives it).

The parameters are LiveKit ``lk load-test``'s, so figures compare: per room, ``video_publishers`` publish the
synthetic camera, ``audio_publishers`` the tone, ``subscribers`` publish nothing; everyone receives everything.
Participants join at ``join_rate`` per second (round robin over the rooms), stay ``duration`` seconds, each sends
one chat message half-way through, and leave. Every remote track is read to the end (decoded) so the receive
path does real work. Nothing here knows Django: the caller hands over the URL and one token per participant.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django_levelchat.client.media import SyntheticVideoTrack, ToneAudioTrack
from django_levelchat.client.room import Room, join_room
from django_levelchat.client.signaling import JoinError, RequestError

#: ``--video-resolution``: the synthetic camera's size and frame rate.
RESOLUTIONS: dict[str, tuple[int, int, int]] = {
    "low": (320, 180, 15),
    "medium": (640, 360, 30),
    "high": (1280, 720, 30),
}
CHAT_MARK = "loadtest:"


@dataclass(frozen=True)
class Plan:
    rooms: int = 1
    video_publishers: int = 2
    audio_publishers: int = 0
    subscribers: int = 0
    duration: float = 10.0
    join_rate: float = 5.0
    video_resolution: str = "low"

    @property
    def per_room(self) -> int:
        return self.video_publishers + self.audio_publishers + self.subscribers

    def roles(self) -> list[str]:
        """The role of each participant of a room, in join order."""
        return ["video"] * self.video_publishers + ["audio"] * self.audio_publishers + ["sub"] * self.subscribers

    def expected_tracks(self) -> int:
        """Remote tracks each room's participants receive in total (everyone gets everyone else's)."""
        publishers = self.video_publishers + self.audio_publishers
        return publishers * (self.per_room - 1)


@dataclass
class TrackStats:
    kind: str
    started: float
    packets: int = 0
    lost: int = 0
    bytes: int = 0
    frames: int = 0
    ended: float | None = None

    def bitrate(self, now: float) -> float:
        seconds = max(1e-3, (self.ended or now) - self.started)
        return self.bytes * 8 / seconds


@dataclass
class Member:
    room_index: int
    identity: str
    role: str
    token: str
    room: Room | None = None
    join_ms: float | None = None
    tracks: list[TrackStats] = field(default_factory=list)
    chats_received: int = 0
    chat_sent: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass
class RoomReport:
    name: str
    joins: int
    join_attempts: int
    join_ms: list[float]
    tracks: int
    tracks_expected: int
    video_kbps: list[float]
    audio_kbps: list[float]
    packets: int
    lost: int
    frames: int
    chat_delivered: int
    chat_expected: int
    errors: int

    def row(self) -> dict[str, Any]:
        p50, p95, p99 = (percentile(self.join_ms, q) for q in (50, 95, 99))
        return {
            "room": self.name,
            "joins": f"{self.joins}/{self.join_attempts}",
            "join ms p50/p95/p99": f"{p50:.0f}/{p95:.0f}/{p99:.0f}",
            "tracks": f"{self.tracks}/{self.tracks_expected}",
            "video kbps/track": _mean(self.video_kbps),
            "audio kbps/track": _mean(self.audio_kbps),
            "packets/track": f"{self.packets / self.tracks:.0f}" if self.tracks else "-",
            "loss": f"{100 * self.lost / max(1, self.lost + self.packets):.2f}%",
            "frames": self.frames,
            "chat": f"{self.chat_delivered}/{self.chat_expected}",
            "errors": self.errors,
        }


def _mean(values: list[float]) -> str:
    return f"{sum(values) / len(values) / 1000:.0f}" if values else "-"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class LoadTest:
    """Runs one plan against ``url``; ``tokens[room][i]`` is the token of the room's i-th participant."""

    def __init__(
        self,
        plan: Plan,
        url: str,
        tokens: Sequence[Sequence[str]],
        *,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.plan = plan
        self.url = url
        self.progress = progress
        roles = plan.roles()
        # Join order: the first participant of every room, then the second of every room, and so on.
        self.members = [
            Member(r, f"{roles[i]}-{r + 1}-{i + 1}", roles[i], tokens[r][i])
            for i in range(plan.per_room)
            for r in range(plan.rooms)
        ]
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = 0.0

    async def run(self) -> list[RoomReport]:
        self.started = time.monotonic()
        ticker = asyncio.ensure_future(self._ticker())
        try:
            joins = []
            for member in self.members:
                joins.append(asyncio.ensure_future(self._join(member)))
                await asyncio.sleep(1 / self.plan.join_rate)
            await asyncio.gather(*joins)
            half = self.plan.duration / 2
            await asyncio.sleep(half)
            await asyncio.gather(*(self._chat(m) for m in self.members if m.room is not None))
            await asyncio.sleep(self.plan.duration - half)
            now = time.monotonic()
            for member in self.members:
                for stats in member.tracks:
                    stats.ended = stats.ended or now
                if member.room is not None:
                    await self._collect_stats(member)
        finally:
            ticker.cancel()
            await asyncio.gather(*(m.room.leave() for m in self.members if m.room is not None), return_exceptions=True)
            for task in list(self._tasks):
                task.cancel()
        self.progress(self._line() + "\n")
        return self.reports()

    async def _join(self, member: Member) -> None:
        t0 = time.monotonic()
        try:
            room = await join_room(member.token, url=self.url)
        except JoinError as exc:
            member.errors.append(f"join: {exc}")
            return
        member.join_ms = (time.monotonic() - t0) * 1000
        member.room = room
        room.on("track-subscribed", lambda track, publication, who: self._subscribed(member, track))
        room.on("chat-message", lambda m: self._chat_received(member, m))
        room.on("error", lambda frame: member.errors.append(f"error frame: {frame}"))

        def on_peer_state(who: Any, state: str) -> None:
            if state == "failed":
                member.errors.append("peer connection failed")

        room.on("peer-state", on_peer_state)
        width, height, fps = RESOLUTIONS[self.plan.video_resolution]
        try:
            if member.role == "video":
                await room.publish_track(SyntheticVideoTrack(width, height, fps), source="camera")
            elif member.role == "audio":
                await room.publish_track(ToneAudioTrack(), source="microphone")
        except RequestError as exc:
            member.errors.append(f"publish: {exc}")

    def _subscribed(self, member: Member, track: Any) -> None:
        stats = TrackStats(kind=track.kind, started=time.monotonic())
        member.tracks.append(stats)
        receiver = self._receiver_of(member, track)
        if receiver is not None:
            # Count payload bytes as they arrive (aiortc reports packets, not bytes).
            handle = receiver._handle_rtp_packet

            async def counting(packet: Any, arrival_time_ms: int) -> None:
                stats.bytes += len(packet.payload)
                await handle(packet, arrival_time_ms)

            receiver._handle_rtp_packet = counting
            stats.receiver = receiver  # type: ignore[attr-defined]
        task = asyncio.ensure_future(self._drain(track, stats))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _receiver_of(member: Member, track: Any) -> Any:
        transport = member.room.transport if member.room else None
        for pc in transport.peer_connections().values() if transport else ():
            for receiver in pc.getReceivers():
                if receiver.track is track:
                    return receiver
        return None

    @staticmethod
    async def _drain(track: Any, stats: TrackStats) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                stats.frames += 1
        stats.ended = stats.ended or time.monotonic()

    async def _collect_stats(self, member: Member) -> None:
        for stats in member.tracks:
            receiver = getattr(stats, "receiver", None)
            if receiver is None:
                continue
            with contextlib.suppress(Exception):
                report = await receiver.getStats()
                for item in report.values():
                    if item.type == "inbound-rtp":
                        stats.packets += item.packetsReceived
                        stats.lost += max(0, item.packetsLost)

    async def _chat(self, member: Member) -> None:
        assert member.room is not None
        try:
            await member.room.send_chat(f"{CHAT_MARK}{member.identity}")
            member.chat_sent = True
        except (RequestError, Exception) as exc:
            member.errors.append(f"chat: {exc}")

    @staticmethod
    def _chat_received(member: Member, message: dict[str, Any]) -> None:
        if str(message.get("text", "")).startswith(CHAT_MARK):
            member.chats_received += 1

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.progress("\r" + self._line())

    def _line(self) -> str:
        joined = sum(m.room is not None for m in self.members)
        tracks = sum(len(m.tracks) for m in self.members)
        frames = sum(s.frames for m in self.members for s in m.tracks)
        errors = sum(len(m.errors) for m in self.members)
        expected = self.plan.expected_tracks() * self.plan.rooms
        elapsed = time.monotonic() - self.started
        return (
            f"[{elapsed:6.1f}s] joined {joined}/{len(self.members)}  tracks {tracks}/{expected}"
            f"  frames {frames}  errors {errors}"
        )

    def reports(self) -> list[RoomReport]:
        now = time.monotonic()
        reports = []
        for r in range(self.plan.rooms):
            members = [m for m in self.members if m.room_index == r]
            reports.append(self._report(f"room {r + 1}", members, now))
        reports.append(self._report("total", self.members, now, rooms=self.plan.rooms))
        self.wall_seconds = now - self.started
        return reports

    def _report(self, name: str, members: list[Member], now: float, rooms: int = 1) -> RoomReport:
        joined = [m for m in members if m.room is not None]
        tracks = [s for m in members for s in m.tracks]
        # Everyone gets every chat message of their room, their own included.
        chat_expected = sum(
            sum(m.chat_sent for m in members if m.room_index == r) * sum(m.room_index == r for m in joined)
            for r in {m.room_index for m in members}
        )
        return RoomReport(
            name=name,
            joins=len(joined),
            join_attempts=len(members),
            join_ms=[m.join_ms for m in joined if m.join_ms is not None],
            tracks=len(tracks),
            tracks_expected=self.plan.expected_tracks() * rooms,
            video_kbps=[s.bitrate(now) for s in tracks if s.kind == "video"],
            audio_kbps=[s.bitrate(now) for s in tracks if s.kind == "audio"],
            packets=sum(s.packets for s in tracks),
            lost=sum(s.lost for s in tracks),
            frames=sum(s.frames for s in tracks),
            chat_delivered=sum(m.chats_received for m in members),
            chat_expected=chat_expected,
            errors=sum(len(m.errors) for m in members),
        )


def table(reports: Sequence[RoomReport]) -> str:
    """The final table: one row per room and a total row."""
    rows = [r.row() for r in reports]
    headers = list(rows[0])
    cells = [[str(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for i, c in enumerate(cells):
        if i == len(cells) - 1 and len(cells) > 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
    return "\n".join(lines)
