import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_levelchat import lifecycle
from django_levelchat.models import ApiKey, CapabilityPolicy, Recording, Room


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(user)
    return client


def test_changelists_and_change_pages_render(staff_client, room):
    lifecycle.join(room, "alice", name="Alice", role="participant", capabilities=["chat:send"])
    Recording.objects.create(room=room)
    CapabilityPolicy.objects.create(name="p", roles={})
    key, _ = ApiKey.create_key("k")
    for model in ("room", "capabilitypolicy", "recording", "apikey"):
        resp = staff_client.get(reverse(f"admin:django_levelchat_{model}_changelist"))
        assert resp.status_code == 200, model
    resp = staff_client.get(reverse("admin:django_levelchat_room_change", args=[room.pk]))
    assert resp.status_code == 200 and b"Alice" in resp.content
    assert staff_client.get(reverse("admin:django_levelchat_apikey_change", args=[key.pk])).status_code == 200
    resp = staff_client.get(
        reverse("admin:django_levelchat_room_changelist") + "?status__exact=active&room_type__exact=meeting"
    )
    assert resp.status_code == 200 and room.name.encode() in resp.content


def test_room_actions_end_and_archive(staff_client, room):
    url = reverse("admin:django_levelchat_room_changelist")
    staff_client.post(url, {"action": "archive_rooms", "_selected_action": [room.pk]}, follow=True)
    room.refresh_from_db()
    assert room.status == "created", "archiving a live room is refused"
    resp = staff_client.post(url, {"action": "end_rooms", "_selected_action": [room.pk]}, follow=True)
    room.refresh_from_db()
    assert room.status == "ended" and room.end_reason == "ended_by_admin"
    assert b"Ended 1 room" in resp.content
    staff_client.post(url, {"action": "archive_rooms", "_selected_action": [room.pk]}, follow=True)
    room.refresh_from_db()
    assert room.status == "archived"


def test_room_add_via_admin(staff_client):
    resp = staff_client.post(
        reverse("admin:django_levelchat_room_add"),
        {
            "name": "Board",
            "room_type": "webinar",
            "max_participants": 10,
            "empty_timeout": 60,
            "metadata": "{}",
            "participants-TOTAL_FORMS": 0,
            "participants-INITIAL_FORMS": 0,
        },
    )
    assert resp.status_code == 302
    room = Room.objects.get(name="Board")
    assert room.status == "created" and room.public_id.startswith("RM_")


def test_api_key_shown_exactly_once(staff_client):
    resp = staff_client.post(reverse("admin:django_levelchat_apikey_add"), {"name": "backend", "is_active": "on"})
    assert resp.status_code == 200
    assert "no-store" in resp["Cache-Control"]  # admin views are never_cache
    key = ApiKey.objects.get(name="backend")
    html = resp.content.decode()
    start = html.index("lc_pk_" + key.key_id + ".")
    full = html[start:].split("<", 1)[0]
    assert ApiKey.objects.authenticate(full) == key
    secret = full.split(".", 1)[1]
    for url in (
        reverse("admin:django_levelchat_apikey_change", args=[key.pk]),
        reverse("admin:django_levelchat_apikey_changelist"),
    ):
        assert secret not in staff_client.get(url).content.decode()


def test_room_add_form_shows_only_what_can_be_set(staff_client):
    html = staff_client.get(reverse("admin:django_levelchat_room_add")).content.decode()
    for absent in ("public_id", "created_at", "participants-TOTAL_FORMS", "In the call now", "End the room"):
        assert absent not in html, absent
    assert 'name="name"' in html and 'name="room_type"' in html


def test_room_change_page_live_people_history_and_buttons(staff_client, room):
    for n in range(12):
        session = lifecycle.join(room, f"user{n}", name=f"User {n}", role="participant", capabilities=["chat:send"])
        if n < 11:
            lifecycle.leave(session, "client_initiated")
    html = staff_client.get(reverse("admin:django_levelchat_room_change", args=[room.pk])).content.decode()
    assert "Nobody is in the call." in html  # presence is empty: nobody holds a socket in this test
    assert html.count("<td>User ") == 10 and "All 12 sessions" in html  # a short history, then the full one
    assert " in RM_" not in html  # no per-row "identity in room (id)" captions
    assert "Join the call as staff" in html and "End the room for everyone" in html
    history = staff_client.get(
        reverse("admin:django_levelchat_participant_changelist") + f"?room__public_id={room.public_id}"
    )
    assert history.status_code == 200 and "12 participant" in history.content.decode()
    join = staff_client.get(reverse("admin:django_levelchat_room_join", args=[room.pk]))
    assert join.status_code == 200 and b"data-levelchat-call" in join.content
    assert staff_client.get(reverse("admin:django_levelchat_room_end", args=[room.pk])).status_code == 405
    staff_client.post(reverse("admin:django_levelchat_room_end", args=[room.pk]))
    room.refresh_from_db()
    assert room.status == "ended" and room.end_reason == "ended_by_admin"
    html = staff_client.get(reverse("admin:django_levelchat_room_change", args=[room.pk])).content.decode()
    assert "Archive the room" in html and "Join the call as staff" not in html
    staff_client.post(reverse("admin:django_levelchat_room_archive", args=[room.pk]))
    room.refresh_from_db()
    assert room.status == "archived"


def test_policy_capabilities_are_checkboxes(staff_client):
    url = reverse("admin:django_levelchat_capabilitypolicy_add")
    html = staff_client.get(url).content.decode()
    assert 'type="checkbox" name="caps_participant" value="hand:raise"' in html
    data = {"name": "quiet", "caps_participant": ["subscribe:all", "chat:send"]}
    data |= {f"default_{role}": "on" for role in ("host", "viewer", "broadcaster", "recorder")}
    assert staff_client.post(url, data).status_code == 302
    policy = CapabilityPolicy.objects.get(name="quiet")
    assert policy.roles == {"participant": ["chat:send", "subscribe:all"]}
    assert policy.capabilities_for("participant") == {"chat:send", "subscribe:all"}


def test_recordings_list_sizes_durations_links_and_stop_action(staff_client, room, levelchat_settings):
    from django_levelchat.models import RecordingFile

    levelchat_settings(SFU_EMBEDDED=False)
    done = Recording.objects.create(room=room, status="ready", duration=3725.0, size=5 * 1024 * 1024)
    composed = RecordingFile.objects.create(recording=done, role="composed", kind="av", name="x.webm", size=3)
    live = Recording.objects.create(room=Room.objects.create(name="other"))
    url = reverse("admin:django_levelchat_recording_changelist")
    body = staff_client.get(url).content.decode()
    assert "1:02:05" in body and "5.0 MB" in body
    assert f'href="/levelchat/v1/recordings/{done.public_id}/download"' in body
    change = staff_client.get(reverse("admin:django_levelchat_recording_change", args=[done.pk])).content.decode()
    assert f"/levelchat/v1/recordings/{done.public_id}/files/{composed.public_id}/download" in change
    resp = staff_client.post(url, {"action": "stop_recordings", "_selected_action": [live.pk, done.pk]}, follow=True)
    text = " ".join(str(m) for m in resp.context["messages"])
    assert f"{live.public_id}: Recording needs an SFU worker" in text  # no worker: said so, nothing faked
    assert f"{done.public_id}: Recording {done.public_id} is ready." in text
    live.refresh_from_db()
    assert live.status == "recording"
