"""Recordings over the REST API: records with their files, the SFU-less answers, and downloads through the
storage API with range requests and the access rule (T47: no server path ever reaches a response)."""

import pytest
from django.core.files.base import ContentFile

from django_levelchat import lifecycle
from django_levelchat.models import Recording, RecordingFile
from django_levelchat.recording.storage import recording_storage, storage_name

from .conftest import BASE

RECORDING_KEYS = {
    "id",
    "room",
    "status",
    "partial",
    "started_by",
    "created_at",
    "started_at",
    "stopped_at",
    "duration",
    "size",
    "error",
    "files",
    "downloadable",
}
FILE_KEYS = {"id", "role", "kind", "participant", "track", "source", "codec", "size", "duration", "offset", "truncated"}
BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def store(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    return recording_storage()


def _ready(room, store=None, *, body=BODY, status=Recording.Status.READY):
    rec = Recording.objects.create(room=room, status=status, duration=1.5, size=len(body))
    name = storage_name(rec.public_id, "composed.webm")
    if store is not None:
        name = store.save(name, ContentFile(body))
    composed = RecordingFile.objects.create(
        recording=rec, role="composed", kind="av", name=name, size=len(body), duration=1.5
    )
    track = RecordingFile.objects.create(
        recording=rec, role="track", kind="video", participant="alice", track="TR_1", codec="vp8", name=name
    )
    return rec, composed, track


def test_list_and_detail(api, room, other_room):
    rec, composed, track = _ready(room)
    foreign = Recording.objects.create(room=other_room)
    body = api.get(f"{BASE}/rooms/{room.public_id}/recordings").json()
    assert body["count"] == 1
    item = body["results"][0]
    assert set(item) == RECORDING_KEYS
    assert (item["id"], item["room"], item["status"], item["downloadable"]) == (
        rec.public_id,
        room.public_id,
        "ready",
        True,
    )
    assert [f["id"] for f in item["files"]] == [composed.public_id, track.public_id]
    assert set(item["files"][0]) == FILE_KEYS
    assert "levelchat/recordings" not in str(item), "storage names are never exposed"
    assert api.get(f"{BASE}/recordings/{rec.public_id}").json() == item
    assert api.get(f"{BASE}/recordings/{foreign.public_id}").json()["downloadable"] is False
    assert api.get(f"{BASE}/recordings/RC_nope").status_code == 404


def test_start_answers_sfu_unavailable(api, room):
    resp = api.post(f"{BASE}/rooms/{room.public_id}/recordings")
    assert resp.status_code == 503
    assert resp.json()["code"] == "sfu_unavailable"
    assert not Recording.objects.exists()
    lifecycle.end_room(room)
    resp = api.post(f"{BASE}/rooms/{room.public_id}/recordings")
    assert resp.status_code == 409 and resp.json()["code"] == "room_ended"
    assert api.post(f"{BASE}/rooms/RM_nope/recordings").status_code == 404


def test_stop(api, room, other_room):
    rec = Recording.objects.create(room=room)
    url = f"{BASE}/rooms/{room.public_id}/recordings/{rec.public_id}/stop"
    resp = api.post(url)
    assert resp.status_code == 503 and resp.json()["code"] == "sfu_unavailable"
    done, _, _ = _ready(room)
    resp = api.post(f"{BASE}/rooms/{room.public_id}/recordings/{done.public_id}/stop")
    assert resp.status_code == 409 and resp.json()["code"] == "recording_not_active"
    # T44: a recording is addressed only under its own room.
    assert api.post(f"{BASE}/rooms/{other_room.public_id}/recordings/{rec.public_id}/stop").status_code == 404
    assert api.post(f"{BASE}/rooms/{room.public_id}/recordings/RC_nope/stop").status_code == 404


def test_download_whole_file(api, room, store):
    rec, _, _ = _ready(room, store)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download")
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content) == BODY
    assert resp["Content-Type"] == "video/webm"
    assert resp["Content-Length"] == str(len(BODY))
    assert resp["Accept-Ranges"] == "bytes"
    assert resp["Content-Disposition"] == f'attachment; filename="{rec.public_id}.webm"'


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ],
)
def test_range_requests_answer_206(api, room, store, header, first, last):
    rec, _, _ = _ready(room, store)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download", HTTP_RANGE=header)
    assert resp.status_code == 206
    assert resp["Content-Range"] == f"bytes {first}-{last}/{len(BODY)}"
    assert resp["Content-Length"] == str(last - first + 1)
    assert b"".join(resp.streaming_content) == BODY[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=50-10", "bytes=-0", "bytes=x-y"])
def test_unsatisfiable_range_is_416(api, room, store, header):
    rec, _, _ = _ready(room, store)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download", HTTP_RANGE=header)
    assert resp.status_code == 416
    assert resp["Content-Range"] == f"bytes */{len(BODY)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5"])
