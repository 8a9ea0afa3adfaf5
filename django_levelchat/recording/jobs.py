"""The after-the-call jobs: finalise the spooled track files into storage, compose the call, settle the row.

Runs outside the SFU process (``manage.py levelchat_recordings``, or a thread of the web process in embedded
mode, see ``runner.py``). Decoding happens only here, in :mod:`compose`. A job is claimed by a conditional UPDATE,
so several runners never process the same recording; a claim older than ``CLAIM_TIMEOUT`` is taken over (the
runner died). Every step is idempotent, so a job cut off halfway is simply done again.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.files import File
from django.db.models import Q, Sum
from django.utils import timezone

from django_levelchat import lifecycle
from django_levelchat.conf import levelchat_settings
from django_levelchat.exceptions import IllegalTransition
from django_levelchat.models import Recording, RecordingFile
from django_levelchat.recording import compose
from django_levelchat.recording.finalize import remux
from django_levelchat.recording.spool import recording_dir, track_files
from django_levelchat.recording.storage import recording_storage, spool_dir, storage_name
from django_levelchat.recording.timeline import TrackStart, align

logger = logging.getLogger("django_levelchat.recording")

CLAIM_TIMEOUT = timedelta(minutes=30)
#: A job that raised (a database or storage error) is claimable again this long after, doubling with each failure
#: in this process up to CLAIM_TIMEOUT: not only once its claim times out.
RETRY_DELAY = timedelta(seconds=5)
_failures: dict[int, int] = {}  # recording pk -> jobs of it that raised here
R: Any = Recording.Status  # without Django stubs mypy reads members as (value, label) tuples


def reap(now: datetime | None = None) -> list[Recording]:
    """Fail (partial) every recording whose worker stopped reporting; the job then finalises what it wrote."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=float(levelchat_settings.RECORDING_HEARTBEAT_TIMEOUT))
    failed = []
    for recording in Recording.objects.filter(status=R.RECORDING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    ):
        try:
            lifecycle.set_recording_status(
                recording, R.FAILED, partial=True, error="The SFU worker stopped while recording."
            )
        except IllegalTransition:
            continue  # stopped (or reaped) by someone else meanwhile
        failed.append(recording)
    return failed


def fail_worker(worker: str) -> list[Recording]:
    """At a worker's start: its recordings left over from a previous life are failed (partial) and finalised."""
    failed = []
    for recording in Recording.objects.filter(status=R.RECORDING, worker=worker):
        try:
            lifecycle.set_recording_status(recording, R.FAILED, partial=True, error="The SFU worker restarted.")
        except IllegalTransition:
            continue
        failed.append(recording)
    return failed


def claim(now: datetime | None = None) -> Recording | None:
    """Take the oldest pending job, or None."""
    now = now or timezone.now()
    stale = now - CLAIM_TIMEOUT
    pending = Recording.objects.filter(needs_processing=True).filter(
        Q(job_claimed_at__isnull=True) | Q(job_claimed_at__lt=stale)
    )
    for recording in pending.order_by("stopped_at", "pk")[:10]:
        won = Recording.objects.filter(
            pk=recording.pk, needs_processing=True, job_claimed_at=recording.job_claimed_at
        ).update(job_claimed_at=now)
        if won:
            recording.refresh_from_db()
            return recording
    return None


def process(recording: Recording) -> Recording:
    """Finalise, compose and settle one claimed recording."""
    errors: list[str] = [recording.error] if recording.error else []
    with tempfile.TemporaryDirectory(prefix="levelchat-job-") as scratch:
        work = Path(scratch)
        local = _finalise_tracks(recording, work, errors)
        if levelchat_settings.RECORDING_LAYOUT and local:
            _compose(recording, local, work, errors)
    files = RecordingFile.objects.filter(recording=recording)
    total = files.aggregate(total=Sum("size"))["total"] or 0
    composed = files.filter(role=RecordingFile.Role.COMPOSED).first()
    tracks = list(files.filter(role=RecordingFile.Role.TRACK))
    duration = composed.duration if composed else max((f.offset + f.duration for f in tracks), default=0.0)
    if not tracks:
        errors.append("Nothing was recorded (no track delivered a keyframe).")
    fields = {"size": total, "duration": duration, "error": "\n".join(errors), "needs_processing": False}
    if recording.status == R.PROCESSING:
        target = R.READY if tracks and len(errors) == 0 else R.FAILED
        lifecycle.set_recording_status(recording, target, **fields)
    else:
        Recording.objects.filter(pk=recording.pk).update(**fields)
        recording.refresh_from_db()
    return recording


