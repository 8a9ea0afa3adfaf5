"""Request and response shapes of the REST API.

Input is strict: a field of the wrong JSON type is refused (DRF would turn ``123`` into ``"123"``), and a body
key the serializer does not accept (an unknown field, or a read-only one such as ``status`` or ``id``) is a 400,
so a typo never silently widens what a token grants and mass assignment cannot happen.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from django_levelchat import capabilities as caps
from django_levelchat.models import (
    CapabilityPolicy,
    Participant,
    Recording,
    RecordingFile,
    Room,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)
from django_levelchat.protocol import (  # the limits have one definition, shared with tokens and signaling
    IDENTITY_PATTERN,
    MAX_CHAT_LEN,
    MAX_IDENTITY_LEN,
    MAX_METADATA_BYTES,
    MAX_NAME_LEN,
    MAX_ROLE_LEN,
    ProtocolError,
    validate_metadata,
)

TRACK_KINDS = ("audio", "video")

# Single-line text: no C0/C1 controls, no lone surrogates (they cannot be stored or sent as UTF-8).
_LINE_BAD_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Multi-line text (chat): tab, LF and CR are allowed.
_TEXT_BAD_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
TRACK_SID_PATTERN = r"^TR_[A-Za-z0-9_-]{1,40}$"


# --- strict fields ---------------------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string only (numbers are refused), without control characters or lone surrogates."""

    default_error_messages = {
        "not_a_string": "Must be a string.",
        "control": "Control characters are not allowed.",
    }

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        if (_TEXT_BAD_RE if self.multiline else _LINE_BAD_RE).search(data):
            self.fail("control")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField):
    def __init__(self, regex: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # drf-spectacular turns the RegexValidator into the schema's ``pattern``.
        self.validators.append(RegexValidator(regex, message="This value does not match the pattern."))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: strings, floats and booleans are refused."""

    default_error_messages = {"not_an_integer": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictSlugRelatedField(serializers.SlugRelatedField):
    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data == "":  # DRF reads "" as null for relations; here it is just no such name
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "enum": list(Room.Status.values)}, component_name="RoomStatus")
class RoomStatusField(StrictChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Room.Status.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": list(Room.RoomType.values)}, component_name="RoomType")
class RoomTypeField(StrictChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Room.RoomType.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": list(Recording.Status.values)}, component_name="RecordingStatus")
class RecordingStatusField(StrictChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Recording.Status.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": list(TRACK_KINDS)}, component_name="TrackKind")
class TrackKindField(StrictChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(k, k) for k in TRACK_KINDS], **kwargs)


@extend_schema_field({"type": "string", "enum": sorted(caps.VOCABULARY)}, component_name="Capability")
class CapabilityField(StrictCharField):
    """A capability name; unknown names are refused by the view with code ``bad_capability``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=32, **kwargs)


class MetadataField(serializers.DictField):
    """A JSON object within ``protocol.validate_metadata``'s limits, stored as given and returned as is."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        try:
            validate_metadata(value)
        except ProtocolError as exc:
            raise serializers.ValidationError(f"{exc.message}.") from None
        return value


# --- base serializer -------------------------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """Refuses body keys that are not writable fields (unknown or read-only) with a 400."""

    #: Extra JSON Schema keywords for the request body (``LevelChatAutoSchema`` adds them).
    schema_extra: dict[str, Any] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(k) for k in data if k not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {
                        key: ["This field is read-only." if key in self.fields else "Unknown field."]
                        for key in unknown[:20]
                    }
                )
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    """Every error answer."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`, `room_ended`.")
    detail = serializers.CharField(help_text="Human-readable explanation.")
    fields = serializers.DictField(
        required=False, help_text="400 validation errors only: field name → list of messages (or nested errors)."
    )


# --- rooms -----------------------------------------------------------------------------------------------------