def test_multi_range_or_other_units_get_the_whole_file(api, room, store, header):
    rec, _, _ = _ready(room, store)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download", HTTP_RANGE=header)
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == BODY


def test_one_track_file_downloads(api, room, store):
    rec, _, track = _ready(room, store)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/files/{track.public_id}/download", HTTP_RANGE="bytes=0-3")
    assert resp.status_code == 206 and b"".join(resp.streaming_content) == BODY[:4]
    assert resp["Content-Disposition"] == f'attachment; filename="{rec.public_id}-{track.public_id}.webm"'
    other, _, _ = _ready(room, store)
    assert api.get(f"{BASE}/recordings/{other.public_id}/files/{track.public_id}/download").status_code == 404


def test_download_with_any_accept_header(api, room, store):
    rec, _, _ = _ready(room, store)
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download", HTTP_ACCEPT="video/webm").status_code == 200
    live = Recording.objects.create(room=room)
    resp = api.get(f"{BASE}/recordings/{live.public_id}/download", HTTP_ACCEPT="video/webm")
    assert resp.status_code == 409 and resp.json()["code"] == "recording_not_ready"


def test_partial_file_of_a_failed_recording_downloads(api, room, store):
    rec, _, _ = _ready(room, store, status=Recording.Status.FAILED)
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download").status_code == 200


@pytest.mark.parametrize("status", ["recording", "processing", "failed"])
def test_download_before_a_composed_file_exists_is_409(api, room, store, status):
    rec = Recording.objects.create(room=room, status=status)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download")
    assert resp.status_code == 409 and resp.json()["code"] == "recording_not_ready"


def test_file_gone_from_the_storage_is_404(api, room, store):
    rec, composed, _ = _ready(room, store)
    store.delete(composed.name)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download")
    assert resp.status_code == 404 and resp.json()["code"] == "file_missing"


def test_downloads_refused_without_authorisation(anon, user, staff, room, store):
    rec, _, track = _ready(room, store)
    urls = [
        f"{BASE}/recordings/{rec.public_id}/download",
        f"{BASE}/recordings/{rec.public_id}/files/{track.public_id}/download",
    ]
    for url in urls:
        assert anon.get(url).status_code == 401
        assert user.get(url).status_code == 403
        assert staff.get(url, HTTP_RANGE="bytes=0-0").status_code == 206
    # No oracle: an unknown recording is refused the same way before anyone learns it does not exist.
    assert anon.get(f"{BASE}/recordings/RC_nope/download").status_code == 401
    assert user.get(f"{BASE}/recordings/RC_nope/download").status_code == 403
    assert staff.get(f"{BASE}/recordings/RC_nope/download").status_code == 404


def allow_room_members(request, recording):
    """A host-app rule for the test below: users whose name is the room's name (anything but True refuses)."""
    return "yes" if request.user.get_username() == "staff" else request.user.get_username() == recording.room.name


def test_access_rule_hook_decides_for_non_api_callers(user, staff, room, store, levelchat_settings):
    levelchat_settings(RECORDING_ACCESS="tests.api.test_recordings.allow_room_members")
    rec, _, _ = _ready(room, store)
    url = f"{BASE}/recordings/{rec.public_id}/download"
    assert user.get(url).status_code == 403
    room.name = "member"
    room.save()
    assert user.get(url).status_code == 200
    assert staff.get(url).status_code == 403, "a truthy non-True answer is a refusal"
