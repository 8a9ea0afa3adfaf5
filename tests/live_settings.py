"""Settings for servers the tests start as subprocesses (daphne): the example project with fast timers.

The database and channel layer come from the environment (``LEVELCHAT_SQLITE_PATH``, ``LEVELCHAT_REDIS_URL``),
as in the example project; ``LEVELCHAT_TEST_OVERRIDES`` (JSON) adds LEVELCHAT keys.
"""

import json
import os

from example_project.settings import *  # noqa: F403

LEVELCHAT = {
    "ICE_SERVERS": [],
    "PING_INTERVAL": 1,
    "PING_TIMEOUT": 3,
    "SWEEP_INTERVAL": 0.25,
    # A test may override more keys for its servers (e.g. a smaller outbound bound), as JSON.
    **json.loads(os.environ.get("LEVELCHAT_TEST_OVERRIDES", "{}")),
}
