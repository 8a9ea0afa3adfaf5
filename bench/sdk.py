"""Browser SDK benchmark (issue 5, "Benchmark"): the SDK's size and the time from ``joinRoom`` to the first
remote video frame between two local Chromium pages.

- **Size**: ``levelchat.js`` bundled and minified with esbuild (dev only: the SDK ships unbundled as ES modules),
  then gzipped (level 9). Target ≤ 25 KiB. Needs ``npm ci`` (esbuild in ``node_modules``).
- **Join → first frame**: a daphne subprocess serves the example project on loopback (SQLite file, in-memory
  channel layer: one process). Per run, a fresh room: page A joins and publishes camera + mic; then page B calls
  ``joinRoom`` and publishes too, and the time from that call to the first decoded frame of A's video on B
  (``requestVideoFrameCallback``) is taken. Median of ``--runs`` (10). Target ≤ 1.0 s on loopback. Debian
  chromium with fake devices (a 640×480 test pattern, captured at 360p), ``iceServers: []``.

It prints the figures with their targets and never asserts: a missed target is a finding.

    python -m bench.sdk                 # both
    python -m bench.sdk --runs 20 --json out.json
    python -m bench.sdk --size-only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZE_TARGET = 25 * 1024
FIRST_FRAME_TARGET_MS = 1000.0


def bundle_size() -> dict[str, Any]:
    """esbuild bundle + minify + gzip of levelchat.js, via ``bench/sdk-size.mjs``."""
    try:
        out = subprocess.run(
            ["node", str(ROOT / "bench" / "sdk-size.mjs"), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        return {"error": f"could not bundle (run `npm ci` first): {getattr(exc, 'stderr', '') or exc}"}
    return json.loads(out.stdout)


def first_frame(runs: int, codec: str | None = None) -> dict[str, Any]:
    """Median time from ``joinRoom`` to the first remote video frame, over ``runs`` fresh rooms."""
    workdir = Path(tempfile.mkdtemp(prefix="levelchat-bench-sdk-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    os.environ["LEVELCHAT_SQLITE_PATH"] = str(workdir / "db.sqlite3")
    os.environ.pop("LEVELCHAT_REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings

    from tests.e2e.live import CHROMIUM, CHROMIUM_ARGS, start_server

    server = start_server(workdir, secret_key=settings.SECRET_KEY)
    try:
        from django_levelchat.models import Room
        from django_levelchat.tokens import issue_token

        # Rooms and tokens first: Playwright's sync API keeps an event loop running, where the ORM refuses to run.
        pairs = []
        for i in range(runs):
            room = Room.objects.create(name=f"bench {i}")
            pairs.append((issue_token(room, "alice", ttl=600), issue_token(room, "bob", ttl=600)))
        harness = (ROOT / "tests" / "e2e" / "harness.js").read_text()
        from playwright.sync_api import sync_playwright

        samples: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            print(f"  chromium {browser.version}", flush=True)
            contexts = [browser.new_context(), browser.new_context()]
            for context in contexts:
                context.add_init_script(script=harness)
            page_a, page_b = (context.new_page() for context in contexts)
            options = {"codec": codec} if codec else {}
            for alice, bob in pairs:
                for page in (page_a, page_b):
                    page.goto(server.url + "/sdk-test/")
                    page.wait_for_function("window.levelchat !== undefined")
                result = page_a.evaluate("([t, o]) => lcTest.join(t, o)", [alice, options])
                assert "id" in result, result
                started = time.monotonic()
                result = page_b.evaluate("([t, o]) => lcTest.join(t, o)", [bob, options])
                assert "id" in result, result
                page_b.wait_for_function("lcTest.firstFrameMs !== undefined", timeout=20_000)
                samples.append(page_b.evaluate("lcTest.firstFrameMs"))
                wall = time.monotonic() - started
                codec_seen = page_b.evaluate("lcTest.inboundVideoCodecs()")
                page_a.evaluate("lcTest.room.leave()")
                page_b.evaluate("lcTest.room.leave()")
                print(f"  run {len(samples):2d}: {samples[-1]:7.1f} ms (page wall {wall * 1000:.0f} ms)", flush=True)
            codec_used = sorted(set(codec_seen.values()))
            chromium = browser.version
            browser.close()
        return {
            "runs": runs,
            "codec": codec or "default (AV1 ▸ VP9 ▸ H.264 ▸ VP8)",
            "median_ms": statistics.median(samples),
            "min_ms": min(samples),
            "max_ms": max(samples),
            "samples_ms": [round(s, 1) for s in samples],
            "target_ms": FIRST_FRAME_TARGET_MS,
            "codec_used": codec_used,
            "chromium": chromium,
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--codec", help="pin a codec (vp8, vp9, h264, av1) instead of the default preference")
    parser.add_argument("--size-only", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()

    report: dict[str, Any] = {"size": bundle_size()}
    size = report["size"]
    print("Browser SDK size (levelchat.js, esbuild bundle + minify, gzip -9)")
    if "error" in size:
        print(f"  {size['error']}")
    else:
        ratio = size["gzip_bytes"] / SIZE_TARGET
        print(
            f"  minified {size['minified_bytes']} B, gzipped {size['gzip_bytes']} B — target ≤ {SIZE_TARGET} B: {ratio:.2f}× the target"
        )
    if not args.size_only:
        print(f"joinRoom → first remote video frame, two Chromium pages on loopback, {args.runs} runs")
        frame = first_frame(args.runs, args.codec)
        report["first_frame"] = frame
        print(
            f"  median {frame['median_ms']:.0f} ms (min {frame['min_ms']:.0f}, max {frame['max_ms']:.0f}), "
            f"video codec {', '.join(frame['codec_used']) or '?'} — "
            f"target ≤ {FIRST_FRAME_TARGET_MS:.0f} ms: {frame['median_ms'] / FIRST_FRAME_TARGET_MS:.2f}× the target"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
