import pytest
from django.core.management import call_command
from django.test import override_settings

from django_levelchat.checks import check_settings
from django_levelchat.conf import DEFAULTS, levelchat_settings


def ids(**levelchat):
    with override_settings(LEVELCHAT=levelchat):
        return [m.id for m in check_settings()]


def test_defaults_are_clean():
    assert ids() == []


def test_every_default_is_readable_and_unknown_names_raise():
    for key, value in DEFAULTS.items():
        if key != "JWT_KEYS":
            assert getattr(levelchat_settings, key) is not None or value is None
    with pytest.raises(AttributeError):
        levelchat_settings.NOT_A_SETTING  # noqa: B018


def test_override_settings_is_seen():
    with override_settings(LEVELCHAT={"TOKEN_TTL": 42}):
        assert levelchat_settings.TOKEN_TTL == 42
    assert levelchat_settings.TOKEN_TTL == 600


def test_unknown_key_with_hint():
    with override_settings(LEVELCHAT={"TOKEN_TLL": 5}):
        (msg,) = check_settings()
    assert msg.id == "levelchat.E001" and "TOKEN_TTL" in msg.hint


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"TOKEN_TTL": "600"}, "levelchat.E002"),
        ({"REPLACE_DUPLICATE_IDENTITY": "yes"}, "levelchat.E002"),
        ({"TOKEN_TTL": True}, "levelchat.E002"),
        ({"TOKEN_MAX_TTL": 7200}, "levelchat.E003"),
        ({"TOKEN_TTL": 4000}, "levelchat.E003"),
        ({"JWT_KEYS": {"k": {"key": "short"}}}, "levelchat.E004"),
        (
            {"JWT_KEYS": {"k": {"key": "example-project-insecure-key-change-me-in-production-0123456789"}}},
            "levelchat.E004",
        ),
        ({"JWT_KEYS": {"k": {"algorithm": "none", "key": "x" * 40}}}, "levelchat.E005"),
        ({"JWT_KEYS": {"k": {"algorithm": "EdDSA"}}}, "levelchat.E005"),
        ({"JWT_KEYS": {"k": {"key": "x" * 40}}, "JWT_SIGNING_KEY_ID": "other"}, "levelchat.E005"),
        ({"JWT_ALGORITHM": "RS256"}, "levelchat.E005"),
        ({"ICE_SERVERS": [{"urls": "http://x"}]}, "levelchat.E006"),
        ({"ICE_SERVERS": ["stun:x"]}, "levelchat.E006"),
        ({"ROLE_CAPABILITIES": {"viewer": ["publish:hologram"]}}, "levelchat.E007"),
        ({"REGIONS": {"eu": "https://eu.example.org"}}, "levelchat.E010"),
        ({"ALLOWED_ORIGINS": ["*"]}, "levelchat.W001"),
    ],
)
def test_bad_settings_are_reported(settings, expected):
    assert expected in ids(**settings)


def test_good_custom_settings_are_clean():
    assert (
        ids(
            TOKEN_TTL=900,
            JWT_KEYS={"k1": {"algorithm": "HS256", "key": "k" * 40}},
            ICE_SERVERS=[
                {"urls": ["stun:stun.example.org:3478"]},
                {"urls": "turn:t.example.org", "username": "u", "credential": "c"},
            ],
            REGIONS={"eu": "wss://eu.example.org/levelchat/v1/signal"},
            ROLE_CAPABILITIES={"viewer": ["subscribe:all"]},
        )
        == []
    )


def test_dependency_version_checks(monkeypatch):
    from django_levelchat import checks

    monkeypatch.setattr(checks, "_version", lambda dist: (4, 2, 1) if dist == "daphne" else (2, 12, 0))
    found = ids()
    assert "levelchat.E008" in found and "levelchat.E009" in found


def test_manage_check_passes():
    call_command("check", fail_level="WARNING")
