"""Settings for the daphne processes that ``bench/signaling.py`` starts: the example project as deployed.

Like the example project, the database and the channel layer come from the environment (``LEVELCHAT_SQLITE_PATH``,
``LEVELCHAT_REDIS_URL``); the layer's own configuration (capacity, ``max_connections``) is left as the example
project has it, so the numbers describe what a deployment of it gets. Differences: ``DEBUG`` is off (production)
and the ASGI application adds the baseline consumers (``bench.asgi``). ``LEVELCHAT`` is the example project's, so
timing (ping interval 5 s, timeout 12 s) and the rate limits keep their defaults; ``LEVELCHAT_BENCH_OVERRIDES``
(JSON) changes keys for an A/B run (e.g. ``{"JOIN_CONCURRENCY": 100000}`` for no join gate).
"""

import json
import os

from example_project.settings import *  # noqa: F403

DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ASGI_APPLICATION = "bench.asgi.application"
LEVELCHAT = {**LEVELCHAT, **json.loads(os.environ.get("LEVELCHAT_BENCH_OVERRIDES", "{}"))}  # noqa: F405