class RoomSerializer(StrictSerializer):
    id = serializers.CharField(source="public_id", read_only=True, help_text="Public id (`RM_…`).")
    name = StrictCharField(max_length=200)
    room_type = RoomTypeField(required=False, help_text="Defaults to `meeting`.")
    status = RoomStatusField(read_only=True, help_text="Changed only by `…/end` and `…/archive` (and joins).")
    max_participants = StrictIntegerField(min_value=1, max_value=10_000, required=False)
    empty_timeout = StrictIntegerField(
        min_value=0, max_value=7 * 24 * 3600, required=False, help_text="Seconds an empty active room waits."
    )
    metadata = MetadataField(required=False, help_text=f"Free JSON object, at most {MAX_METADATA_BYTES} bytes.")
    policy = StrictSlugRelatedField(
        slug_field="name",
        queryset=CapabilityPolicy.objects.all(),
        allow_null=True,
        required=False,
        help_text="Name of a capability policy (the per-role ceiling), or null for the defaults.",
    )
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)
    archived_at = serializers.DateTimeField(read_only=True, allow_null=True)
    end_reason = serializers.CharField(read_only=True)

    def create(self, validated_data: dict[str, Any]) -> Room:
        return Room.objects.create(**validated_data)

    def update(self, instance: Room, validated_data: dict[str, Any]) -> Room:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        # Only the edited columns: a full save would write back a status that a concurrent end_room changed.
        instance.save(update_fields=list(validated_data))
        return instance


class RoomUpdateSerializer(RoomSerializer):
    """PATCH body: the room type is fixed at creation."""

    room_type = RoomTypeField(read_only=True)


class RoomFilterSerializer(serializers.Serializer):
    """Query parameters of the room list."""

    status = RoomStatusField(required=False)
    room_type = RoomTypeField(required=False)


class BooleanQueryField(StrictChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("true", "true"), ("false", "false")], **kwargs)

    def to_internal_value(self, data: Any) -> bool:
        return super().to_internal_value(data) == "true"


@extend_schema_field(OpenApiTypes.BOOL)
class LiveQueryField(BooleanQueryField):
    pass


class ParticipantFilterSerializer(serializers.Serializer):
    live = LiveQueryField(required=False, help_text="`true`: only open sessions; `false`: only closed ones.")


# --- tokens ----------------------------------------------------------------------------------------------------


class TokenCreateSerializer(StrictSerializer):
    identity = StrictRegexField(
        IDENTITY_PATTERN,
        max_length=MAX_IDENTITY_LEN,
        trim_whitespace=False,
        help_text="Your user's stable id in this room (the token's `sub`): 1 to 128 characters, no whitespace, "
        "control characters, `/ \\ ? # %` or leading dot (docs/security.md).",
    )
    name = StrictCharField(max_length=MAX_NAME_LEN, required=False, allow_blank=True, help_text="Display name.")
    role = StrictCharField(
        max_length=MAX_ROLE_LEN,
        required=False,
        help_text=f"Default `participant`; built in: {', '.join(caps.ROLES)} (or roles named in the settings/policy).",
    )
    capabilities = serializers.ListField(
        child=CapabilityField(),
        max_length=32,
        required=False,
        help_text="Defaults to everything the role is granted; more than the room's policy grants is a 400.",
    )
    ttl = StrictIntegerField(
        required=False,
        help_text="Lifetime in seconds, default 600; above LEVELCHAT['TOKEN_MAX_TTL'] (3600) is a 400 `token_ttl`.",
    )
    metadata = MetadataField(required=False, help_text=f"Carried in the token; at most {MAX_METADATA_BYTES} bytes.")
    region = StrictCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="A key of LEVELCHAT['REGIONS'] (`\"\"` = none); default LEVELCHAT['DEFAULT_REGION'].",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The room JWT; give it to the client, which opens the signaling socket.")
    expires_at = serializers.DateTimeField()
    signaling_url = serializers.CharField(help_text="`ws://` or `wss://` URL of the signaling socket.")
    ice_servers = serializers.ListField(child=serializers.DictField())
    room = serializers.CharField(help_text="Room public id.")
    identity = serializers.CharField()


# --- participants ----------------------------------------------------------------------------------------------


class ParticipantSerializer(serializers.Serializer):
    """One session of one identity (a rejoin is a new session)."""

    id = serializers.CharField(source="public_id", help_text="Session id (`PA_…`).")
    identity = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())
    metadata = serializers.DictField()
    joined_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)
    leave_reason = serializers.CharField()
    live = serializers.BooleanField(source="is_live", help_text="The session is open (not left yet).")
    tracks = serializers.SerializerMethodField(help_text="Published tracks of a live session (from presence).")

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_tracks(self, obj: Participant) -> list[dict[str, Any]]:
        if not obj.is_live:
            return []
        return self.context.get("tracks", {}).get(obj.public_id, [])


