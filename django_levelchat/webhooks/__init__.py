"""Webhooks: signed, ordered, retried delivery of room, participant, track and recording events.

Receivers need only ``verify`` (Django request) or ``verify_signature`` (any framework); both live in
``signing.py``, which imports nothing from Django at import time, so this package can be imported by a plain
Python receiver that has django-levelchat installed. The outbox (``outbox.py``), the delivery engine
(``delivery.py``) and the embedded in-process deliverer (``inprocess.py``) are imported explicitly by the core.
"""

from django_levelchat.webhooks.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookVerificationError,
    sign,
    verify,
    verify_signature,
)

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookVerificationError",
    "sign",
    "verify",
    "verify_signature",
]
