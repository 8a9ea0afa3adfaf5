"""kill -9 of a process that is recording leaves a file that plays up to at most 2 s before the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from django_levelchat.recording.finalize import remux
from tests.recording.media import decode_summary

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_mid_recording_leaves_a_playable_file(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.recording.crash_writer", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    written = 0.0
    try:
        for line in proc.stdout:  # blocks until the child reports; no sleeps
            written = float(line)
            if written >= 5.0:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert written >= 5.0

    live = tmp_path / "cam.webm"
    summary = decode_summary(str(live))["video"]
    assert summary["end"] >= written - 2.0  # everything handed over up to 2 s before the kill decodes
    fixed = remux(live, tmp_path / "fixed.webm")
    assert fixed.duration >= written - 2.0
    assert decode_summary(str(fixed.path))["video"]["frames"] >= (written - 2.0) * 30