def _finalise_tracks(recording: Recording, work: Path, errors: list[str]) -> list[compose.Input]:
    """Remux each spooled file, save it to storage, record it; returns the local finished copies."""
    directory = recording_dir(spool_dir(), recording.public_id)
    spooled = track_files(directory)
    storage = recording_storage()
    if not spooled:
        return _download_tracks(recording, work)
    for old in RecordingFile.objects.filter(recording=recording, role=RecordingFile.Role.TRACK):
        storage.delete(old.name)  # a previous run cut off halfway: do it again from the spool
        old.delete()
    offsets = align(
        TrackStart(key=path.name, group=meta.participant, arrival=meta.arrival or 0.0, sender=meta.sender)
        for path, meta in spooled
    )
    inputs = []
    for path, meta in spooled:
        target = work / path.name
        try:
            done = remux(path, target)
        except Exception as exc:  # a file too damaged to read: keep the others
            logger.exception("cannot finalise %s", path)
            errors.append(f"{path.name}: {exc}")
            continue
        if done.packets == 0:
            continue
        with open(target, "rb") as handle:
            name = storage.save(storage_name(recording.public_id, path.name), File(handle, name=path.name))
        RecordingFile.objects.create(
            recording=recording,
            role=RecordingFile.Role.TRACK,
            kind=meta.kind,
            participant=meta.participant,
            track=meta.track,
            source=meta.source,
            codec=meta.codec,
            name=name,
            size=target.stat().st_size,
            duration=done.duration,
            offset=offsets.get(path.name, 0.0),
            truncated=done.truncated,
        )
        inputs.append(
            compose.Input(path=target, kind=meta.kind, participant=meta.participant, offset=offsets[path.name])
        )
    shutil.rmtree(directory, ignore_errors=True)
    return inputs


def _download_tracks(recording: Recording, work: Path) -> list[compose.Input]:
    """The spool is gone (a rerun after it was cleaned up): fetch the finished track files back for composing."""
    storage = recording_storage()
    inputs = []
    for f in RecordingFile.objects.filter(recording=recording, role=RecordingFile.Role.TRACK):
        target = work / Path(f.name).name
        with storage.open(f.name, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        inputs.append(compose.Input(path=target, kind=f.kind, participant=f.participant, offset=f.offset))
    return inputs


def _compose(recording: Recording, inputs: list[compose.Input], work: Path, errors: list[str]) -> None:
    storage = recording_storage()
    for old in RecordingFile.objects.filter(recording=recording, role=RecordingFile.Role.COMPOSED):
        storage.delete(old.name)
        old.delete()
    target = work / "composed.webm"
    try:
        result = compose.compose(inputs, target, layout=levelchat_settings.RECORDING_LAYOUT)
    except Exception as exc:
        logger.exception("cannot compose %s", recording.public_id)
        errors.append(f"composing failed: {exc}")
        return
    with open(target, "rb") as handle:
        name = storage.save(storage_name(recording.public_id, "composed.webm"), File(handle, name="composed.webm"))
    RecordingFile.objects.create(
        recording=recording,
        role=RecordingFile.Role.COMPOSED,
        kind="av",
        codec="vp8+opus",
        name=name,
        size=target.stat().st_size,
        duration=result.duration,
    )


def run_pending(*, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Reap dead workers' recordings, then process every pending job; returns how many were processed."""
    reap()
    done = 0
    while not should_stop() and (recording := claim()) is not None:
        try:
            process(recording)
        except Exception:
            delay = release(recording)
            logger.exception("recording job %s failed; it will be retried in %.0f s", recording.public_id, delay)
            continue
        _failures.pop(recording.pk, None)
        done += 1
    return done


def release(recording: Recording) -> float:
    """Give a job that raised back, claimable again after a delay (its claim is backdated); returns the delay in
    seconds. If even that fails, the claim times out after CLAIM_TIMEOUT."""
    failures = _failures[recording.pk] = _failures.get(recording.pk, 0) + 1
    delay = min(RETRY_DELAY * 2 ** (failures - 1), CLAIM_TIMEOUT)
    try:
        Recording.objects.filter(pk=recording.pk, job_claimed_at=recording.job_claimed_at).update(
            job_claimed_at=timezone.now() - CLAIM_TIMEOUT + delay
        )
    except Exception:
        logger.exception("could not release recording job %s", recording.public_id)
        return CLAIM_TIMEOUT.total_seconds()
    return delay.total_seconds()
