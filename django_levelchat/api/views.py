"""REST API v1 views. Objects are addressed by public id only (``RM_…``, ``RC_…``); unknown ids are 404.

The live actions (remove, mute, capabilities, messages) call ``django_levelchat.signaling.control``, which
reaches the sockets over the channel layer; a channel layer or Redis that is down answers 503.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_levelchat import capabilities as caps
from django_levelchat import lifecycle, tokens, usage
from django_levelchat.api import serializers as s
from django_levelchat.api.authentication import ApiKeyAuthentication
from django_levelchat.api.exceptions import (
    Conflict,
    NotConnected,
    PayloadTooLarge,
    SignalingUnavailable,
    exception_handler,
)
from django_levelchat.api.pagination import StrictLimitOffsetPagination, pagination_parameters
from django_levelchat.api.permissions import IsApiKeyOrStaff, is_api_key_request
from django_levelchat.api.schema import LevelChatAutoSchema, errors
from django_levelchat.api.throttling import TokenMintThrottle
from django_levelchat.conf import levelchat_settings, region_signaling_url
from django_levelchat.models import Participant, Recording, RecordingFile, Room, WebhookDelivery, WebhookEndpoint
from django_levelchat.protocol import SIGNAL_PATH
from django_levelchat.recording.access import may_download
from django_levelchat.recording.ranges import ranged_file_response
from django_levelchat.recording.storage import CONTENT_TYPES, recording_storage
from django_levelchat.signaling import control
from django_levelchat.signaling.rooms import LAYER_ERRORS
from django_levelchat.webhooks.delivery import redeliver

logger = logging.getLogger(__name__)

SESSIONS_PER_IDENTITY = 100

ROOM_ID = OpenApiParameter("room_id", str, OpenApiParameter.PATH, description="Room public id (`RM_…`).")
IDENTITY = OpenApiParameter("identity", str, OpenApiParameter.PATH, description="Participant identity.")
WEBHOOK_ID = OpenApiParameter("webhook_id", str, OpenApiParameter.PATH, description="Endpoint public id (`WH_…`).")
EVENT_ID = OpenApiParameter("event_id", str, OpenApiParameter.PATH, description="Event public id (`EV_…`).")
RECORDING_ID = OpenApiParameter("recording_id", str, OpenApiParameter.PATH, description="Recording public id (`RC_…`).")
FILE_ID = OpenApiParameter("file_id", str, OpenApiParameter.PATH, description="Recording file public id (`RF_…`).")


#: Bytes of a REST request body; a larger one is a JSON 413 ``too_large`` (every body here is a few KiB at most).
MAX_BODY_BYTES = 65536


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, plus a 413 ``too_large`` for a body over MAX_BODY_BYTES (read no further than that)
    and a 400 (not a 500) for JSON nested deeper than the interpreter can parse."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        if stream is None:
            return super().parse(stream, media_type, parser_context)
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None


class ApiPolicy:
    """The policies shared by every v1 view (set here, so the host project's REST_FRAMEWORK cannot loosen them)."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsApiKeyOrStaff]
    throttle_classes: list[type] = []
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONBodyParser]
    metadata_class = None  # OPTIONS answers 405 like any undocumented method
    pagination_class = StrictLimitOffsetPagination
    schema = LevelChatAutoSchema()

    def get_exception_handler(self) -> Any:
        return exception_handler


class ApiView(ApiPolicy, APIView):
    pass


def get_room(room_id: str) -> Room:
    return get_object_or_404(Room.objects.select_related("policy"), public_id=room_id)


