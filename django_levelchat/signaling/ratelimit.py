"""Per-connection token buckets: a flood gets ``rate_limited`` errors, a sustained flood a 4429 close."""

from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``take`` returns False when the bucket is empty."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class FloodGuard:
    """Decides per frame: allow, refuse with a warning, or close because the flood lasted ``grace`` seconds."""

    ALLOW, REFUSE, REFUSE_QUIETLY, CLOSE = "allow", "refuse", "refuse_quietly", "close"

    def __init__(self, rate: float, burst: float, grace: float, now: float) -> None:
        self.bucket = TokenBucket(rate, burst, now)
        self.grace = grace
        self.flooding_since: float | None = None
        self.last_warning = float("-inf")

    def check(self, now: float) -> str:
        if self.bucket.take(now):
            # A flood ends only once the client stayed under the rate long enough to refill half the burst:
            # one frame let through now and then (the bucket refills while a busy server reads) must not
            # restart the grace period, or a sustained flood is never closed.
            if self.bucket.tokens >= self.bucket.burst / 2:
                self.flooding_since = None
            return self.ALLOW
        if self.flooding_since is None:
            self.flooding_since = now
        if now - self.flooding_since >= self.grace:
            return self.CLOSE
        if now - self.last_warning >= 1.0:
            self.last_warning = now
            return self.REFUSE
        return self.REFUSE_QUIETLY


class SessionLimits:
    """The rate limits of one signaling session, in one object: the consumer's attributes must stay at most 30,
    or CPython 3.11 gives each instance a full dictionary of its own (about 1.6 KB a socket, issue 16)."""

    __slots__ = ("chat", "frames", "levels")

    def __init__(self, *, frames: FloodGuard, chat: FloodGuard, levels: TokenBucket) -> None:
        self.frames = frames
        self.chat = chat
        self.levels = levels
