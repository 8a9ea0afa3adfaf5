"""Token verification cost (RELIABILITY.md G9: verify p99 ≤ 100 µs): ``tokens.verify_token`` against PyJWT's own
``jwt.decode`` of the same tokens (the baseline: signature, exp, aud and iss checks and nothing else), in one run.

Tokens are minted with ``issue_token`` under ``bench.settings`` (the example project's HS256 key). Each round
verifies every token once with each function, interleaved, so both see the same machine load; the figures are the
per-call percentiles over all rounds, in CPU time of this thread (``time.thread_time_ns``): what a verification
costs the server, without the time the thread waited for a core on a busy machine. Rejections are timed too: a token signed with another key and an expired one
(what a flood of bad upgrades costs the server). It prints, never asserts.

    python -m bench.tokens                 # 2,000 tokens x 10 rounds
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.servers import banner  # noqa: E402
from bench.signaling import percentile  # noqa: E402

TARGET_P99_US = 100.0


def _timed(call: Callable[[str], Any], token: str, out: list[float]) -> None:
    t0 = time.thread_time_ns()
    try:
        call(token)
    except Exception:  # a rejection is what is being timed
        pass
    out.append((time.thread_time_ns() - t0) / 1000)


def measure(count: int, rounds: int) -> dict[str, dict[str, float]]:
    import jwt

    from django_levelchat.conf import levelchat_settings
    from django_levelchat.tokens import _signing_key, issue_token, verify_token

    room = "rm_bench"
    good = [issue_token(room, f"user-{i}", ttl=600) for i in range(count)]
    key = _signing_key()
    foreign = [jwt.encode({"sub": "x", "aud": room}, "another-key-of-thirty-two-bytes-at-least", "HS256")] * count
    now = int(time.time())
    expired_claims = {"sub": "x", "aud": room, "iss": levelchat_settings.JWT_ISSUER, "caps": [], "iat": now - 700}
    expired = [jwt.encode({**expired_claims, "exp": now - 100}, key.signing_key, key.algorithm)] * count

    def bare(token: str) -> Any:
        return jwt.decode(
            token, key.verifying_key, algorithms=[key.algorithm], audience=room, issuer=levelchat_settings.JWT_ISSUER
        )

    def ours(token: str) -> Any:
        return verify_token(token)

    cases = {
        "valid, verify_token": (ours, good),
        "valid, jwt.decode (baseline)": (bare, good),
        "foreign key, verify_token": (ours, foreign),
        "expired, verify_token": (ours, expired),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for i in range(count):
            for name, (call, tokens) in cases.items():
                _timed(call, tokens[i], samples[name])
    return {
        name: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99), "max": max(v)}
        for name, v in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    banner("token verification benchmark", f"{args.tokens:,} tokens x {args.rounds} rounds")
    load = os.getloadavg()[0]
    result = measure(args.tokens, args.rounds)
    base = result["valid, jwt.decode (baseline)"]
    for name, v in result.items():
        print(
            f"{name:30} p50 {v['p50']:6.1f} µs  p99 {v['p99']:6.1f} µs  max {v['max']:8.1f} µs"
            f"  (p99 / baseline {v['p99'] / base['p99']:.2f})"
        )
    ours = result["valid, verify_token"]["p99"]
    verdict = "met" if ours <= TARGET_P99_US else "NOT met"
    print(f"verify_token p99 {ours:.1f} µs, target ≤ {TARGET_P99_US:g} µs: {verdict}; load average {load:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