def _live(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a signaling control action; a channel layer or presence backend that is down is a 503."""
    try:
        return action(*args, **kwargs)
    except LAYER_ERRORS:
        logger.warning("signaling backend unavailable for %s", getattr(action, "__name__", action))
        raise SignalingUnavailable() from None


# --- rooms -----------------------------------------------------------------------------------------------------


@extend_schema(tags=["rooms"])
class RoomListView(ApiPolicy, generics.ListCreateAPIView):
    serializer_class = s.RoomSerializer

    def get_queryset(self) -> QuerySet[Room]:
        rooms = Room.objects.select_related("policy").order_by("-created_at", "-pk")
        if getattr(self, "swagger_fake_view", False):
            return rooms
        filters = s.RoomFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return rooms.filter(**filters.validated_data)

    @extend_schema(operation_id="rooms_list", summary="List rooms", parameters=[s.RoomFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(operation_id="rooms_create", summary="Create a room", responses={201: s.RoomSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)


@extend_schema(tags=["rooms"], parameters=[ROOM_ID])
class RoomDetailView(ApiView):
    @extend_schema(operation_id="rooms_retrieve", summary="Get a room", responses={200: s.RoomSerializer})
    def get(self, request: Request, room_id: str) -> Response:
        return Response(s.RoomSerializer(get_room(room_id)).data)

    @extend_schema(
        operation_id="rooms_partial_update",
        summary="Change a room",
        description="name, max_participants, empty_timeout, metadata, policy (the type is fixed at creation). "
        "`status` changes only through `…/end` and `…/archive`; an archived room cannot be changed (409 "
        "`room_archived`). Read-only or unknown keys are a 400.",
        request=s.RoomUpdateSerializer,
        responses={200: s.RoomSerializer, **errors(409)},
    )
    def patch(self, request: Request, room_id: str) -> Response:
        room = get_room(room_id)
        serializer = s.RoomUpdateSerializer(room, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if room.status == Room.Status.ARCHIVED:
            raise Conflict(f"Room {room.public_id} is archived; it cannot be changed.", code="room_archived")
        serializer.save()
        return Response(s.RoomSerializer(room).data)

    @extend_schema(
        operation_id="rooms_destroy",
        summary="Delete an ended or archived room",
        description="Deletes the room with its participant sessions and recording records (409 `room_not_ended` "
        "while it is created or active; end it first).",
        responses={204: None, **errors(409)},
    )
    def delete(self, request: Request, room_id: str) -> Response:
        room = get_room(room_id)
        # Conditional, so a room that a concurrent request re-activates is never deleted.
        deleted, _ = Room.objects.filter(pk=room.pk, status__in=[Room.Status.ENDED, Room.Status.ARCHIVED]).delete()
        if not deleted:
            raise Conflict(f"Room {room.public_id} is {room.status}; end it before deleting it.", code="room_not_ended")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["rooms"], parameters=[ROOM_ID], request=None)
class RoomEndView(ApiView):
    @extend_schema(
        operation_id="rooms_end",
        summary="End a room",
        description="created|active → ended (reason `ended_by_api`); closes every open session. Idempotent on an "
        "ended room; 409 `illegal_transition` on an archived one.",
        responses={200: s.RoomSerializer, **errors(409)},
    )
    def post(self, request: Request, room_id: str) -> Response:
        room = get_room(room_id)
        lifecycle.end_room(room, "ended_by_api")
        return Response(s.RoomSerializer(room).data)


@extend_schema(tags=["rooms"], parameters=[ROOM_ID], request=None)
class RoomArchiveView(ApiView):
    @extend_schema(
        operation_id="rooms_archive",
        summary="Archive an ended room",
        description="ended → archived. Idempotent on an archived room; 409 `illegal_transition` otherwise.",
        responses={200: s.RoomSerializer, **errors(409)},
    )
    def post(self, request: Request, room_id: str) -> Response:
        room = get_room(room_id)
        lifecycle.archive_room(room)
        return Response(s.RoomSerializer(room).data)


# --- tokens ----------------------------------------------------------------------------------------------------


def signaling_url(request: Request, region: str) -> str:
    """The region's configured URL, else the ws(s):// URL of the signaling socket on this host."""
    configured = region_signaling_url(region)
    if configured:
        return str(configured)
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{SIGNAL_PATH}"


@extend_schema(tags=["tokens"], parameters=[ROOM_ID])
class TokenView(ApiView):
    throttle_classes = [TokenMintThrottle]

    @extend_schema(
        operation_id="tokens_create",
        summary="Mint a room token",
        description="A short-lived JWT for one identity in this room. Capabilities default to the role's ceiling "
        "(the room policy); asking for more is a 400 `capability_ceiling`, a ttl above the cap a 400 `token_ttl`, "
        "an ended or archived room a 409 `room_ended`. Session callers are throttled (scope `levelchat_token`); "
        "API keys are not.",
        request=s.TokenCreateSerializer,
        responses={201: s.TokenSerializer, **errors(409, 429)},
    )
    def post(self, request: Request, room_id: str) -> Response:
        room = get_room(room_id)
        serializer = s.TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        regions = levelchat_settings.REGIONS or {}
        region = data.get("region")
        if region and region not in regions:
            raise exceptions.ValidationError({"region": [f"Unknown region; known: {', '.join(sorted(regions))}."]})
        if region is None:
            region = str(levelchat_settings.DEFAULT_REGION or "")
        lifecycle.ensure_joinable(room)
        token = tokens.issue_token(
            room,
            data["identity"],
            name=data.get("name", ""),
            role=data.get("role"),
            capabilities=data.get("capabilities"),
            ttl=data.get("ttl"),
            metadata=data.get("metadata"),
            region=region,
        )
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        body = {
            "token": token,
            "expires_at": datetime.fromtimestamp(exp, tz=UTC),
            "signaling_url": signaling_url(request, region),
            "ice_servers": list(levelchat_settings.ICE_SERVERS or []),
            "room": room.public_id,
            "identity": data["identity"],
        }
        return Response(s.TokenSerializer(body).data, status=status.HTTP_201_CREATED)


# --- participants ----------------------------------------------------------------------------------------------


def live_tracks(room: Room) -> dict[str, list[dict[str, Any]]]:
    """Participant session id → published tracks, from the signaling presence.

    The tracks are a bonus: with the presence backend down the listing still answers, without them.
    """
    try:
        roster = control.live_roster(room)
    except LAYER_ERRORS:
        logger.warning("levelchat: live roster of %s unavailable", room.public_id)
        return {}
    return {entry["id"]: entry["tracks"] for entry in roster}


@extend_schema(tags=["participants"], parameters=[ROOM_ID])
class ParticipantListView(ApiPolicy, generics.ListAPIView):
    serializer_class = s.ParticipantSerializer

    def get_queryset(self) -> QuerySet[Participant]:
        if getattr(self, "swagger_fake_view", False):
            return Participant.objects.none()
        self.room = get_room(self.kwargs["room_id"])
        filters = s.ParticipantFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        sessions = Participant.objects.filter(room=self.room).order_by("-joined_at", "-pk")
        if "live" in filters.validated_data:
            sessions = sessions.filter(left_at__isnull=filters.validated_data["live"])
        return sessions

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        room = getattr(self, "room", None)
        if room is not None and room.status == Room.Status.ACTIVE:
            context["tracks"] = live_tracks(room)
        return context

    @extend_schema(
        operation_id="participants_list",
        summary="List a room's participant sessions",
        description="The live roster (sessions with `live: true`, with their published tracks) and past sessions, "
        "newest first. A rejoin is a new session.",
        parameters=[s.ParticipantFilterSerializer],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _live_session(room: Room, identity: str) -> Participant:
    session = Participant.objects.filter(room=room, identity=identity, left_at__isnull=True).order_by("-joined_at")
    participant = session.first()
    if participant is None:
        raise NotConnected()
    return participant


@extend_schema(tags=["participants"], parameters=[ROOM_ID, IDENTITY])
class ParticipantDetailView(ApiView):
    @extend_schema(
        operation_id="participants_retrieve",
        summary="Get one identity's sessions in a room",
        responses={200: s.ParticipantDetailSerializer},
    )
    def get(self, request: Request, room_id: str, identity: str) -> Response:
        room = get_room(room_id)
        sessions = list(
            Participant.objects.filter(room=room, identity=identity).order_by("-joined_at", "-pk")[
                :SESSIONS_PER_IDENTITY
            ]
        )
        if not sessions:
            raise exceptions.NotFound("This identity has no session in this room.")
        tracks = live_tracks(room) if any(p.is_live for p in sessions) else {}
        body = {"identity": identity, "live": any(p.is_live for p in sessions), "sessions": sessions}
        return Response(s.ParticipantDetailSerializer(body, context={"tracks": tracks}).data)

    @extend_schema(
        operation_id="participants_update_capabilities",
        summary="Change a connected participant's capabilities",
        description="Replaces the capability list mid-call (revoking `publish:*` unpublishes their tracks; the client "
        "is told). Must stay within the room policy's ceiling for the participant's role (400 "
        "`capability_ceiling`); 404 `not_connected` if they have no live session.",
        request=s.CapabilitiesUpdateSerializer,
        responses={200: s.CapabilitiesResultSerializer, **errors(409, 503)},
    )
    def patch(self, request: Request, room_id: str, identity: str) -> Response:
        room = get_room(room_id)
        serializer = s.CapabilitiesUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        requested = caps.parse_capabilities(serializer.validated_data["capabilities"])
        lifecycle.ensure_joinable(room)
        participant = _live_session(room, identity)
        caps.ensure_within(requested, room.capabilities_for(participant.role), participant.role)
        names = sorted(requested)
        if not _live(control.update_capabilities, room, identity, names):
            raise NotConnected()
        Participant.objects.filter(room=room, identity=identity, left_at__isnull=True).update(capabilities=names)
        return Response(s.CapabilitiesResultSerializer({"identity": identity, "capabilities": names}).data)


@extend_schema(tags=["participants"], parameters=[ROOM_ID, IDENTITY], request=None)
class ParticipantRemoveView(ApiView):
    @extend_schema(
        operation_id="participants_remove",
        summary="Remove a connected participant",
        description="Their socket closes with 4403, reason `removed`; 404 `not_connected` if they are not in the room.",
        responses={200: s.RemoveResultSerializer, **errors(409, 503)},
    )
    def post(self, request: Request, room_id: str, identity: str) -> Response:
        room = get_room(room_id)
        lifecycle.ensure_joinable(room)
        if not _live(control.remove_participant, room, identity):
            raise NotConnected()
        return Response(s.RemoveResultSerializer({"identity": identity, "removed": True}).data)


@extend_schema(tags=["participants"], parameters=[ROOM_ID, IDENTITY])
class ParticipantMuteView(ApiView):
    @extend_schema(
        operation_id="participants_mute",
        summary="Mute a connected participant's track(s)",
        description='Body `{"track": "TR_…"}` for one track, `{"kind": "audio"}` for every track of a kind, or '
        "`{}` for all. There is no remote unmute.",
        request=s.MuteSerializer,
        responses={200: s.MuteResultSerializer, **errors(409, 503)},
    )
    def post(self, request: Request, room_id: str, identity: str) -> Response:
        room = get_room(room_id)
        serializer = s.MuteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        track, kind = serializer.validated_data.get("track"), serializer.validated_data.get("kind")
        lifecycle.ensure_joinable(room)
        if not _live(control.mute_track, room, identity, track=track, kind=kind):
            raise NotConnected()
        body = {"identity": identity, "muted": True, "track": track, "kind": kind}
        return Response(s.MuteResultSerializer(body).data)


# --- messages --------------------------------------------------------------------------------------------------


@extend_schema(tags=["messages"], parameters=[ROOM_ID])
class MessageView(ApiView):
    @extend_schema(
        operation_id="messages_create",
        summary="Send a server message into the room",
        description="A chat message from the server, to the whole room or (`to`) to one connected identity. "
        "Answers the chat-message frame that was sent.",
        request=s.MessageSerializer,
        responses={
            201: OpenApiResponse(OpenApiTypes.OBJECT, description="The chat-message frame."),
            **errors(409, 503),
        },
    )
    def post(self, request: Request, room_id: str) -> Response:
        room = get_room(room_id)
        serializer = s.MessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        text, to = serializer.validated_data["text"], serializer.validated_data.get("to")
        lifecycle.ensure_joinable(room)
        if to is not None:
            _live_session(room, to)
        frame = _live(control.send_message, room, text, to=to)
        if not frame:
            raise NotConnected()
        return Response(frame, status=status.HTTP_201_CREATED)


# --- recordings ------------------------------------------------------------------------------------------------

ACTIVE_RECORDING = frozenset({Recording.Status.RECORDING})


@extend_schema(tags=["recordings"], parameters=[ROOM_ID])
class RoomRecordingsView(ApiPolicy, generics.ListAPIView):
    serializer_class = s.RecordingSerializer

    def get_queryset(self) -> QuerySet[Recording]:
        if getattr(self, "swagger_fake_view", False):
            return Recording.objects.none()
        room = get_room(self.kwargs["room_id"])
        return (
            Recording.objects.filter(room=room)
            .select_related("room")
            .prefetch_related("files")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(operation_id="recordings_list", summary="List a room's recordings")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="recordings_start",
        summary="Start recording the room",
        description="Needs the SFU media server: answers 503 `sfu_unavailable` until it is available. 409 "
        "`room_ended` for an ended or archived room.",
        request=None,
        responses={201: s.RecordingSerializer, **errors(409, 503)},
    )
    def post(self, request: Request, room_id: str) -> Response:
        room = get_room(room_id)
        recording = _live(control.start_recording, room, by=_caller(request))
        return Response(s.RecordingSerializer(recording).data, status=status.HTTP_201_CREATED)


def _caller(request: Request) -> str:
    """Who started or stopped a recording, for ``Recording.started_by``: ``api:<key prefix>`` or ``user:<name>``."""
    if is_api_key_request(request):
        return f"api:{request.auth.prefix}"
    return f"user:{request.user.get_username()}"


def _room_recording(room_id: str, recording_id: str) -> Recording:
    room = get_room(room_id)
    return get_object_or_404(Recording.objects.select_related("room"), public_id=recording_id, room=room)


@extend_schema(tags=["recordings"], parameters=[ROOM_ID, RECORDING_ID], request=None)
class RecordingStopView(ApiView):
    @extend_schema(
        operation_id="recordings_stop",
        summary="Stop a recording",
        description="Needs the SFU media server: 503 `sfu_unavailable` until it is available. 409 "
        "`recording_not_active` for a recording that has already finished.",
        responses={200: s.RecordingSerializer, **errors(409, 503)},
    )
    def post(self, request: Request, room_id: str, recording_id: str) -> Response:
        recording = _room_recording(room_id, recording_id)
        if recording.status not in ACTIVE_RECORDING:
            raise Conflict(f"Recording {recording.public_id} is {recording.status}.", code="recording_not_active")
        recording = _live(control.stop_recording, recording, by=_caller(request))
        return Response(s.RecordingSerializer(recording).data)


@extend_schema(tags=["recordings"], parameters=[RECORDING_ID])
class RecordingDetailView(ApiView):
    @extend_schema(
        operation_id="recordings_retrieve", summary="Get a recording", responses={200: s.RecordingSerializer}
    )
    def get(self, request: Request, recording_id: str) -> Response:
        recording = get_object_or_404(Recording.objects.select_related("room"), public_id=recording_id)
        return Response(s.RecordingSerializer(recording).data)


def _download_access(request: Request, recording: Recording | None) -> None:
    """API keys may fetch any recording; anyone else needs ``LEVELCHAT["RECORDING_ACCESS"]`` (staff by default).

    Refusals never tell whether the recording exists: 401 without credentials, 403 with them. API keys and staff,
    who may list every recording anyway, get the 404 of an unknown id.
    """
    if recording is None:
        if IsApiKeyOrStaff().has_permission(request, None):
            return
    elif is_api_key_request(request) or may_download(request, recording):
        return
    if request.user and request.user.is_authenticated:
        raise exceptions.PermissionDenied()
    raise exceptions.NotAuthenticated()


def _serve(request: Request, recording: Recording, file: RecordingFile) -> HttpResponse:
    storage = recording_storage()
    if not storage.exists(file.name):
        raise exceptions.NotFound("The recording file is not available.", code="file_missing")
    suffix = Path(file.name).suffix
    stem = (
        recording.public_id if file.role == RecordingFile.Role.COMPOSED else f"{recording.public_id}-{file.public_id}"
    )
    return ranged_file_response(
        storage,
        file.name,
        range_header=request.headers.get("Range"),
        content_type=CONTENT_TYPES.get(suffix, "application/octet-stream"),
        filename=f"{stem}{suffix}",
    )


class DownloadView(ApiView):
    permission_classes: list[type[IsApiKeyOrStaff]] = []  # decided per recording in ``_download_access``

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The file is not rendered by DRF; error bodies fall back to JSON whatever the Accept header says.
        return super().perform_content_negotiation(request, force=True)


DOWNLOAD_ERRORS = (
    "Downloads are streamed with range requests (206 with `Content-Range`, 416 for a range outside "
    "the file), so a `<video>` element can seek. Callers: an API key, or whoever `LEVELCHAT['RECORDING_ACCESS']` "
    "allows (staff sessions by default); 401/403 otherwise, whether or not the recording exists."
)


@extend_schema(tags=["recordings"], parameters=[RECORDING_ID])
class RecordingDownloadView(DownloadView):
    @extend_schema(
        operation_id="recordings_download",
        summary="Download the composed file of a recording",
        description="409 `recording_not_ready` until the composed file exists; 404 `file_missing` when it is gone "
        "from the storage. " + DOWNLOAD_ERRORS,
        responses={(200, "video/webm"): OpenApiTypes.BINARY, **errors(409)},
    )
    def get(self, request: Request, recording_id: str) -> Any:
        recording = Recording.objects.select_related("room").filter(public_id=recording_id).first()
        _download_access(request, recording)
        if recording is None:
            raise exceptions.NotFound()
        composed = recording.composed
        if composed is None:
            raise Conflict(f"Recording {recording.public_id} has no composed file yet.", code="recording_not_ready")
        return _serve(request, recording, composed)


@extend_schema(tags=["recordings"], parameters=[RECORDING_ID, FILE_ID])
class RecordingFileDownloadView(DownloadView):
    @extend_schema(
        operation_id="recordings_file_download",
        summary="Download one file of a recording (a track, or the composed file)",
        description="404 `file_missing` when it is gone from the storage. " + DOWNLOAD_ERRORS,
        responses={(200, "video/webm"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, recording_id: str, file_id: str) -> Any:
        recording = Recording.objects.select_related("room").filter(public_id=recording_id).first()
        _download_access(request, recording)
        file = RecordingFile.objects.filter(recording=recording, public_id=file_id).first() if recording else None
        if recording is None or file is None:
            raise exceptions.NotFound()
        return _serve(request, recording, file)


# --- webhooks --------------------------------------------------------------------------------------------------


@extend_schema(tags=["webhooks"])
class WebhookListView(ApiPolicy, generics.ListCreateAPIView):
    serializer_class = s.WebhookEndpointSerializer

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.order_by("-created_at", "-pk")

    @extend_schema(operation_id="webhooks_list", summary="List webhook endpoints")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Create a webhook endpoint",
        description="Answers the endpoint with its signing `secret`, the only time the secret is ever shown. The URL "
        "is resolved now and before every delivery; a loopback, private, link-local or reserved address is a 400 "
        "unless LEVELCHAT['WEBHOOK_ALLOW_PRIVATE_URLS'].",
        request=s.WebhookEndpointSerializer,
        responses={201: s.WebhookEndpointCreatedSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save()
        body = {**s.WebhookEndpointSerializer(endpoint).data, "secret": serializer.new_secret}
        return Response(body, status=status.HTTP_201_CREATED)


def get_endpoint(webhook_id: str) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, public_id=webhook_id)


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID])
class WebhookDetailView(ApiView):
    @extend_schema(
        operation_id="webhooks_retrieve", summary="Get a webhook endpoint", responses={200: s.WebhookEndpointSerializer}
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(s.WebhookEndpointSerializer(get_endpoint(webhook_id)).data)

    @extend_schema(
        operation_id="webhooks_partial_update",
        summary="Change a webhook endpoint",
        description="url, description, events, is_active. The secret cannot be read or set.",
        request=s.WebhookEndpointSerializer,
        responses={200: s.WebhookEndpointSerializer},
    )
    def patch(self, request: Request, webhook_id: str) -> Response:
        endpoint = get_endpoint(webhook_id)
        serializer = s.WebhookEndpointSerializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(s.WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Delete a webhook endpoint",
        description="Its queued deliveries are dropped.",
        responses={204: None},
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        get_endpoint(webhook_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID])
class WebhookDeliveriesView(ApiPolicy, generics.ListAPIView):
    serializer_class = s.WebhookDeliverySerializer

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        endpoint = get_endpoint(self.kwargs["webhook_id"])
        filters = s.DeliveryFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint, **filters.validated_data)
        return deliveries.select_related("event").order_by("-pk")

    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="List an endpoint's deliveries",
        description="Newest first; `?status=failed` for the ones that gave up.",
        parameters=[s.DeliveryFilterSerializer],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID, EVENT_ID], request=None)
