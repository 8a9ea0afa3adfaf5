"""Recording a mesh call end to end on a real daphne server (embedded SFU worker, recording jobs in process).

In a meeting the media goes peer to peer; while the room is recorded every publisher also sends its tracks to the
SFU worker on a send-only recording leg (docs/recording.md), and the worker copy-muxes them. Asserted on the
files the job puts into storage, fetched through the authorised, ranged download API: each track decodes (PyAV)
to the recorded length ± 1 s, with video and audio; the composed file has both people's pictures and the mixed
audio. Start and stop come from frames, the SDK (``room.record()``) and REST; everyone sees ``recording``.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from django_levelchat.client import SyntheticVideoTrack, ToneAudioTrack, join_room
from django_levelchat.models import Room
from tests.e2e.conftest import HARNESS, in_db_thread, served, wait_until
from tests.e2e.live import ROOT, WAIT_MS, LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
DB_ALIAS = "recording_e2e"  # this module's own server, so its own SQLite file
W, H, FPS = 320, 240, 15


@pytest.fixture(scope="module")
def rec_server(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[LiveServer]:
    """In-memory channel layer: the SFU worker and the recording jobs run inside daphne (the embedded default)."""
    workdir = tmp_path_factory.mktemp("rec-e2e")
    with served(workdir, django_db_blocker, DB_ALIAS, extra_env={"LEVELCHAT_MEDIA_ROOT": str(workdir / "media")}) as s:
        yield s


@pytest.fixture(scope="module")
def api_key(rec_server: LiveServer) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "levelchat_createkey", "e2e-recording"],
        cwd=ROOT,
        env=rec_server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return next(word for word in out.split() if word.startswith("lc_pk_"))


def make_room(django_db_blocker: Any) -> Room:
    return in_db_thread(lambda: Room.objects.using(DB_ALIAS).create(name="Recorded meeting"), django_db_blocker)


def token(room: Room, identity: str, django_db_blocker: Any, **kwargs: Any) -> str:
    from django_levelchat import tokens

    return in_db_thread(lambda: tokens.issue_token(room, identity, **kwargs), django_db_blocker)


class Api:
    """The REST API with an API key (or without one), from any thread."""

    def __init__(self, server: LiveServer, key: str | None) -> None:
        self.base = server.url + "/levelchat/v1"
        self.key = key

    def call(self, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path, method=method, headers=dict(headers or {}))
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method: str, path: str) -> tuple[int, Any]:
        code, _, body = self.call(method, path)
        return code, json.loads(body) if body else None


def wait_ready(api: Api, rec_id: str, timeout: float = 300) -> dict[str, Any]:
    """The recording once the in-process job finished it (composing decodes: slow on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        code, rec = api.json("GET", f"/recordings/{rec_id}")
        assert code == 200, rec
        if rec["status"] in ("ready", "failed"):
            return rec
        assert time.monotonic() < deadline, f"recording still {rec['status']}"
        time.sleep(0.5)


def fetch(api: Api, path: str) -> bytes:
    """A whole file through two range requests, as a seeking player would."""
    code, headers, head = api.call("GET", path, {"Range": "bytes=0-999"})
    assert code == 206, (code, head[:200])
    total = int(headers["Content-Range"].rpartition("/")[2])
    assert len(head) == min(1000, total)
    code, headers, rest = api.call("GET", path, {"Range": f"bytes={len(head)}-"})
    assert code == 206 and headers["Content-Range"] == f"bytes {len(head)}-{total - 1}/{total}"
    return head + rest


def decode(data: bytes) -> dict[str, Any]:
    """Per kind: frame count, first frame size, decoded duration (s), and mean audio level."""
    out: dict[str, Any] = {}
    with av.open(io.BytesIO(data)) as container:
        for stream in container.streams:
            frames = list(container.decode(stream))
            container.seek(0)
            if not frames:
                continue
            last = frames[-1]
            end = float((last.pts or 0) * last.time_base) + (
                last.samples / last.sample_rate if stream.type == "audio" else 1 / FPS
            )
            info: dict[str, Any] = {"frames": len(frames), "duration": end - float(frames[0].pts * frames[0].time_base)}
            if stream.type == "video":
                info["size"] = (frames[0].width, frames[0].height)
            out[stream.type] = info
    return out


def check_tracks(api: Api, rec: dict[str, Any], people: dict[str, float]) -> None:
    """Each person (participant id → seconds they were recorded) has a video and an audio file that decode to
    that length ± 1 s."""
    tracks = [f for f in rec["files"] if f["role"] == "track"]
    for pid, seconds in people.items():
        mine = {f["kind"]: f for f in tracks if f["participant"] == pid}
        assert set(mine) == {"video", "audio"}, (pid, tracks)
        for kind, file in mine.items():
            got = decode(fetch(api, f"/recordings/{rec['id']}/files/{file['id']}/download"))
            assert kind in got, (kind, file)
            assert got[kind]["duration"] == pytest.approx(seconds, abs=1.0), (pid, kind, got[kind], seconds)
            assert file["duration"] == pytest.approx(seconds, abs=1.0)


async def until(predicate: Any, timeout: float = 120, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out: {message}")


@pytest.mark.slow  # the Chromium test below covers the same path with one Python client
async def test_python_clients_mesh_call_is_recorded_through_their_legs(
    rec_server: LiveServer, api_key: str, django_db_blocker: Any
) -> None:
    """Two Python participants in a meeting (mesh): start and stop by frames; both legs are recorded and closed."""
    room = make_room(django_db_blocker)
    api = Api(rec_server, api_key)
    alice = await join_room(token(room, "alice", django_db_blocker, role="host"), url=rec_server.url)
    bob = await join_room(token(room, "bob", django_db_blocker), url=rec_server.url)
    try:
        for person, pitch in ((alice, 440), (bob, 660)):
            await person.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera")
            await person.publish_track(ToneAudioTrack(pitch), source="microphone")
        got: list[Any] = []
        alice.on("track-subscribed", lambda *args: got.append(args))
        await until(lambda: len(got) == 2, message="alice receives bob over the mesh")
        seen = asyncio.ensure_future(bob.wait_for("recording", lambda state, _: state == "started", 60))
        rec_id = (await alice.session.request({"type": "record-start"}, timeout=60))["recording"]
        await seen
        await until(lambda: alice.leg is not None and bob.leg is not None, message="both open a recording leg")
        legs = [alice.leg, bob.leg]
        await until(lambda: all(leg.pc.connectionState == "connected" for leg in legs), message="legs connected")
        began = time.monotonic()
        await asyncio.sleep(6)  # the length under test: recorded while both legs send
        stopped = asyncio.ensure_future(bob.wait_for("recording", lambda state, _: state == "stopped", 60))
        await alice.session.request({"type": "record-stop"}, timeout=60)
        recorded = time.monotonic() - began
        await stopped
        await until(lambda: alice.leg is None and bob.leg is None, message="legs closed on stop")
        assert all(leg.closed for leg in legs)
        people = {alice.local_participant.id: recorded, bob.local_participant.id: recorded}
    finally:
        await alice.leave()
        await bob.leave()
    rec = await asyncio.to_thread(wait_ready, api, rec_id)
    assert rec["status"] == "ready", rec
    await asyncio.to_thread(check_tracks, api, rec, people)


# ------------------------------------------------------------------------------------- Chromium + Python client


@pytest.fixture
def rec_page(browser: Any, rec_server: LiveServer) -> Iterator[Any]:
    """A Chromium page of ``rec_server`` with the SDK and the test harness (fake camera and microphone)."""
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.add_init_script(path=str(HARNESS))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(rec_server.url + "/sdk-test/")
    page.wait_for_function("window.levelchat !== undefined")
    yield page
    context.close()
    assert not errors, errors


def spool_files(rec_id: str) -> dict[str, int]:
    """The recording's live track files in the server's spool (the embedded default: the system temp dir)."""
    directory = Path(tempfile.gettempdir()) / "levelchat-spool" / rec_id
    return {p.name: p.stat().st_size for p in directory.glob("*.webm")} if directory.is_dir() else {}


def watch_spool(rec_id: str, count: int) -> dict[str, float]:
    """Wait until ``count`` track files grow; return when each was first seen (monotonic)."""
    first_seen: dict[str, float] = {}

    def grown() -> bool:
        for name, size in spool_files(rec_id).items():
            if size > 0:
                first_seen.setdefault(name, time.monotonic())
        return len(first_seen) >= count

    wait_until(grown, 120, 0.05, message=f"{count} track files written")
    return first_seen


def recording_events(page: Any) -> list[dict[str, Any]]:
    return [e["args"] for e in page.evaluate("lcTest.events") if e["name"] == "recording"]


def tone_powers(data: bytes, frequencies: tuple[float, ...]) -> dict[float, float]:
    """Power of each frequency in a file's audio (Goertzel over the whole signal, mono 48 kHz)."""
    samples: list[int] = []
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                samples.extend(array("h", bytes(out.planes[0])[: out.samples * 2]))
    powers = {}
    for f in frequencies:
        coeff = 2 * math.cos(2 * math.pi * f / 48000)
        s1 = s2 = 0.0
        for x in samples:
            s1, s2 = x + coeff * s1 - s2, s1
        powers[f] = (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(samples)) ** 2
    return powers


def luma_spread(frame: Any, x: int, y: int, w: int, h: int) -> float:
    """Standard deviation of a tile's luma (every 4th row and column): about 0 for the composer's flat background,
    large for any camera picture, however dark or bright it is on average."""
    plane = bytes(frame.planes[0])
    stride = frame.planes[0].line_size
    values = [plane[r * stride + c] for r in range(y, y + h, 4) for c in range(x, x + w, 4)]
    mean = sum(values) / len(values)
    return math.sqrt(max(0.0, sum(v * v for v in values) / len(values) - mean * mean))


def test_chromium_and_python_client_two_party_recording(
    rec_server: LiveServer, api_key: str, rec_page: Any, django_db_blocker: Any
) -> None:
    """The issue's test: a Chromium page (SDK) and a Python client in a meeting, recorded from the SDK, then from
    REST; each track file decodes to its recorded length ± 1 s with audio and video; the composed file has both
    people and mixed audio; both see the recording state; downloads need authorisation and serve ranges."""
    from tests.e2e.test_python_interop import BotThread

    room = make_room(django_db_blocker)
    api, anonymous = Api(rec_server, api_key), Api(rec_server, None)
    page = rec_page
    joined = page.evaluate(
        "([t, o]) => lcTest.join(t, o)",
        [token(room, "browser", django_db_blocker, role="host"), {"resolution": "180p"}],
    )
    assert "id" in joined, joined
    browser_id = joined["id"]
    bot_thread = BotThread()
    bot = bot_thread.run(join_room(token(room, "bot", django_db_blocker), url=rec_server.url))
    try:
        bot_thread.run(bot.publish_track(SyntheticVideoTrack(W, H, FPS), source="camera"))
        bot_thread.run(bot.publish_track(ToneAudioTrack(660), source="microphone"))
        bot_id = bot.local_participant.id
        # Both are in the call. Its mesh media is not waited for: the recording does not depend on it, and an
        # aiortc DTLS error against Chromium on a loaded machine (struct.error in RTCDtlsTransport) can sink it.
        wait_until(lambda: page.evaluate("(id) => lcTest.room.participants.has(id)", bot_id), message="bot seen")
        wait_until(lambda: browser_id in bot.participants, message="browser seen")

        # --- started from the SDK: both sides see it, both publishers open their recording legs
        page.evaluate("lcTest.room.record()")
        wait_until(lambda: bot.recording is not None, message="the Python client sees the recording")
        rec_id = bot.recording
        wait_until(lambda: page.evaluate("lcTest.room.recording") == rec_id, message="the page sees it")
        assert ["started", {"recording": rec_id}] in [e[:2] for e in recording_events(page)]
        first_seen = watch_spool(rec_id, 4)  # camera + mic of each person
        time.sleep(6)  # the length under test: recorded while both legs send
        page.evaluate("lcTest.room.stopRecording()")
        stopped_at = time.monotonic()
        wait_until(lambda: bot.recording is None and bot.leg is None, message="the bot's leg closes on stop")
        wait_until(lambda: page.evaluate("lcTest.room.recording") is None, message="the page sees the stop")

        # --- started and stopped over REST
        code, rest = api.json("POST", f"/rooms/{room.public_id}/recordings")
        assert code == 201, rest
        wait_until(lambda: bot.recording == rest["id"], message="REST start reaches everyone")
        wait_until(lambda: page.evaluate("lcTest.room.recording") == rest["id"], message="page sees the REST start")
        watch_spool(rest["id"], 4)
        code, stopped = api.json("POST", f"/rooms/{room.public_id}/recordings/{rest['id']}/stop")
        assert code == 200, stopped
        wait_until(lambda: page.evaluate("lcTest.room.recording") is None, message="page sees the REST stop")
    finally:
        bot_thread.run(bot.leave())
        bot_thread.stop()

    rec = wait_ready(api, rec_id)
    assert rec["status"] == "ready", rec
    tracks = {(f["participant"], f["kind"]): f for f in rec["files"] if f["role"] == "track"}
    assert set(tracks) == {(p, k) for p in (browser_id, bot_id) for k in ("video", "audio")}, rec["files"]
    by_sid = {f["track"]: f for f in tracks.values()}
    for name, seen in first_seen.items():
        file = by_sid[Path(name).stem.split("-", 2)[2]]  # spool files are "<n>-<kind>-<sid>.webm"
        got = decode(fetch(api, f"/recordings/{rec_id}/files/{file['id']}/download"))
        expected = stopped_at - seen
        assert file["kind"] in got, (file, got)
        assert got[file["kind"]]["duration"] == pytest.approx(expected, abs=1.0), (file, got, expected)

    composed = next(f for f in rec["files"] if f["role"] == "composed")
    code, _, _ = anonymous.call("GET", f"/recordings/{rec_id}/download")
    assert code in (401, 403), code  # no key, no file
    data = fetch(api, f"/recordings/{rec_id}/download")
    with av.open(io.BytesIO(data)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        rate = float(container.streams.video[0].average_rate or 15)
        video = list(container.decode(video=0))
    half = video[0].width // 2
    spreads = [[luma_spread(f, x, 0, half, f.height) for x in (0, half)] for f in video]
    # Both people are in the picture: each grid half shows a picture, not the flat background, for at least 4.5 s
    # (each camera sent for 6 s and its file's length is checked above to ± 1 s; 0.5 s for the 15 fps grid).
    # A tile shows a picture when its luma is spread (std > 16): the flat background is ~0.5 after VP8, the
    # darkest Chromium frame ~47, the bot's gradient ~68. Which half is whose follows the track files' order.
    # Not judged by mean luma: Chromium's fake camera is a pac-man sweeping at 600°/s over a black frame, so its
    # tile's mean luma is a sawtooth 11 → 58 with a 0.6 s period (9 frames at 15 fps), and one sample every
    # len // 12 frames of a 7.2-7.9 s file (a loaded run) hits the same phase every time (failed at ~19).
    shown = [sum(frame[side] > 16 for frame in spreads) / rate for side in (0, 1)]
    summary = [[round(value) for value in frame] for frame in spreads[::5]]
    assert all(seconds >= 4.5 for seconds in shown), (shown, summary, composed)
    # Mixed audio: the bot's 660 Hz tone and the browser's fake microphone (Chromium beeps at 400 Hz) are both in
    # the composed sound, well above a frequency neither makes.
    browser_mic = fetch(api, f"/recordings/{rec_id}/files/{tracks[(browser_id, 'audio')]['id']}/download")
    mic = tone_powers(browser_mic, (400.0, 660.0, 1500.0))
    mix = tone_powers(data, (400.0, 660.0, 1500.0))
    assert mic[400.0] > 10 * mic[1500.0], mic  # what the browser sent
    assert mix[660.0] > 10 * mix[1500.0] and mix[400.0] > 10 * mix[1500.0], mix
    assert wait_ready(api, rest["id"])["status"] == "ready"
