"""Memory diagnosis for the benchmark daphne processes (``bench.asgi`` installs it when ``LEVELCHAT_MEMDIAG_DIR``
is set): tracemalloc runs from start-up (``LEVELCHAT_MEMDIAG_FRAMES`` frames, default 8) and each SIGUSR1 writes,
into that directory, ``<pid>-<n>.snap`` (a tracemalloc snapshot: compare two with ``python -m bench.memdiag A B``)
and ``<pid>-<n>.json`` (object counts by type from ``gc``, RSS, asyncio tasks, tracemalloc's traced total).
"""

from __future__ import annotations

import collections
import gc
import itertools
import json
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from typing import Any

_counter = itertools.count()


def _dump(directory: Path) -> None:
    n = next(_counter)
    pid = os.getpid()
    before = {"count": gc.get_count(), "stats": gc.get_stats()}
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what a collection finds, to name it
    try:
        before["collected"] = gc.collect()  # cyclic garbage the thresholds had not got to yet
        garbage = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
        before["garbage"] = dict(garbage.most_common(40))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()  # what DEBUG_SAVEALL kept is garbage again: free it now
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [
                tracemalloc.Filter(False, tracemalloc.__file__),
                tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            ]
        )
        snapshot.dump(str(directory / f"{pid}-{n}.snap"))
    objects = gc.get_objects()
    types = collections.Counter(type(o).__name__ for o in objects)
    info: dict[str, Any] = {
        "pid": pid,
        "n": n,
        "traced": tracemalloc.get_traced_memory(),
        "structures": _structures(objects),
        "gc": before,
        "rss_kb": next(
            int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if "VmRSS" in line
        ),
        "gc_objects": sum(types.values()),
        "types": dict(types.most_common(60)),
    }
    try:
        import asyncio

        info["tasks"] = len(asyncio.all_tasks(asyncio.get_event_loop()))
    except Exception as exc:  # no loop in this thread
        info["tasks"] = repr(exc)
    (directory / f"{pid}-{n}.json").write_text(json.dumps(info, indent=1))


def _structures(objects: list[Any]) -> dict[str, Any]:
    """Sizes of the process's per-session structures, and the channel layer's receive buffers: live channels (a
    consumer exists) or dead ones (messages that arrived after their consumer ended)."""
    from channels.layers import get_channel_layer

    from django_levelchat.signaling import liveness, rooms

    live = {getattr(o, "channel_name", None) for o in objects if type(o).__name__ == "SignalingConsumer"}
    out: dict[str, Any] = {
        "consumers": len(live),
        "liveness_owners": len(liveness._owners),
        "liveness_pending": len(liveness._pending),
        "background_tasks": len(rooms._background),
    }
    layer = get_channel_layer()
    buffers = getattr(layer, "receive_buffer", None)
    if buffers is not None:
        dead = [c for c in buffers if c not in live]
        kinds = collections.Counter(
            str(m.get("type")) + ":" + str(m.get("event") or m.get("action") or m.get("reason"))
            for c in dead
            for m in list(buffers[c]._queue)
        )
        out.update(
            buffers=len(buffers),
            buffered=sum(q.qsize() for q in buffers.values()),
            dead_buffers=len(dead),
            dead_buffered=sum(buffers[c].qsize() for c in dead),
            dead_kinds=dict(kinds.most_common(12)),
            cleaners=len(getattr(layer, "receive_cleaners", [])),
        )
    for obj in objects:
        if type(obj).__name__ == "DatabaseSweep":
            out["absent_since"] = len(obj.absent_since)
    return out


def install() -> None:
    directory = os.environ.get("LEVELCHAT_MEMDIAG_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    frames = int(os.environ.get("LEVELCHAT_MEMDIAG_FRAMES", "8"))
    if frames:  # 0: only the counts (no tracemalloc: no slowdown)
        tracemalloc.start(frames)
    signal.signal(signal.SIGUSR1, lambda *_: _dump(path))


def compare(a: str, b: str, limit: int = 25) -> None:
    old, new = tracemalloc.Snapshot.load(a), tracemalloc.Snapshot.load(b)
    for key in ("filename", "lineno", "traceback"):
        stats = new.compare_to(old, key)
        total = sum(s.size_diff for s in stats)
        print(f"== by {key}: total {total / 1024:+.1f} KiB")
        for stat in stats[: limit if key != "traceback" else 12]:
            print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}")
            if key == "traceback":
                for frame in stat.traceback.format()[-16:]:
                    print("      " + frame)


def compare_types(a: str, b: str) -> None:
    old, new = json.loads(Path(a).read_text()), json.loads(Path(b).read_text())
    print(
        f"rss {old['rss_kb']} -> {new['rss_kb']} kB; traced {old['traced']} -> {new['traced']}; "
        f"objects {old['gc_objects']} -> {new['gc_objects']}; tasks {old['tasks']} -> {new['tasks']}"
    )
    diffs = {t: new["types"].get(t, 0) - old["types"].get(t, 0) for t in set(old["types"]) | set(new["types"])}
    for t, d in sorted(diffs.items(), key=lambda kv: -abs(kv[1]))[:30]:
        print(f"  {d:+8d} {t} ({new['types'].get(t, 0)})")


if __name__ == "__main__":
    if sys.argv[1].endswith(".json"):
        compare_types(sys.argv[1], sys.argv[2])
    else:
        compare(sys.argv[1], sys.argv[2])