class ParticipantDetailSerializer(serializers.Serializer):
    identity = serializers.CharField()
    live = serializers.BooleanField(help_text="One of the sessions is open.")
    sessions = ParticipantSerializer(many=True, help_text="Newest first, at most 100.")


class CapabilitiesUpdateSerializer(StrictSerializer):
    # A PATCH body whose field stays required: drf-spectacular would document every PATCH body as partial.
    partial = property(lambda self: False, lambda self, value: None)

    capabilities = serializers.ListField(
        child=CapabilityField(),
        max_length=32,
        help_text="The new full capability list; within the room policy's ceiling for the participant's role.",
    )


class CapabilitiesResultSerializer(serializers.Serializer):
    identity = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())


class MuteSerializer(StrictSerializer):
    schema_extra = {"maxProperties": 1}

    track = StrictRegexField(TRACK_SID_PATTERN, max_length=43, required=False, help_text="One track sid (`TR_…`).")
    kind = TrackKindField(required=False, help_text="Every track of this kind.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "track" in attrs and "kind" in attrs:
            raise serializers.ValidationError({"kind": ["Give kind or track, not both."]})
        return attrs


class RemoveResultSerializer(serializers.Serializer):
    identity = serializers.CharField()
    removed = serializers.BooleanField(help_text="Always true on 200: their socket was closed (4403 `removed`).")


class MuteResultSerializer(serializers.Serializer):
    identity = serializers.CharField()
    muted = serializers.BooleanField(help_text="Always true on 200.")
    track = serializers.CharField(allow_null=True)
    kind = serializers.CharField(allow_null=True)


class MessageSerializer(StrictSerializer):
    text = StrictCharField(multiline=True, max_length=MAX_CHAT_LEN, trim_whitespace=False)
    to = StrictRegexField(
        IDENTITY_PATTERN,
        max_length=MAX_IDENTITY_LEN,
        trim_whitespace=False,
        required=False,
        help_text="Identity of the one recipient; omitted = the whole room.",
    )

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Text must not be blank.")
        return value


# --- recordings ------------------------------------------------------------------------------------------------


class RecordingFileSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="Public id (`RF_…`).")
    role = serializers.ChoiceField(choices=RecordingFile.Role.choices, help_text="`track` or `composed`.")
    kind = serializers.CharField(help_text="`audio`, `video`, or `av` (the composed file).")
    participant = serializers.CharField(help_text="Identity of the publisher (empty for the composed file).")
    track = serializers.CharField(help_text="Track sid.")
    source = serializers.CharField()
    codec = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    duration = serializers.FloatField(help_text="Seconds.")
    offset = serializers.FloatField(help_text="Seconds from the start of the recording.")
    truncated = serializers.BooleanField(help_text="Cut off by a crash; kept up to its last whole packet.")


class RecordingSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="Public id (`RC_…`).")
    room = serializers.CharField(source="room.public_id")
    status = RecordingStatusField()
    partial = serializers.BooleanField(help_text="Failed, but what was written until then is kept.")
    started_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="Seconds.")
    size = serializers.IntegerField(allow_null=True, help_text="Bytes, all files.")
    error = serializers.CharField()
    files = RecordingFileSerializer(many=True, source="files.all")
    downloadable = serializers.SerializerMethodField(help_text="The composed file can be fetched from `…/download`.")

    def get_downloadable(self, obj: Recording) -> bool:
        return any(f.role == RecordingFile.Role.COMPOSED for f in obj.files.all())


