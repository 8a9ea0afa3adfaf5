"""The error hierarchy: every error has a stable machine-readable ``code``.

REST views map these to HTTP statuses, the signaling consumer to error frames and close codes, so a
client can branch on ``code`` instead of parsing messages.
"""

from __future__ import annotations


class LevelChatError(Exception):
    """Base class; ``code`` is part of the public contract and never changes meaning."""

    code = "error"
    default_detail = "A levelchat error occurred."

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        self.detail = detail or self.default_detail
        if code is not None:
            self.code = code
        super().__init__(self.detail)


class ConfigurationError(LevelChatError):
    code = "configuration"
    default_detail = "The LEVELCHAT settings are invalid."


class CapabilityError(LevelChatError, ValueError):
    code = "bad_capability"
    default_detail = "Unknown or disallowed capability."


class IllegalTransition(LevelChatError):
    """A lifecycle step that the state machine forbids (e.g. ending an archived room)."""

    code = "illegal_transition"
    default_detail = "This lifecycle transition is not allowed."


class TokenError(LevelChatError):
    """A room token that cannot be issued or verified; ``code`` says why.

    Codes: ``token_invalid``, ``token_expired``, ``token_not_yet_valid``, ``wrong_room``, ``token_ttl``,
    ``unknown_key``, ``missing_claim``, ``bad_capabilities``.
    """

    code = "token_invalid"
    default_detail = "The room token is invalid."


class SfuUnavailable(LevelChatError):
    """The request needs an SFU worker (recording, SFU media) and none serves the room."""

    code = "sfu_unavailable"
    default_detail = "Recording needs the SFU media server, which is not available."
