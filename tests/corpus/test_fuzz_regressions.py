"""G8: what the fuzzers found stays fixed. Every input under ``tests/corpus/regressions/`` (named after its target)
and every seed the fuzzers start from runs through its target (``fuzz/targets.py``): each returns, or raises the
one documented error of the code under test, which the target absorbs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz import targets

REGRESSIONS = Path(__file__).parent / "regressions"


def _inputs(target: str) -> list[bytes]:
    found = [path.read_bytes() for path in sorted(REGRESSIONS.glob(f"{target}-*"))]
    return targets.seeds(target) + found


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_fuzz_inputs_replay_cleanly(target):
    inputs = _inputs(target)
    assert inputs, "at least the seeds"
    for data in inputs:
        targets.TARGETS[target](data)
    # The seeds are valid inputs: the parser and the validators accept them, so the replay exercises their full path.
    if target == "parse":
        from django_levelchat import protocol

        assert all(protocol.parse_frame(data) for data in targets.seeds(target))