# --- webhooks --------------------------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "enum": list(WebhookEventType.values)}, component_name="WebhookEventType")
class EventTypeField(StrictChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=WebhookEventType.choices, **kwargs)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean only (DRF would accept "yes", 1, "on")."""

    default_error_messages = {"not_a_boolean": "Must be a boolean."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data


class WebhookEndpointSerializer(StrictSerializer):
    id = serializers.CharField(source="public_id", read_only=True, help_text="Public id (`WH_…`).")
    url = StrictCharField(
        max_length=500,
        help_text="http(s) URL receiving the POSTs. Refused (400) when it resolves to a loopback, private, "
        "link-local or reserved address, unless LEVELCHAT['WEBHOOK_ALLOW_PRIVATE_URLS'].",
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(
        child=EventTypeField(),
        max_length=len(WebhookEventType.values),
        required=False,
        help_text="Event types to send; empty or omitted = all.",
    )
    is_active = StrictBooleanField(required=False, help_text="Inactive endpoints keep their queue.")
    created_at = serializers.DateTimeField(read_only=True)

    def validate_url(self, value: str) -> str:
        from django.core.validators import URLValidator

        from django_levelchat.webhooks.ssrf import UnsafeURL, check_url

        try:
            URLValidator(schemes=["http", "https"])(value)
            check_url(value)
        except (UnsafeURL, DjangoValidationError) as exc:
            raise serializers.ValidationError(exc.messages if hasattr(exc, "messages") else str(exc)) from None
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def create(self, validated_data: dict[str, Any]) -> WebhookEndpoint:
        endpoint = WebhookEndpoint(**validated_data)
        self.new_secret = endpoint.set_new_secret()
        endpoint.save()
        return endpoint

    def update(self, instance: WebhookEndpoint, validated_data: dict[str, Any]) -> WebhookEndpoint:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save(update_fields=list(validated_data))
        return instance


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (`whsec_…`), in this answer only: store it now, it is never shown again.",
    )


class WebhookDeliverySerializer(serializers.Serializer):
    event = serializers.CharField(source="event.public_id", help_text="Event id (`EV_…`), also in the body.")
    type = EventTypeField(source="event.type")
    room = serializers.CharField(source="room_key")
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(help_text="When a pending delivery is tried next.")
    last_status = serializers.IntegerField(allow_null=True, help_text="HTTP status of the last attempt.")
    last_error = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)


# --- usage -----------------------------------------------------------------------------------------------------

#: ``from`` is a Python keyword, so the query serializer is built from a dict.
UsageQuerySerializer = type(
    "UsageQuerySerializer",
    (serializers.Serializer,),
    {
        "__doc__": "The usage window [from, to) and an optional room.",
        "from": serializers.DateTimeField(required=False, help_text="ISO 8601 start (inclusive); default: none."),
        "to": serializers.DateTimeField(required=False, help_text="ISO 8601 end (exclusive); default: now."),
        "room": StrictCharField(max_length=32, required=False, help_text="Only this room (`RM_…`)."),
        "validate": lambda self, attrs: _check_window(attrs),
    },
)


def _check_window(attrs: dict[str, Any]) -> dict[str, Any]:
    if "from" in attrs and "to" in attrs and attrs["from"] >= attrs["to"]:
        raise serializers.ValidationError({"to": ["Must be later than from."]})
    return attrs


class RoomUsageSerializer(serializers.Serializer):
    room = serializers.CharField(help_text="Room public id.")
    name = serializers.CharField()
    sessions = serializers.IntegerField(help_text="Sessions overlapping the window.")
    participant_minutes = serializers.FloatField(help_text="Sum of session minutes inside the window.")


UsageSerializer = type(
    "UsageSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "Usage in a window: totals, then per room (paginated).",
        "from": serializers.DateTimeField(allow_null=True, help_text="The window's start; null = none."),
        "to": serializers.DateTimeField(help_text="The window's end (default: the time of the request)."),
        "sessions": serializers.IntegerField(help_text="All sessions overlapping the window."),
        "participant_minutes": serializers.FloatField(help_text="All rooms together."),
        "count": serializers.IntegerField(help_text="Rooms with usage in the window."),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": RoomUsageSerializer(many=True, help_text="Per room, most recently created first."),
    },
)


class SessionUsageSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="Session id (`PA_…`).")
    room = serializers.CharField(source="room.public_id")
    identity = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    joined_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)
    leave_reason = serializers.CharField()
    live = serializers.BooleanField(source="is_live")
    duration = serializers.FloatField(allow_null=True, help_text="Whole session in seconds; null while open.")
    billed_seconds = serializers.SerializerMethodField(help_text="Seconds inside the window (open: until now).")

    def get_billed_seconds(self, obj: Participant) -> float:
        from django_levelchat.usage import billed_seconds

        return round(billed_seconds(obj, self.context.get("start"), self.context.get("end")), 3)
