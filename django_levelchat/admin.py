"""Admin for rooms, policies, recordings and API keys.

A new API key's secret is rendered directly in the response to the add form, so it is shown exactly once and
never passes through the message framework (whose storage is the session table or a cookie).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from django_levelchat import lifecycle
from django_levelchat.exceptions import IllegalTransition
from django_levelchat.models import ApiKey, CapabilityPolicy, Participant, Recording, Room


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
    fields = ("name", "room_type", "max_participants", "empty_timeout", "metadata", "policy", *readonly_fields)
    inlines = [ParticipantInline]
    actions = [end_rooms, archive_rooms]


@admin.register(CapabilityPolicy)
class CapabilityPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ("public_id", "room", "status", "started_at", "stopped_at", "duration", "size")
    list_filter = ("status",)
    search_fields = ("public_id", "room__public_id", "room__name")
    readonly_fields = (
        "public_id",
        "room",
        "status",
        "file_path",
        "created_at",
        "started_at",
        "stopped_at",
        "duration",
        "size",
        "error",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


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
