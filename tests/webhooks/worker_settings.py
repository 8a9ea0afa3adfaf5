"""Settings for ``manage.py levelchat_webhooks`` subprocesses in the PostgreSQL tests: loopback receivers allowed,
fast polling and retries; the lease and timeout come from the environment so a test can make a dead deliverer's
lease expire quickly."""

import os

from tests.live_settings import *  # noqa: F403
from tests.live_settings import LEVELCHAT

LEVELCHAT = {
    **LEVELCHAT,
    "WEBHOOK_ALLOW_PRIVATE_URLS": True,
    "WEBHOOK_IN_PROCESS": False,
    "WEBHOOK_TIMEOUT": float(os.environ.get("LEVELCHAT_TEST_WEBHOOK_TIMEOUT", "10")),
    "WEBHOOK_LEASE": float(os.environ.get("LEVELCHAT_TEST_WEBHOOK_LEASE", "60")),
    "WEBHOOK_POLL_INTERVAL": 0.05,
    "WEBHOOK_RETRY_BASE": 0.05,
    "WEBHOOK_RETRY_MAX_DELAY": 0.5,
    "WEBHOOK_MAX_ATTEMPTS": 1000,
}
# The fast retries above cover less than a 10-minute outage, on purpose.
SILENCED_SYSTEM_CHECKS = ["levelchat.W002"]
