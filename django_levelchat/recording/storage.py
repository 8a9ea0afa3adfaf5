"""Where recording files live: Django's storage API, so S3 and friends work through django-storages unchanged."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.files.storage import Storage, default_storage, storages

from django_levelchat.conf import levelchat_settings

CONTENT_TYPES = {".webm": "video/webm", ".mkv": "video/x-matroska"}


def recording_storage() -> Storage:
    """``LEVELCHAT["RECORDING_STORAGE"]``: an alias of ``STORAGES``, or the default storage."""
    alias = levelchat_settings.RECORDING_STORAGE
    return storages[alias] if alias else default_storage


def storage_name(recording_id: str, filename: str) -> str:
    """The name a file of ``recording_id`` is saved under (the storage may still pick another if it exists)."""
    prefix = levelchat_settings.RECORDING_PREFIX
    return f"{prefix.rstrip('/')}/{recording_id}/{filename}" if prefix else f"{recording_id}/{filename}"


def spool_dir() -> Path:
    """The local directory live files are written to (``LEVELCHAT["RECORDING_SPOOL_DIR"]``)."""
    configured = levelchat_settings.RECORDING_SPOOL_DIR
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "levelchat-spool"
