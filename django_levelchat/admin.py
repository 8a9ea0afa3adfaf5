"""Admin for rooms, policies, recordings, API keys, usage (participant sessions) and webhooks.

A new API key's secret, like a new webhook endpoint's signing secret, is rendered directly in the response to the
add form, so it is shown exactly once and never passes through the message framework (whose storage is the
session table or a cookie).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from django_levelchat import lifecycle, usage
from django_levelchat.exceptions import IllegalTransition, LevelChatError
from django_levelchat.models import (
    ApiKey,
    CapabilityPolicy,
    Participant,
    Recording,
    RecordingFile,
    Room,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from django_levelchat.webhooks.delivery import redeliver


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    fields = ("public_id", "identity", "name", "role", "capabilities", "joined_at", "left_at", "leave_reason")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run_transition(
    modeladmin: admin.ModelAdmin, request: HttpRequest, rooms: QuerySet[Room], step: Any, verb: str
) -> None:
    done, refused = 0, []
    for room in rooms:
        try:
            if step(room):
                done += 1
        except IllegalTransition as exc:
            refused.append(exc.detail)
    if done:
        modeladmin.message_user(request, f"{verb} {done} room(s).", messages.SUCCESS)
    for detail in refused:
        modeladmin.message_user(request, detail, messages.ERROR)


@admin.action(description="End selected rooms")
def end_rooms(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Room]) -> None:
    _run_transition(modeladmin, request, queryset, lambda r: lifecycle.end_room(r, "ended_by_admin"), "Ended")


@admin.action(description="Archive selected rooms")
def archive_rooms(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Room]) -> None:
    _run_transition(modeladmin, request, queryset, lifecycle.archive_room, "Archived")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "public_id",
        "room_type",
        "status",
        "max_participants",
        "created_at",
        "started_at",
        "ended_at",
    )
    list_filter = ("status", "room_type")
    search_fields = ("name", "public_id")
    readonly_fields = ("public_id", "status", "created_at", "started_at", "ended_at", "archived_at", "end_reason")
    fields = (
        "name",
        "room_type",
        "max_participants",
        "empty_timeout",
        "metadata",
        "policy",
        *readonly_fields,
        "participant_minutes",
    )
    inlines = [ParticipantInline]
    actions = [end_rooms, archive_rooms]

    def get_readonly_fields(self, request: HttpRequest, obj: Room | None = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "participant_minutes")

    @admin.display(description="participant-minutes")
    def participant_minutes(self, obj: Room) -> str:
        if obj.pk is None:
            return "-"
        totals = usage.by_room(obj.participants.all(), None, None).get(obj.pk, usage.RoomUsage())
        return f"{totals.participant_minutes:.1f} ({totals.sessions} sessions)"


@admin.register(Participant)
class ParticipantSessionAdmin(admin.ModelAdmin):
    """Usage: one row per participant session, filterable by date, for billing without webhooks."""

    list_display = ("identity", "room", "role", "joined_at", "left_at", "leave_reason", "minutes")
    list_filter = ("role", "leave_reason")
    list_select_related = ("room",)
    date_hierarchy = "joined_at"
    search_fields = ("identity", "public_id", "room__public_id", "room__name")
    readonly_fields = (
        "public_id",
        "room",
        "identity",
        "name",
        "role",
        "capabilities",
        "metadata",
        "joined_at",
        "left_at",
        "leave_reason",
        "minutes",
    )
    fields = readonly_fields

    @admin.display(description="minutes")
    def minutes(self, obj: Participant) -> str:
        seconds = obj.duration if obj.duration is not None else usage.billed_seconds(obj, None, None)
        return f"{seconds / 60:.1f}" + ("" if obj.left_at else " (live)")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CapabilityPolicy)
class CapabilityPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


def _human_size(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


def _human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class RecordingFileInline(admin.TabularInline):
    model = RecordingFile
    extra = 0
    can_delete = False
    fields = (
        "public_id",
        "role",
        "kind",
        "participant",
        "source",
        "codec",
        "size_display",
        "duration",
        "offset",
        "truncated",
        "download",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="size")
    def size_display(self, obj: RecordingFile) -> str:
        return _human_size(obj.size)

    @admin.display(description="file")
    def download(self, obj: RecordingFile) -> str:
        url = reverse("levelchat_api:recording-file-download", args=[obj.recording.public_id, obj.public_id])
        return format_html('<a href="{}">download</a>', url)


@admin.action(description="Stop selected recordings")
def stop_recordings(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Recording]) -> None:
    from django_levelchat.signaling import control  # the admin is a transport: stopping goes to the SFU worker

    for recording in queryset.select_related("room"):
        try:
            control.stop_recording(recording, by="admin")
        except LevelChatError as exc:
            modeladmin.message_user(request, f"{recording.public_id}: {exc.detail}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"Stopping {recording.public_id}.", messages.SUCCESS)


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "room",
        "status",
        "partial",
        "started_at",
        "duration_display",
        "size_display",
        "download",
    )
    list_filter = ("status", "partial")
    search_fields = ("public_id", "room__public_id", "room__name")
    readonly_fields = (
        "public_id",
        "room",
        "status",
        "partial",
        "started_by",
        "worker",
        "created_at",
        "started_at",
        "stopped_at",
        "duration_display",
        "size_display",
        "error",
        "download",
    )
    fields = readonly_fields
    inlines = [RecordingFileInline]
    actions = [stop_recordings]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Recording]:
        return super().get_queryset(request).select_related("room").prefetch_related("files")

    @admin.display(description="duration", ordering="duration")
    def duration_display(self, obj: Recording) -> str:
        return _human_duration(obj.duration)

    @admin.display(description="size", ordering="size")
    def size_display(self, obj: Recording) -> str:
        return _human_size(obj.size)

    @admin.display(description="composed file")
    def download(self, obj: Recording) -> str:
        composed = next((f for f in obj.files.all() if f.role == RecordingFile.Role.COMPOSED), None)
        if composed is None:
            return "–"
        url = reverse("levelchat_api:recording-download", args=[obj.public_id])
        return format_html('<a href="{}">download</a>', url)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "is_active", "created_at", "last_used_at")
    list_filter = ("is_active",)
    search_fields = ("name", "key_id")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return ["name", "is_active"] if obj is None else ["name", "prefix", "is_active", "created_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            request._levelchat_new_key = obj.set_new_secret()
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API key created",
            "key": obj,
            "full_key": request._levelchat_new_key,
        }
        return TemplateResponse(request, "levelchat/admin/apikey_created.html", context)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "public_id", "is_active", "events", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "public_id", "description")
    readonly_fields = ("public_id", "created_at")
    fields = ("url", "description", "events", "is_active", "public_id", "created_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not change:
            request._levelchat_new_secret = obj.set_new_secret()
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Webhook endpoint created",
            "endpoint": obj,
            "secret": request._levelchat_new_secret,
        }
        return TemplateResponse(request, "levelchat/admin/webhook_created.html", context)


@admin.action(description="Redeliver selected deliveries")
def redeliver_deliveries(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[WebhookDelivery]
) -> None:
    count = redeliver(queryset)
    modeladmin.message_user(request, f"Queued {count} delivery(ies) again.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event_type",
        "event",
        "room_key",
        "endpoint",
        "status",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event__type", "endpoint")
    list_select_related = ("event", "endpoint")
    search_fields = ("event__public_id", "room_key")
    actions = [redeliver_deliveries]
    readonly_fields = (
        "event",
        "endpoint",
        "room_key",
        "status",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "last_status",
        "last_error",
        "delivered_at",
        "created_at",
    )

    @admin.display(description="type", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("type", "public_id", "room_key", "created_at")
    list_filter = ("type",)
    search_fields = ("public_id", "room_key")
    readonly_fields = ("public_id", "type", "room_key", "created_at", "payload")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