class WebhookRedeliverView(ApiView):
    @extend_schema(
        operation_id="webhooks_redeliver",
        summary="Send an event to the endpoint again",
        description="Queues the delivery again (with a fresh attempt count), whatever its status.",
        responses={200: s.WebhookDeliverySerializer},
    )
    def post(self, request: Request, webhook_id: str, event_id: str) -> Response:
        deliveries = WebhookDelivery.objects.filter(endpoint=get_endpoint(webhook_id), event__public_id=event_id)
        if not redeliver(deliveries):
            raise exceptions.NotFound("This endpoint has no delivery of this event.")
        return Response(s.WebhookDeliverySerializer(deliveries.select_related("event").get()).data)


# --- usage -----------------------------------------------------------------------------------------------------


def usage_window(request: Request) -> tuple[Any, Any, str | None]:
    query = s.UsageQuerySerializer(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    data = query.validated_data
    return data.get("from"), data.get("to") or timezone.now(), data.get("room")


@extend_schema(tags=["usage"])
class UsageView(ApiView):
    @extend_schema(
        operation_id="usage_retrieve",
        summary="Participant-minutes in a time window",
        description="Totals and per-room participant-minutes of the sessions overlapping [from, to); only the "
        "overlap counts, so consecutive windows add up. Open sessions count until now. Paginated by room.",
        parameters=[s.UsageQuerySerializer, *pagination_parameters()],
        responses={200: s.UsageSerializer},
    )
    def get(self, request: Request) -> Response:
        start, end, room_id = usage_window(request)
        sessions = usage.sessions_in(start, end).only("room_id", "joined_at", "left_at")
        if room_id:
            sessions = sessions.filter(room__public_id=room_id)
        per_room = usage.by_room(sessions, start, end)
        rooms = Room.objects.filter(pk__in=list(per_room)).order_by("-created_at", "-pk")
        paginator = StrictLimitOffsetPagination()
        page = paginator.paginate_queryset(rooms, request, view=self) or []
        results = [
            {
                "room": room.public_id,
                "name": room.name,
                "sessions": per_room[room.pk].sessions,
                "participant_minutes": per_room[room.pk].participant_minutes,
            }
            for room in page
        ]
        total = usage.RoomUsage(
            sessions=sum(u.sessions for u in per_room.values()), seconds=sum(u.seconds for u in per_room.values())
        )
        body = {
            "from": start,
            "to": end,
            "sessions": total.sessions,
            "participant_minutes": total.participant_minutes,
            "count": paginator.count,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": results,
        }
        return Response(s.UsageSerializer(body).data)


@extend_schema(tags=["usage"])
class UsageSessionsView(ApiPolicy, generics.ListAPIView):
    serializer_class = s.SessionUsageSerializer

    def get_queryset(self) -> QuerySet[Participant]:
        if getattr(self, "swagger_fake_view", False):
            return Participant.objects.none()
        self.window = usage_window(self.request)
        start, end, room_id = self.window
        sessions = usage.sessions_in(start, end).select_related("room").order_by("joined_at", "pk")
        return sessions.filter(room__public_id=room_id) if room_id else sessions

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        window = getattr(self, "window", None)
        if window is not None:
            context["start"], context["end"] = window[0], window[1]
        return context

    @extend_schema(
        operation_id="usage_sessions",
        summary="Participant sessions in a time window",
        description="Every session overlapping [from, to), oldest first, with its whole duration and the seconds "
        "inside the window (`billed_seconds`).",
        parameters=[s.UsageQuerySerializer],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
