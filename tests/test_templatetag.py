"""``{% levelchat_call %}`` renders the right state and never leaks more than a short-lived room token."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory

from django_levelchat import lifecycle
from django_levelchat.models import ApiKey, Room
from django_levelchat.tokens import issue_token, verify_token


def render(room, user=None, args: str = "", **extra) -> str:
    request = RequestFactory().get("/rooms/x/")
    request.user = user or AnonymousUser()
    return Template("{% load levelchat %}{% levelchat_call room " + args + " %}").render(
        Context({"room": room, "request": request, **extra})
    )


def config_of(html: str) -> dict:
    match = re.search(r'<script id="(levelchat-config-[0-9a-f]+)" type="application/json">(.*?)</script>', html, re.S)
    assert match, html
    assert f'data-config-id="{match.group(1)}"' in html
    return json.loads(match.group(2))


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password="pw", first_name="Alice", last_name="Liddell")


def test_signed_in_user_gets_a_token_for_this_room(room, alice):
    _, full_key = ApiKey.create_key("backend")
    html = render(room, alice)
    config = config_of(html)
    claims = verify_token(config["token"], room=room)
    assert (claims.identity, claims.name, claims.role) == (str(alice.pk), "Alice Liddell", "participant")
    assert claims.expires_at - claims.issued_at == 600
    assert config["room"] == {"id": room.public_id, "name": room.name, "type": "meeting"}
    assert config["signalingUrl"] is None and config["iceServers"] == [] and config["live"] is False
    assert '<script type="module" src="/static/levelchat/ui/call-ui.js"></script>' in html
    assert "lc_pk_" not in html and full_key.split(".")[1] not in html


def test_role_layout_and_live_rooms(db, alice):
    live = Room.objects.create(name="Town hall", room_type="live")
    config = config_of(render(live, alice, 'role="viewer" layout="speaker"'))
    claims = verify_token(config["token"])
    assert claims.role == "viewer" and claims.capabilities == {"subscribe:all", "chat:send"}
    assert config["live"] is True and config["layout"] == "speaker" and config["prejoin"] is False


def test_explicit_token_and_nonce(room):
    token = issue_token(room, "bot-7", name="Bot")
    html = render(room, None, 'token=minted nonce="abc123"', minted=token)
    assert config_of(html)["user"]["identity"] == "bot-7"
    assert 'nonce="abc123"' in html


def test_ended_room_shows_ended_state_without_token(room, alice):
    lifecycle.end_room(room)
    html = render(room, alice)
    assert "This call has ended" in html and "levelchat-config" not in html and 'data-state="ended"' in html


def test_anonymous_user_gets_sign_in_card(room):
    html = render(room)
    assert "Sign in to join this call" in html and "/accounts/login/?next=" in html
    assert "levelchat-config" not in html


def test_guest_access(room, levelchat_settings):
    levelchat_settings(GUEST_ACCESS=True)
    claims = verify_token(config_of(render(room))["token"])
    assert claims.identity.startswith("guest-") and claims.name == "Guest"


def test_unknown_room_and_bad_layout(db, alice):
    assert "This call does not exist" in render("RM_nope", alice)
    with pytest.raises(TemplateSyntaxError):
        render(Room.objects.create(name="r"), alice, 'layout="mosaic"')


def test_region_signaling_url(room, alice, levelchat_settings):
    levelchat_settings(REGIONS={"eu": "wss://eu.example.org/levelchat/v1/signal"}, DEFAULT_REGION="eu")
    assert config_of(render(room, alice))["signalingUrl"] == "wss://eu.example.org/levelchat/v1/signal"


def test_example_room_page(client, room, alice):
    assert "Sign in to join this call" in client.get(f"/rooms/{room.public_id}/").content.decode()
    client.force_login(alice)
    page = client.get(f"/rooms/{room.public_id}/").content.decode()
    assert verify_token(config_of(page)["token"]).identity == str(alice.pk)
    assert client.get("/rooms/RM_missing/").status_code == 404
    home = client.get("/").content.decode()
    assert f"/rooms/{room.public_id}/" in home


def test_example_live_page_roles(client, db, alice):
    live = Room.objects.create(name="Stream", room_type="live")
    client.force_login(alice)
    assert verify_token(config_of(client.get(f"/live/{live.public_id}/").content.decode())["token"]).role == "viewer"
    alice.is_staff = True
    alice.save()
    page = client.get(f"/live/{live.public_id}/").content.decode()
    assert verify_token(config_of(page)["token"]).role == "broadcaster"
    page = client.get(f"/live/{live.public_id}/?role=viewer").content.decode()
    assert verify_token(config_of(page)["token"]).role == "viewer"


def test_ui_options_reach_the_config(room, alice):
    config = config_of(render(room, alice))
    assert config["people"] is True and config["screenshare"] is True and config["backUrl"] is None
    assert config["prejoin"] is True and config["chat"] is True and config["reactions"] is True
    assert config["user"] == {"identity": str(alice.pk), "name": "Alice Liddell", "role": "participant"}
    config = config_of(render(room, alice, 'people=False screenshare=False chat=False back_url="/" prejoin=False'))
    assert (config["people"], config["screenshare"], config["chat"], config["prejoin"]) == (False, False, False, False)
    assert config["backUrl"] == "/"
    assert config_of(render(room, alice, 'back_url="home"'))["backUrl"] == "/"  # a URL name is resolved
    # The invite link: the page's own address by default, the host app's URL (absolute) when given, or none.
    assert (config["invite"], config["inviteUrl"]) == (True, None)
    invite = config_of(render(room, alice, 'invite_url="/join/abc/"'))
    assert invite["invite"] is True and invite["inviteUrl"] == "http://testserver/join/abc/"
    assert config_of(render(room, alice, "invite_url=False"))["invite"] is False
    html = render(room, alice, 'height="480px"')
    assert 'style="height: 480px"' in html
    assert '<link rel="stylesheet" href="/static/levelchat/ui/call-ui.css">' in html
