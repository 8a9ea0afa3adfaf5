"""``{% levelchat_call room %}``: the prebuilt call UI for the current user, with a token minted in-process.

The API key never reaches the page: the tag signs a short-lived room token for ``request.user`` with the role's
capabilities from the room's policy. Configuration reaches the JS through ``json_script``; the UI script is an
ES module loaded by URL (no inline script), with the page's CSP nonce when there is one.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.safestring import SafeString

from django_levelchat import capabilities as caps
from django_levelchat.conf import levelchat_settings, region_signaling_url
from django_levelchat.models import Room
from django_levelchat.tokens import issue_token, verify_token

register = template.Library()

LAYOUTS = ("grid", "speaker")
LIVE_TYPES = (Room.RoomType.LIVE, Room.RoomType.WEBINAR)


def _room(room: Room | str) -> Room | None:
    if isinstance(room, Room):
        return room
    return Room.objects.select_related("policy").filter(public_id=str(room)).first()


def _identity(request: Any) -> tuple[str, str] | None:
    """(identity, display name) for the request's user; a guest identity when guests are enabled; else None."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.pk), (user.get_full_name() or user.get_username())[:128]
    if levelchat_settings.GUEST_ACCESS:
        return f"guest-{secrets.token_hex(6)}", "Guest"
    return None


@register.simple_tag(takes_context=True)
def levelchat_call(
    context: template.Context,
    room: Room | str,
    role: str | None = None,
    layout: str = "grid",
    height: str = "",
    token: str | None = None,
    nonce: str | None = None,
    prejoin: bool = True,
    chat: bool = True,
    reactions: bool = True,
    start_audio_off: bool = False,
    start_video_off: bool = False,
    people: bool = True,
    screenshare: bool = True,
    back_url: str | None = None,
    invite_url: str | bool | None = None,
) -> SafeString:
    """Render the call UI for ``room`` (a Room or its public id).

    ``role`` defaults to ``participant`` (``broadcaster``/``viewer`` for live and webinar rooms: the UI then uses
    ``joinLive``). ``token`` replaces the minted token, e.g. one your backend made with extra metadata.
    ``people``/``screenshare``/``chat``/``reactions`` switch those controls off; ``back_url`` is where the "Back"
    action of the end cards (ended, removed, full) leads. ``invite_url`` is the link the "Copy invite link" action
    copies (a path, URL name or absolute URL, made absolute with the request's host); by default the page's own
    address, and ``invite_url=False`` hides the action (for pages others cannot open).
    """
    request = context.get("request")
    room_obj = _room(room)
    if layout not in LAYOUTS:
        raise template.TemplateSyntaxError(f"levelchat_call layout must be one of {LAYOUTS}, not {layout!r}")
    base: dict[str, Any] = {
        "room": room_obj,
        "height": height,
        "nonce": nonce or getattr(request, "csp_nonce", None) or context.get("csp_nonce"),
        "login_url": _login_url(request),
        "back_url": resolve_url(back_url) if back_url else None,
    }
    if room_obj is None:
        return _render({**base, "state": "missing"}, request)
    if not room_obj.is_joinable:
        return _render({**base, "state": "ended"}, request)
    if token is None:
        who = _identity(request)
        if who is None:
            return _render({**base, "state": "anonymous"}, request)
        identity, name = who
        token = issue_token(room_obj, identity, name=name, role=role or caps.PARTICIPANT)
    claims = verify_token(token, room=room_obj)
    live = room_obj.room_type in LIVE_TYPES
    config = {
        "token": token,
        "signalingUrl": region_signaling_url(claims.region),  # None: the SDK uses the page's origin
        "iceServers": levelchat_settings.ICE_SERVERS,
        "room": {"id": room_obj.public_id, "name": room_obj.name, "type": room_obj.room_type},
        "user": {"identity": claims.identity, "name": claims.name, "role": claims.role},
        "live": live,
        "layout": layout,
        "prejoin": bool(prejoin) and claims.role != caps.VIEWER,
        "chat": bool(chat),
        "reactions": bool(reactions),
        "people": bool(people),
        "screenshare": bool(screenshare),
        "backUrl": base["back_url"],
        "invite": invite_url is not False,
        "inviteUrl": _absolute(request, resolve_url(invite_url))
        if isinstance(invite_url, str) and invite_url
        else None,
        "startAudioOff": bool(start_audio_off),
        "startVideoOff": bool(start_video_off),
        "sdkUrl": static("levelchat/levelchat.js"),
    }
    return _render(
        {**base, "state": "ready", "config": config, "config_id": f"levelchat-config-{secrets.token_hex(4)}"}, request
    )


def _absolute(request: Any, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


def _login_url(request: Any) -> str:
    url = resolve_url(settings.LOGIN_URL)
    return f"{url}?{urlencode({'next': request.get_full_path()})}" if request is not None else url


def _render(context: dict[str, Any], request: Any) -> SafeString:
    return SafeString(render_to_string("levelchat/call.html", context, request=request))
