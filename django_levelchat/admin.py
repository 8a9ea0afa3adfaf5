"""Admin for rooms, policies, recordings, API keys, usage (participant sessions) and webhooks.

A new API key's secret, like a new webhook endpoint's signing secret, is rendered directly in the response to the
add form, so it is shown exactly once and never passes through the message framework (whose storage is the
session table or a cookie).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from django_levelchat import capabilities as caps
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
from django_levelchat.signaling import control
from django_levelchat.webhooks.delivery import redeliver

HISTORY_ROWS = 10


def _when(value: datetime | None) -> str:
    """A compact local date and time ("Nov 30, 14:05") that does not wrap in a table cell."""
    return date_format(timezone.localtime(value), "M j, H:i") if value else "—"


def _run_transition(
    modeladmin: admin.ModelAdmin, request: HttpRequest, rooms: Iterable[Room], step: Any, verb: str
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


def _end(room: Room) -> bool:
    return lifecycle.end_room(room, "ended_by_admin")


@admin.action(description="End selected rooms")
def end_rooms(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Room]) -> None:
    _run_transition(modeladmin, request, queryset, _end, "Ended")


@admin.action(description="Archive selected rooms")
def archive_rooms(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Room]) -> None:
    _run_transition(modeladmin, request, queryset, lifecycle.archive_room, "Archived")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    """Rooms: a changelist that fits a laptop, and a change page with who is in the call now (live presence), a
    short read-only history that links to the full, paginated one, and end / archive / join buttons."""

    list_display = ("room", "room_type", "status", "in_call", "created")
    list_filter = ("status", "room_type")
    search_fields = ("name", "public_id")
    editable = ("name", "room_type", "max_participants", "empty_timeout", "policy", "metadata")
    lifecycle_fields = ("public_id", "status", "created_at", "started_at", "ended_at", "archived_at", "end_reason")
    readonly_fields = (*lifecycle_fields, "participant_minutes", "in_call_now", "history")
    actions = [end_rooms, archive_rooms]
    change_form_template = "levelchat/admin/room_change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: Room | None = None) -> list[tuple[str | None, dict[str, Any]]]:
        if obj is None:  # nothing exists yet: no id, no dates, no participants
            return [(None, {"fields": self.editable})]
        return [
            (None, {"fields": self.editable}),
            ("In the call now", {"fields": ("in_call_now",)}),
            ("History", {"fields": ("history", "participant_minutes")}),
            ("Lifecycle", {"fields": self.lifecycle_fields, "classes": ("collapse",)}),
        ]

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/end/", wrap(self.end_view), name="django_levelchat_room_end"),
            path("<path:object_id>/archive/", wrap(self.archive_view), name="django_levelchat_room_archive"),
            path("<path:object_id>/join/", wrap(self.join_view), name="django_levelchat_room_join"),
            *super().get_urls(),
        ]

    def _room_or_404(self, request: HttpRequest, object_id: str, *, change: bool) -> Room:
        room = self.get_object(request, object_id)
        if room is None:
            raise Http404("No such room.")
        allowed = self.has_change_permission(request, room) if change else self.has_view_permission(request, room)
        if not allowed:
            raise PermissionDenied
        return room

    def _transition_view(self, request: HttpRequest, object_id: str, step: Any, verb: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        room = self._room_or_404(request, object_id, change=True)
        _run_transition(self, request, [room], step, verb)
        return redirect("admin:django_levelchat_room_change", room.pk)

    def end_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._transition_view(request, object_id, _end, "Ended")

    def archive_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._transition_view(request, object_id, lifecycle.archive_room, "Archived")

    def join_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The call itself, inside the admin, as the host (moderation tools included)."""
        room = self._room_or_404(request, object_id, change=True)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Join {room.name}",
            "room": room,
            "original": room,
            "back_url": reverse("admin:django_levelchat_room_change", args=[room.pk]),
        }
        return TemplateResponse(request, "levelchat/admin/room_join.html", context)

    @admin.display(description="room", ordering="name")
    def room(self, obj: Room) -> str:
        return format_html('{}<br><small class="lc-admin-muted">{}</small>', obj.name, obj.public_id)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Room) -> str:
        return _when(obj.created_at)

    @admin.display(description="in the call")
    def in_call(self, obj: Room) -> str:
        return str(len(control.live_roster(obj))) if obj.status == Room.Status.ACTIVE else "—"

    @admin.display(description="in the call now")
    def in_call_now(self, obj: Room) -> str:
        people = control.live_roster(obj) if obj.status == Room.Status.ACTIVE else []
        if not people:
            return "Nobody is in the call."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    p.get("name") or p["identity"],
                    p.get("role", ""),
                    ", ".join(t["source"] + (" (muted)" if t.get("muted") else "") for t in p.get("tracks", [])) or "—",
                    "hand raised" if p.get("hand") else "",
                )
                for p in people
            ),
        )
        return format_html(
            '<table class="lc-admin-table"><thead><tr><th>Name</th><th>Role</th><th>Publishing</th><th>Hand</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="recent sessions")
    def history(self, obj: Room) -> str:
        sessions = list(obj.participants.order_by("-joined_at")[:HISTORY_ROWS])
        if not sessions:
            return "No one has joined yet."
        total = obj.participants.count()
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    s.name or s.identity,
                    s.role,
                    _when(s.joined_at),
                    _when(s.left_at) if s.left_at else "in the call",
                    s.leave_reason,
                )
                for s in sessions
            ),
        )
        link = (
            reverse("admin:django_levelchat_participant_changelist")
            + "?"
            + urlencode({"room__public_id": obj.public_id})
        )
        more = format_html('<p><a href="{}">All {} sessions</a></p>', link, total)
        return format_html(
            '<table class="lc-admin-table"><thead><tr><th>Name</th><th>Role</th><th>Joined</th><th>Left</th>'
            "<th>Reason</th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            more,
        )

    @admin.display(description="participant-minutes")
    def participant_minutes(self, obj: Room) -> str:
        if obj.pk is None:
            return "-"
        totals = usage.by_room(obj.participants.all(), None, None).get(obj.pk, usage.RoomUsage())
        return f"{totals.participant_minutes:.1f} ({totals.sessions} sessions)"


