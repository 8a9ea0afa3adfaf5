"""Routes of the REST API v1, without trailing slashes (``/v1/rooms``, never ``/v1/rooms/``)."""

from __future__ import annotations

from django.urls import path

from django_levelchat.api import views
from django_levelchat.api.schema import LevelChatDocsView, LevelChatSchemaView

app_name = "levelchat_api"

ROOM = "v1/rooms/<str:room_id>"
PARTICIPANT = f"{ROOM}/participants/<str:identity>"

urlpatterns = [
    path("v1/rooms", views.RoomListView.as_view(), name="room-list"),
    path(ROOM, views.RoomDetailView.as_view(), name="room-detail"),
    path(f"{ROOM}/end", views.RoomEndView.as_view(), name="room-end"),
    path(f"{ROOM}/archive", views.RoomArchiveView.as_view(), name="room-archive"),
    path(f"{ROOM}/tokens", views.TokenView.as_view(), name="room-tokens"),
    path(f"{ROOM}/participants", views.ParticipantListView.as_view(), name="participant-list"),
    path(PARTICIPANT, views.ParticipantDetailView.as_view(), name="participant-detail"),
    path(f"{PARTICIPANT}/remove", views.ParticipantRemoveView.as_view(), name="participant-remove"),
    path(f"{PARTICIPANT}/mute", views.ParticipantMuteView.as_view(), name="participant-mute"),
    path(f"{ROOM}/messages", views.MessageView.as_view(), name="room-messages"),
    path(f"{ROOM}/recordings", views.RoomRecordingsView.as_view(), name="room-recordings"),
    path(f"{ROOM}/recordings/<str:recording_id>/stop", views.RecordingStopView.as_view(), name="recording-stop"),
    path("v1/recordings/<str:recording_id>", views.RecordingDetailView.as_view(), name="recording-detail"),
    path(
        "v1/recordings/<str:recording_id>/download",
        views.RecordingDownloadView.as_view(),
        name="recording-download",
    ),
    path(
        "v1/recordings/<str:recording_id>/files/<str:file_id>/download",
        views.RecordingFileDownloadView.as_view(),
        name="recording-file-download",
    ),
    path("v1/webhooks", views.WebhookListView.as_view(), name="webhook-list"),
    path("v1/webhooks/<str:webhook_id>", views.WebhookDetailView.as_view(), name="webhook-detail"),
    path("v1/webhooks/<str:webhook_id>/deliveries", views.WebhookDeliveriesView.as_view(), name="webhook-deliveries"),
    path(
        "v1/webhooks/<str:webhook_id>/events/<str:event_id>/redeliver",
        views.WebhookRedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path("v1/usage", views.UsageView.as_view(), name="usage"),
    path("v1/usage/sessions", views.UsageSessionsView.as_view(), name="usage-sessions"),
    path("v1/schema", LevelChatSchemaView.as_view(), name="schema"),
    path("v1/docs", LevelChatDocsView.as_view(), name="docs"),
]
