"""Private backing services for the tests: a redis-server per test session on a free port and uniquely named
PostgreSQL databases, so two suites running at once on one machine (or a test that kills Redis) never share state.

They live in ``bench/servers.py`` (the benchmarks start the same servers and must not depend on ``tests``).
"""

from bench.servers import (
    POSTGRES_ADMIN_URL,
    PostgresDatabase,
    RedisServer,
    free_port,
    postgres_missing_reason,
    redis_missing_reason,
)

__all__ = [
    "POSTGRES_ADMIN_URL",
    "PostgresDatabase",
    "RedisServer",
    "free_port",
    "postgres_missing_reason",
    "redis_missing_reason",
]
