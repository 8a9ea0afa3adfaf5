"""G16, the functional half of the soak, in short: ``bench/soak.py`` with churn (leaves and dropped connections)
and chat on two daphne processes, Redis and PostgreSQL. No socket is ended by the server, every Participant row is
closed once everyone left, and every Redis key left behind expires (none without a TTL but the one hash of
process progress marks, which prunes itself). The figures (RSS, fds,
key counts over 20 minutes) are the bench's (docs/reliability.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.servers import ROOT
from tests.services import postgres_missing_reason, redis_missing_reason

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(900)]


def test_short_soak_leaves_nothing_open(tmp_path):
    if reason := redis_missing_reason() or postgres_missing_reason():
        pytest.skip(reason)
    out = tmp_path / "soak.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "1", "--connections", "40", "--warmup", "15"]
        + ["--sample-every", "5", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=800,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["joins"] >= 40 + 50 and result["join_failures"] == 0  # the churn ran: ~1 join per second
    assert result["leaves"] > 0 and result["drops"] > 0
    assert result["closes"] == {}, result["closes"]  # no 1011, no server close of any kind
    assert result["alive"] == [True, True]
    assert result["open_rows_after"] == 0
    # Every key expires, but the processes' progress marks: one hash whose stale fields each heartbeat batch drops.
    no_ttl = {shape: n for shape, (_, n) in result["redis_key_families"].items() if n and shape != "levelchat:marks"}
    assert no_ttl == {}, no_ttl
    assert all(s["members"] == 40 for s in result["samples"][1:]), [s["members"] for s in result["samples"]]
