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
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import av
import pytest
from django.conf import settings

from django_levelchat.client import SyntheticVideoTrack, ToneAudioTrack, join_room
from django_levelchat.models import Room
from tests.e2e.conftest import in_db_thread
from tests.e2e.live import ROOT, LiveServer, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]
DB_ALIAS = "recording_e2e"  # this module's own server, so its own SQLite file
W, H, FPS = 320, 240, 15


@pytest.fixture(scope="module")
def rec_server(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[LiveServer]:
    """In-memory channel layer: the SFU worker and the recording jobs run inside daphne (the embedded default)."""
    from django.db import connections

    workdir = tmp_path_factory.mktemp("rec-e2e")
    extra = {"LEVELCHAT_MEDIA_ROOT": str(workdir / "media")}
    server = start_server(workdir, secret_key=settings.SECRET_KEY, extra_env=extra)
    conf = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(server.db_path), "OPTIONS": {"timeout": 20}}
    connections.settings[DB_ALIAS] = connections.configure_settings({"default": {}, DB_ALIAS: conf})[DB_ALIAS]
    try:
        yield server
    finally:
        if DB_ALIAS in connections.settings:
            in_db_thread(lambda: connections[DB_ALIAS].close(), django_db_blocker)
            del connections.settings[DB_ALIAS]
        server.stop()


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
