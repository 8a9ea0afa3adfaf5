"""Settings for servers the tests start as subprocesses (daphne): the example project with fast timers.

The database and channel layer come from the environment (``LEVELCHAT_SQLITE_PATH``, ``LEVELCHAT_REDIS_URL``),
as in the example project.
"""

from example_project.settings import *  # noqa: F403

LEVELCHAT = {
    "ICE_SERVERS": [],
    "PING_INTERVAL": 1,
    "PING_TIMEOUT": 3,
    "SWEEP_INTERVAL": 0.25,
}
