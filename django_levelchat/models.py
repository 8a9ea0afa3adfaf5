"""The durable record of calls: rooms, policies, participant sessions, API keys, recordings and the webhook outbox.

Models never import the signaling layer; state changes go through ``lifecycle.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from django_levelchat import capabilities as caps
from django_levelchat.exceptions import CapabilityError
from django_levelchat.ids import (
    new_event_id,
    new_participant_id,
    new_recording_file_id,
    new_recording_id,
    new_room_id,
    new_webhook_id,
    random_id,
)


def _default_max_participants() -> int:
    from django_levelchat.conf import levelchat_settings

    return int(levelchat_settings.DEFAULT_MAX_PARTICIPANTS)


def _default_empty_timeout() -> int:
    from django_levelchat.conf import levelchat_settings

    return int(levelchat_settings.DEFAULT_EMPTY_TIMEOUT)


class CapabilityPolicy(models.Model):
    """Capability ceiling per role for the rooms that use it; roles missing here use the defaults."""

    name = models.CharField(max_length=100, unique=True)
    roles = models.JSONField(
        default=dict,
        blank=True,
        help_text='Role → capability list, e.g. {"participant": ["publish:mic", "subscribe:all"]}.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "capability policies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.roles, dict):
            raise ValidationError({"roles": "Expected an object mapping role names to capability lists."})
        for role, names in self.roles.items():
            try:
                caps.parse_capabilities(names)
            except CapabilityError as exc:
                raise ValidationError({"roles": f"{role}: {exc.detail}"}) from exc

    def capabilities_for(self, role: str) -> frozenset[str]:
        return caps.role_capabilities(role, self.roles)


class Room(models.Model):
    """One call. Status only moves forward: created → active → ended → archived (see lifecycle.py)."""

    class RoomType(models.TextChoices):
        ONE_TO_ONE = "1to1", "1:1 call"
        MEETING = "meeting", "Meeting"
        LIVE = "live", "Live stream"
        WEBINAR = "webinar", "Webinar"

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        ARCHIVED = "archived", "Archived"

    public_id = models.CharField(max_length=32, unique=True, default=new_room_id, editable=False)
    name = models.CharField(max_length=200)
    room_type = models.CharField(max_length=10, choices=RoomType.choices, default=RoomType.MEETING)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED, editable=False)
    max_participants = models.PositiveIntegerField(
        default=_default_max_participants, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )
    empty_timeout = models.PositiveIntegerField(
        default=_default_empty_timeout,
        validators=[MaxValueValidator(7 * 24 * 3600)],
        help_text="Seconds an empty active room waits before it ends.",
    )
    metadata = models.JSONField(default=dict, blank=True)
    policy = models.ForeignKey(CapabilityPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="rooms")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    end_reason = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "room_type"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"

    def capabilities_for(self, role: str) -> frozenset[str]:
        """The capability ceiling of ``role`` in this room."""
        if self.policy_id is not None:
            return self.policy.capabilities_for(role)
        return caps.role_capabilities(role)

    @property
    def is_joinable(self) -> bool:
        return self.status in (self.Status.CREATED, self.Status.ACTIVE)


class Participant(models.Model):
    """One session of one identity in one room; a rejoin is a new row (a resume is not)."""

    public_id = models.CharField(max_length=32, unique=True, default=new_participant_id, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="participants")
    identity = models.CharField(max_length=128)
    name = models.CharField(max_length=128, blank=True)
    role = models.CharField(max_length=32, default=caps.PARTICIPANT)
    capabilities = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    leave_reason = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["joined_at"]
        indexes = [models.Index(fields=["room", "identity"]), models.Index(fields=["room", "left_at"])]

    def __str__(self) -> str:
        return f"{self.identity} in {self.room.public_id} ({self.public_id})"

    @property
    def is_live(self) -> bool:
        return self.left_at is None

    @property
    def duration(self) -> float | None:
        """Seconds in the room; None while the session is open."""
        return None if self.left_at is None else max(0.0, (self.left_at - self.joined_at).total_seconds())


KEY_PREFIX = "lc_pk_"


def _digest(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough and keeps a bad-key check at microseconds.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def authenticate(self, raw: str) -> ApiKey | None:
        """The active key matching ``lc_pk_<id>.<secret>``, or None; constant-time on the secret."""
        if not isinstance(raw, str) or not raw.startswith(KEY_PREFIX) or "." not in raw:
            return None
        key_id, _, secret = raw[len(KEY_PREFIX) :].partition(".")
        key = self.filter(key_id=key_id, is_active=True).first() if key_id and len(key_id) <= 32 else None
        # Compare even when the id is unknown so both failures cost the same.
        expected = key.secret_hash if key else _digest("")
        if hmac.compare_digest(_digest(secret), expected) and key is not None:
            return key
        return None


class ApiKey(models.Model):
    """A server-side credential ``lc_pk_<id>.<secret>``: the id is stored plainly, the secret only hashed."""

    key_id = models.CharField(max_length=32, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def prefix(self) -> str:
        return f"{KEY_PREFIX}{self.key_id}"

    def set_new_secret(self) -> str:
        """Generate id and secret, store the hash, and return the full key (shown once, never stored)."""
        if not self.key_id:
            self.key_id = random_id("", 12)
        secret = secrets.token_urlsafe(32)
        self.secret_hash = _digest(secret)
        return f"{KEY_PREFIX}{self.key_id}.{secret}"

    @classmethod
    def create_key(cls, name: str) -> tuple[ApiKey, str]:
        key = cls(name=name)
        full = key.set_new_secret()
        key.save()
        return key, full

    def touch(self) -> None:
        ApiKey.objects.filter(pk=self.pk).update(last_used_at=timezone.now())


class Recording(models.Model):
    """One recording of a room: the SFU writes a file per track, a job finalises them and composes the call.

    ``recording`` while the worker writes, ``processing`` while the files are finalised and composed, then
    ``ready``; ``failed`` with ``partial`` when the worker died (what it wrote is still finalised and kept).
    """

    class Status(models.TextChoices):
        RECORDING = "recording", "Recording"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    public_id = models.CharField(max_length=32, unique=True, default=new_recording_id, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="recordings")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECORDING, editable=False)
    partial = models.BooleanField(default=False, editable=False, help_text="Failed, but what was written is kept.")
    started_by = models.CharField(max_length=128, blank=True, editable=False)
    worker = models.CharField(max_length=64, blank=True, editable=False, help_text="The SFU worker writing it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    stopped_at = models.DateTimeField(null=True, blank=True, editable=False)
    duration = models.FloatField(null=True, blank=True, editable=False, help_text="Seconds.")
    size = models.BigIntegerField(null=True, blank=True, editable=False, help_text="Bytes, all files.")
    error = models.TextField(blank=True, editable=False)
    # The job queue of ``levelchat_recordings``: finalise and compose once, claimed by one runner at a time.
    needs_processing = models.BooleanField(default=False, editable=False, db_index=True)
    job_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["room"], condition=models.Q(status="recording"), name="levelchat_one_live_recording_per_room"
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} of {self.room.public_id} ({self.status})"

    @property
    def composed(self) -> RecordingFile | None:
        return self.files.filter(role=RecordingFile.Role.COMPOSED).first()


class RecordingFile(models.Model):
    """A finished file of a recording: one per recorded track, plus the composed file of the whole call.

    A model rather than a JSON list on ``Recording``: each file has its own public id for its download URL, the
    admin and API list them without parsing, and finalising one file never rewrites a shared blob.
    """

    class Role(models.TextChoices):
        TRACK = "track", "Track"
        COMPOSED = "composed", "Composed"

    public_id = models.CharField(max_length=32, unique=True, default=new_recording_file_id, editable=False)
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="files")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.TRACK)
    kind = models.CharField(max_length=8, help_text="audio, video, or av for the composed file.")
    participant = models.CharField(max_length=128, blank=True, help_text="Identity of the publisher.")
    track = models.CharField(max_length=64, blank=True, help_text="Track sid.")
    source = models.CharField(max_length=32, blank=True)
    codec = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=500, help_text="Name in the recording storage.")
    size = models.BigIntegerField(default=0, help_text="Bytes.")
    duration = models.FloatField(default=0.0, help_text="Seconds.")
    offset = models.FloatField(default=0.0, help_text="Seconds from the start of the recording.")
    truncated = models.BooleanField(default=False, help_text="Cut off by a crash; kept up to the last packet.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "offset", "pk"]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.role} {self.kind} {self.participant})"


class WebhookEventType(models.TextChoices):
    ROOM_STARTED = "room_started"
    ROOM_ENDED = "room_ended"
    ROOM_ARCHIVED = "room_archived"
    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    TRACK_PUBLISHED = "track_published"
    TRACK_UNPUBLISHED = "track_unpublished"
    RECORDING_STARTED = "recording_started"
    RECORDING_FINISHED = "recording_finished"
    RECORDING_FAILED = "recording_failed"


WEBHOOK_SECRET_PREFIX = "whsec_"


def validate_event_filter(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Expected a list of event type names.")
    unknown = sorted(set(value) - set(WebhookEventType.values))
    if unknown:
        raise ValidationError(f"Unknown event type(s): {', '.join(unknown)}.")


class WebhookEndpoint(models.Model):
    """A receiver URL. The signing secret is stored (it is needed to sign) but shown only once, at creation."""

    public_id = models.CharField(max_length=32, unique=True, default=new_webhook_id, editable=False)
    url = models.URLField(max_length=500, help_text="http(s) URL that receives POSTed events.")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_event_filter],
        help_text='Event types to send, e.g. ["participant_joined", "participant_left"]; empty = all.',
    )
    is_active = models.BooleanField(default=True, help_text="Inactive endpoints keep their queue until reactivated.")
    secret = models.CharField(max_length=100, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({self.public_id})"

    def clean(self) -> None:
        from django_levelchat.webhooks.ssrf import UnsafeURL, check_url

        try:
            check_url(self.url)
        except UnsafeURL as exc:
            raise ValidationError({"url": str(exc)}) from exc

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events

    def set_new_secret(self) -> str:
        self.secret = WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)
        return self.secret


class WebhookEvent(models.Model):
    """One event in the outbox, written in the transaction of the state change it reports."""

    public_id = models.CharField(max_length=32, unique=True, default=new_event_id, editable=False)
    type = models.CharField(max_length=32, choices=WebhookEventType.choices)
    room_key = models.CharField(max_length=32, help_text="Public id of the room (kept when the room is deleted).")
    payload = models.JSONField(help_text="The JSON body sent to receivers.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["room_key"])]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint. Per (endpoint, room) only the oldest pending delivery may be attempted."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    room_key = models.CharField(max_length=32, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="Lease of the deliverer trying it now.")
    lock_token = models.CharField(max_length=32, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True, help_text="HTTP status of the last attempt.")
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "room_key", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="levelchat_one_delivery_per_endpoint")
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint.url} ({self.status})"
