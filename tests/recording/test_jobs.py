"""After the call: spooled track files → storage, rows, composed file; a killed worker → failed row, kept files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import av
import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from django_levelchat import lifecycle
from django_levelchat.models import Recording, RecordingFile, Room
from django_levelchat.recording import jobs, runner
from django_levelchat.recording.spool import TrackMeta, recording_dir
from django_levelchat.recording.storage import recording_storage
from django_levelchat.recording.writer import TrackWriter
from tests.recording.media import AUDIO_SAMPLES, VIDEO_TICKS, encode_opus, encode_vp8

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spool(tmp_path, settings, levelchat_settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    levelchat_settings(RECORDING_SPOOL_DIR=str(tmp_path / "spool"), RECORDING_LAYOUT="grid")
    return tmp_path / "spool"


def _spool_call(directory: Path, arrival: float) -> None:
    """What the SFU worker leaves in the spool for a 2-person, 2-second call."""
    for person, luma, freq, start in (("alice", 220, 440, 0.0), ("bob", 30, 880, 0.5)):
        clock = arrival + start
        video = TrackWriter(
            directory,
            f"{person}-camera",
            TrackMeta(participant=person, track=f"TR_{person}_v", kind="video", codec="vp8", source="camera"),
            wallclock=lambda c=clock: c,
        )
        for frame in encode_vp8(2, luma=luma):
            video.write(frame.data, 5000 + frame.index * VIDEO_TICKS, frame.keyframe)
        video.close()
        audio = TrackWriter(
            directory,
            f"{person}-mic",
            TrackMeta(participant=person, track=f"TR_{person}_a", kind="audio", codec="opus", source="mic"),
            wallclock=lambda c=clock: c,
        )
        for frame in encode_opus(2, freq=freq):
            audio.write(frame.data, 7000 + frame.index * AUDIO_SAMPLES)
        audio.close()


@pytest.mark.django_db
def test_stopped_recording_is_finalised_into_storage_and_composed(spool, room):
    rec = lifecycle.create_recording(room, started_by="api:test", worker="w1")
    directory = recording_dir(spool, rec.public_id)
    _spool_call(directory, arrival=1_700_000_000.0)
    lifecycle.set_recording_status(rec, Recording.Status.PROCESSING)

    call_command("levelchat_recordings", "--once")

    rec.refresh_from_db()
    assert rec.status == "ready" and not rec.needs_processing and rec.error == ""
    files = list(rec.files.all())
    tracks = [f for f in files if f.role == "track"]
    assert sorted((f.participant, f.kind, f.source) for f in tracks) == [
        ("alice", "audio", "mic"),
        ("alice", "video", "camera"),
        ("bob", "audio", "mic"),
        ("bob", "video", "camera"),
    ]
    assert {f.participant: f.offset for f in tracks if f.kind == "video"} == pytest.approx({"alice": 0.0, "bob": 0.5})
    storage = recording_storage()
    for f in files:
        assert f.name.startswith(f"levelchat/recordings/{rec.public_id}/") and storage.exists(f.name)
        assert storage.size(f.name) == f.size > 0
    composed = rec.composed
    assert composed is not None and composed.kind == "av"
    assert rec.duration == pytest.approx(2.5, abs=1.0)
    assert rec.size == sum(f.size for f in files)
    with av.open(storage.path(composed.name)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
    assert not directory.exists(), "the spool is cleaned once the files are in storage"
    # Idempotent: nothing is pending any more.
    assert jobs.run_pending() == 0


@pytest.mark.django_db
def test_killed_worker_leaves_a_playable_partial_file_and_a_failed_row(spool, room):
    rec = lifecycle.create_recording(room, worker="w-dead")
    directory = recording_dir(spool, rec.public_id)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.recording.crash_writer", str(directory)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    written = 0.0
    try:
        for line in proc.stdout:
            written = float(line)
            if written >= 3.0:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
    assert written >= 3.0

    # The worker stopped heartbeating: the reaper (run by every job pass) fails the row, the job keeps the file.
    Recording.objects.filter(pk=rec.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert jobs.run_pending() == 1
    rec.refresh_from_db()
    assert rec.status == "failed" and rec.partial and "stopped" in rec.error
    track = rec.files.get(role=RecordingFile.Role.TRACK)
    assert track.duration >= written - 2.0
    with av.open(recording_storage().path(track.name)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= (written - 2.0) * 30


@pytest.mark.django_db
def test_worker_restart_fails_its_own_recordings_only(spool, room):
    other = Room.objects.create(name="other")
    mine = lifecycle.create_recording(room, worker="w1")
    theirs = lifecycle.create_recording(other, worker="w2")
    assert [r.pk for r in jobs.fail_worker("w1")] == [mine.pk]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.partial, theirs.status) == ("failed", True, "recording")
    assert jobs.reap() == [], "w2 is still heartbeating"


@pytest.mark.django_db
def test_nothing_recorded_is_a_failure_with_a_reason(spool, room):
    rec = lifecycle.create_recording(room)
    lifecycle.set_recording_status(rec, Recording.Status.PROCESSING)
    jobs.run_pending()
    rec.refresh_from_db()
    assert rec.status == "failed" and "Nothing was recorded" in rec.error and rec.composed is None


@pytest.mark.django_db
def test_a_job_is_claimed_once(spool, room):
    rec = lifecycle.create_recording(room)
    lifecycle.set_recording_status(rec, Recording.Status.PROCESSING)
    now = timezone.now()
    assert jobs.claim(now).pk == rec.pk
    assert jobs.claim(now) is None, "a second runner does not get the same job"
    assert jobs.claim(now + jobs.CLAIM_TIMEOUT + timedelta(seconds=1)).pk == rec.pk, "a dead runner's claim expires"


def test_a_job_that_raised_is_retried_after_a_delay_not_the_claim_timeout(spool, room, monkeypatch):
    """A transient error (a locked database, a storage hiccup) costs the job a few seconds, not CLAIM_TIMEOUT;
    each further failure doubles the wait."""
    rec = lifecycle.create_recording(room)
    _spool_call(recording_dir(spool, rec.public_id), arrival=1_700_000_000.0)
    lifecycle.set_recording_status(rec, Recording.Status.PROCESSING)
    original, calls = jobs.process, []

    def flaky(recording: Recording) -> Recording:
        calls.append(recording.pk)
        if len(calls) == 1:
            raise OperationalError("database table is locked")
        return original(recording)

    monkeypatch.setattr(jobs, "process", flaky)
    assert jobs.run_pending() == 0 and calls == [rec.pk]  # failed, and not claimed again in the same pass
    now = timezone.now()
    assert jobs.claim(now) is None
    again = jobs.claim(now + jobs.RETRY_DELAY + timedelta(seconds=1))
    assert again is not None and again.pk == rec.pk
    assert jobs.release(again) == 2 * jobs.RETRY_DELAY.total_seconds()  # failed again: the wait doubles
    assert jobs.claim(now + jobs.RETRY_DELAY + timedelta(seconds=2)) is None
    assert jobs.claim(now + 2 * jobs.RETRY_DELAY + timedelta(seconds=2)) is not None
    Recording.objects.filter(pk=rec.pk).update(job_claimed_at=None)  # as if that wait had passed
    assert jobs.run_pending() == 1
    rec.refresh_from_db()
    assert rec.status == "ready" and len(calls) == 2
    assert rec.pk not in jobs._failures  # a success forgets the failures


@pytest.mark.django_db(transaction=True)
def test_embedded_mode_runs_jobs_in_a_thread(spool, room, levelchat_settings):
    levelchat_settings(RECORDING_JOBS_IN_PROCESS=True, RECORDING_LAYOUT=None)
    rec = lifecycle.create_recording(room)
    _spool_call(recording_dir(spool, rec.public_id), arrival=1_700_000_000.0)
    try:
        lifecycle.set_recording_status(rec, Recording.Status.PROCESSING)  # on commit: wakes the thread
        deadline, pause = timezone.now() + timedelta(seconds=120), threading.Event()
        while timezone.now() < deadline:
            try:
                rec.refresh_from_db()
                if rec.status == "ready":
                    break
            except OperationalError:  # the test database is shared-cache SQLite: a table lock is not waited for
                pass
            pause.wait(0.05)  # poll the condition; the deadline only bounds a hang
    finally:
        runner.stop()
    assert rec.status == "ready" and rec.files.count() == 4 and rec.composed is None
