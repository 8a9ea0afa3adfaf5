"""Settings for daphne and ``runsfu`` subprocesses in SFU tests: loopback candidates allowed, fast leases."""

from tests.live_settings import *  # noqa: F403
from tests.live_settings import LEVELCHAT as _BASE

LEVELCHAT = {
    **_BASE,
    "SFU_EMBEDDED": False,
    "SFU_ALLOW_PRIVATE_CANDIDATES": True,
    "SFU_HEARTBEAT": 0.5,
    "SFU_LEASE_TTL": 2.0,
}