@admin.register(Participant)
class ParticipantSessionAdmin(admin.ModelAdmin):
    """Usage: one row per participant session, filterable by date, for billing without webhooks. Also the paginated
    history a room's change page links to (``?room__public_id=RM_…``)."""

    list_display = ("identity", "name", "room", "role", "joined", "left", "leave_reason", "minutes")
    list_filter = ("role", "leave_reason")
    list_select_related = ("room",)
    list_per_page = 50
    date_hierarchy = "joined_at"
    search_fields = ("identity", "public_id", "room__public_id", "room__name")
    readonly_fields = (
        "public_id",
        "room",
        "identity",
        "name",
        "role",
        "capability_list",
        "metadata",
        "joined_at",
        "left_at",
        "leave_reason",
        "minutes",
    )
    fields = readonly_fields

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "room__public_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="joined", ordering="joined_at")
    def joined(self, obj: Participant) -> str:
        return _when(obj.joined_at)

    @admin.display(description="left", ordering="left_at")
    def left(self, obj: Participant) -> str:
        return _when(obj.left_at)

    @admin.display(description="capabilities")
    def capability_list(self, obj: Participant) -> str:
        return ", ".join(obj.capabilities) or "—"

    @admin.display(description="minutes")
    def minutes(self, obj: Participant) -> str:
        seconds = obj.duration if obj.duration is not None else usage.billed_seconds(obj, None, None)
        return f"{seconds / 60:.1f}" + ("" if obj.left_at else " (live)")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _role_fields() -> dict[str, forms.Field]:
    """Per role: "use the defaults" and one checkbox per capability of the vocabulary."""
    choices = [(name, f"{name}: {text}") for name, text in caps.VOCABULARY.items()]
    fields: dict[str, forms.Field] = {}
    for role in caps.ROLES:
        fields[f"default_{role}"] = forms.BooleanField(
            label="Use the defaults",
            required=False,
            help_text=", ".join(sorted(caps.DEFAULT_ROLE_CAPABILITIES[role])),
        )
        fields[f"caps_{role}"] = forms.MultipleChoiceField(
            label="Capabilities", required=False, choices=choices, widget=forms.CheckboxSelectMultiple
        )
    return fields


class _PolicyForm(forms.ModelForm):
    class Meta:
        model = CapabilityPolicy
        fields = ["name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles = self.instance.roles or {}
        for role in caps.ROLES:
            self.fields[f"default_{role}"].initial = role not in roles
            self.fields[f"caps_{role}"].initial = list(roles.get(role, []))

    def save(self, commit: bool = True) -> CapabilityPolicy:
        data = self.cleaned_data
        self.instance.roles = {
            role: sorted(data[f"caps_{role}"]) for role in caps.ROLES if not data.get(f"default_{role}")
        }
        return super().save(commit)


#: A capability policy edited as checkboxes of the vocabulary, one group per role, instead of raw JSON.
CapabilityPolicyForm = type("CapabilityPolicyForm", (_PolicyForm,), _role_fields())


@admin.register(CapabilityPolicy)
class CapabilityPolicyAdmin(admin.ModelAdmin):
    form = CapabilityPolicyForm
    list_display = ("name", "created_at")
    search_fields = ("name",)

    def get_fieldsets(self, request: HttpRequest, obj: CapabilityPolicy | None = None) -> list[Any]:
        return [(None, {"fields": ["name"]})] + [
            (role.capitalize(), {"fields": [f"default_{role}", f"caps_{role}"]}) for role in caps.ROLES
        ]


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
