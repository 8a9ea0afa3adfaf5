"""Who may download a recording, besides API keys: ``LEVELCHAT["RECORDING_ACCESS"]``, staff by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from django_levelchat.conf import levelchat_settings
from django_levelchat.models import Recording


def staff_only(request: Any, recording: Recording) -> bool:
    """The default rule: an active staff user."""
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def access_rule() -> Callable[[Any, Recording], bool]:
    path = levelchat_settings.RECORDING_ACCESS
    return import_string(path) if path else staff_only


def may_download(request: Any, recording: Recording) -> bool:
    """Ask the configured rule; anything but a literal True is a refusal."""
    return access_rule()(request, recording) is True
