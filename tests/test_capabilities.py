import pytest

from django_levelchat import capabilities as caps
from django_levelchat.exceptions import CapabilityError
from django_levelchat.models import CapabilityPolicy, Room


def test_parse_accepts_vocabulary_lists_and_strings():
    assert caps.parse_capabilities(["publish:camera", "chat:send"]) == {"publish:camera", "chat:send"}
    assert caps.parse_capabilities("publish:mic, subscribe:all") == {"publish:mic", "subscribe:all"}


@pytest.mark.parametrize("bad", [["publish:video"], ["*"], ["chat:*"], [""], [42], ["publish:camera", "nope"]])
def test_parse_rejects_unknown_names_with_a_clear_error(bad):
    with pytest.raises(CapabilityError) as exc:
        caps.parse_capabilities(bad)
    assert exc.value.code == "bad_capability"


def test_wildcard_matching():
    assert caps.has_capability({"publish:*"}, "publish:screen")
    assert caps.has_capability({"publish:camera"}, "publish:camera")
    assert not caps.has_capability({"publish:camera"}, "publish:screen")
    assert not caps.has_capability({"publish:*"}, "chat:send")
    assert not caps.has_capability({"subscribe:all"}, "publish:camera")


@pytest.mark.parametrize(
    ("granted", "source", "allowed"),
    [
        ({"publish:*"}, "screen", True),
        ({"publish:mic"}, "microphone", True),
        ({"publish:mic"}, "screen", False),
        ({"publish:screen"}, "screen_audio", True),
        ({"publish:camera"}, "hologram", False),
        ({"subscribe:all", "chat:send"}, "camera", False),
    ],
)
def test_can_publish_by_source(granted, source, allowed):
    assert caps.can_publish(granted, source) is allowed


def test_expand_and_within_understand_wildcards():
    assert caps.expand({"publish:*"}) == {"publish:camera", "publish:mic", "publish:screen"}
    assert caps.within({"publish:camera"}, {"publish:*"})
    assert caps.within({"publish:*"}, {"publish:camera", "publish:mic", "publish:screen"})
    assert not caps.within({"publish:*"}, {"publish:camera"})
    assert not caps.within({"room:admin"}, caps.DEFAULT_ROLE_CAPABILITIES["participant"])


def test_default_role_sets():
    d = caps.DEFAULT_ROLE_CAPABILITIES
    assert d["viewer"] == {"subscribe:all", "chat:send"}
    assert not any(caps.can_publish(d["viewer"], s) for s in ("camera", "microphone", "screen"))
    assert caps.has_capability(d["host"], "room:admin") and caps.has_capability(d["host"], "record:control")
    assert not caps.has_capability(d["participant"], "room:admin")
    assert caps.can_publish(d["broadcaster"], "camera")
    assert d["recorder"] == {"subscribe:all", "presence:hidden"}
    assert set(d) == set(caps.ROLES)


def test_role_capabilities_unknown_role(db):
    with pytest.raises(CapabilityError) as exc:
        caps.role_capabilities("emperor")
    assert exc.value.code == "bad_role"


def test_settings_override_role(levelchat_settings):
    levelchat_settings(ROLE_CAPABILITIES={"participant": ["publish:mic", "subscribe:all"]})
    assert caps.role_capabilities("participant") == {"publish:mic", "subscribe:all"}


def test_policy_overrides_role_ceiling(db):
    policy = CapabilityPolicy.objects.create(name="audio only", roles={"participant": ["publish:mic", "subscribe:all"]})
    room = Room.objects.create(name="r", policy=policy)
    assert room.capabilities_for("participant") == {"publish:mic", "subscribe:all"}
    assert room.capabilities_for("host") == caps.DEFAULT_ROLE_CAPABILITIES["host"]


def test_policy_clean_rejects_unknown_capability(db):
    from django.core.exceptions import ValidationError

    policy = CapabilityPolicy(name="bad", roles={"participant": ["publish:hologram"]})
    with pytest.raises(ValidationError):
        policy.full_clean()
