"""``manage.py levelchat_loadtest``: bounds checked up front; a small real run (its own daphne, real aiortc peers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from django_levelchat.client.loadtest import Plan, percentile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--video-publishers", "17"], "at most 16 participants per room"),
        (["--rooms", "5", "--video-publishers", "14"], "at most 64 participants"),
        (["--duration", "601"], "--duration"),
        (["--join-rate", "0"], "--join-rate"),
        (["--video-publishers", "0"], "at least one"),
        (["--url", "http://198.51.100.7:8000"], "not a loopback address"),
    ],
)
def test_bounds_are_checked_before_anything_runs(args, message, db):
    with pytest.raises(CommandError, match=message):
        call_command("levelchat_loadtest", *args)


def test_plan_and_percentiles():
    plan = Plan(rooms=2, video_publishers=2, audio_publishers=1, subscribers=3)
    assert plan.per_room == 6 and plan.roles() == ["video", "video", "audio", "sub", "sub", "sub"]
    assert plan.expected_tracks() == 3 * 5
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([1, 2, 3, 4], 99) == 4


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_small_mesh_run_reports_every_figure(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVELCHAT_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DJANGO_SECRET_KEY="loadtest-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LEVELCHAT_SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        PYTHONPATH=str(ROOT),
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    out = subprocess.run(
        [*manage, "levelchat_loadtest", "--rooms", "1", "--video-publishers", "2", "--audio-publishers", "0",
         "--subscribers", "1", "--duration", "4", "--join-rate", "10", "--json", str(tmp_path / "r.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "joined 3/3" in out.stderr  # the progress line
    assert out.stdout.splitlines()[0].split()[:3] == ["room", "joins", "join"]
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [r["room"] for r in rows] == ["room 1", "total"]
    total = rows[-1]
    assert total["joins"] == "3/3" and total["tracks"] == "4/4" and total["chat"] == "9/9"
    assert total["errors"] == 0 and total["frames"] > 0
    assert int(total["packets/track"]) > 0 and int(total["video kbps/track"]) > 0
    assert total["loss"].endswith("%") and float(total["loss"][:-1]) < 50
    assert all(v.isdigit() for v in total["join ms p50/p95/p99"].split("/"))
