"""The README's first command as a user runs it: ``manage.py rundemo`` on a port of their choice, its banner shown
at once even when stdout is a pipe, and the example pages served."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.services import free_port

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0


@pytest.mark.timeout(300)
def test_rundemo_on_another_port_prints_banner_through_a_pipe_and_serves(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVELCHAT_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(LEVELCHAT_SQLITE_PATH=str(tmp_path / "demo.sqlite3"), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        banner = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if "alice / demo" in line:
                    banner.set()

        threading.Thread(target=read, daemon=True).start()
        # The banner must arrive while the server is still running (it runs until interrupted).
        assert banner.wait(WAIT), f"no banner through the pipe: {''.join(lines)}"
        assert proc.poll() is None
        assert f"http://127.0.0.1:{port}/" in "".join(lines)
        deadline = time.monotonic() + WAIT
        while True:  # the server starts listening a moment after the banner
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=WAIT) as response:
                    assert response.status == 200
                    break
            except urllib.error.URLError:
                assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(30)
