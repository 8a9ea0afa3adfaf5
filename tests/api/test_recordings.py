"""Recordings over the REST API: records, the SFU-less answers, and downloads confined to RECORDINGS_DIR (T47)."""

import os

import pytest

from django_levelchat import lifecycle
from django_levelchat.models import Recording

from .conftest import BASE

RECORDING_KEYS = {
    "id",
    "room",
    "status",
    "created_at",
    "started_at",
    "stopped_at",
    "duration",
    "size",
    "error",
    "downloadable",
}


@pytest.fixture
def media(tmp_path, levelchat_settings):
    root = tmp_path / "recordings"
    root.mkdir()
    levelchat_settings(RECORDINGS_DIR=str(root))
    return root


def _completed(room, file_path="RC_file.webm", status=Recording.Status.COMPLETED):
    return Recording.objects.create(room=room, status=status, file_path=file_path, duration=1.5, size=4)


def test_list_and_detail(api, room, other_room):
    rec = _completed(room)
    foreign = Recording.objects.create(room=other_room)
    body = api.get(f"{BASE}/rooms/{room.public_id}/recordings").json()
    assert body["count"] == 1
    item = body["results"][0]
    assert set(item) == RECORDING_KEYS
    assert (item["id"], item["room"], item["status"], item["downloadable"]) == (
        rec.public_id,
        room.public_id,
        "completed",
        True,
    )
    assert "file_path" not in item and "RC_file" not in str(item), "server paths are never exposed"
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
    done = _completed(room)
    resp = api.post(f"{BASE}/rooms/{room.public_id}/recordings/{done.public_id}/stop")
    assert resp.status_code == 409 and resp.json()["code"] == "recording_not_active"
    # T44: a recording is addressed only under its own room.
    assert api.post(f"{BASE}/rooms/{other_room.public_id}/recordings/{rec.public_id}/stop").status_code == 404
    assert api.post(f"{BASE}/rooms/{room.public_id}/recordings/RC_nope/stop").status_code == 404


def test_download_completed_file(api, room, media):
    (media / "RC_file.webm").write_bytes(b"WEBM")
    rec = _completed(room)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download")
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content) == b"WEBM"
    assert resp["Content-Type"] == "application/octet-stream"
    assert resp["Content-Disposition"] == f'attachment; filename="{rec.public_id}.webm"'


def test_download_with_any_accept_header(api, room, media):
    (media / "RC_file.webm").write_bytes(b"WEBM")
    rec = _completed(room)
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download", HTTP_ACCEPT="video/webm").status_code == 200
    pending = Recording.objects.create(room=room)
    resp = api.get(f"{BASE}/recordings/{pending.public_id}/download", HTTP_ACCEPT="video/webm")
    assert resp.status_code == 409 and resp.json()["code"] == "recording_not_ready"


def test_partial_file_of_a_failed_recording_downloads(api, room, media):
    (media / "part.webm").write_bytes(b"PART")
    rec = _completed(room, "part.webm", Recording.Status.FAILED_PARTIAL)
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download").status_code == 200


@pytest.mark.parametrize("status", ["pending", "recording", "stopping", "failed"])
def test_download_before_a_file_exists_is_409(api, room, media, status):
    rec = Recording.objects.create(room=room, status=status)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download")
    assert resp.status_code == 409 and resp.json()["code"] == "recording_not_ready"


def test_completed_without_file_path_is_409(api, room, media):
    rec = _completed(room, file_path="")
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download").json()["code"] == "recording_not_ready"


@pytest.mark.parametrize(
    "file_path", ["../secret.txt", "../../etc/passwd", "/etc/passwd", "sub/../../secret.txt", "a\x00b"]
)
def test_t47_paths_outside_the_recordings_dir_are_404(api, room, media, file_path):
    (media.parent / "secret.txt").write_text("secret")
    rec = _completed(room, file_path)
    resp = api.get(f"{BASE}/recordings/{rec.public_id}/download")
    assert resp.status_code == 404 and resp.json()["code"] == "file_missing"


def test_t47_symlink_escaping_the_dir_is_404(api, room, media):
    (media.parent / "secret.txt").write_text("secret")
    os.symlink(media.parent / "secret.txt", media / "link.webm")
    rec = _completed(room, "link.webm")
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download").status_code == 404


def test_missing_file_or_unconfigured_dir_is_404(api, room, media, levelchat_settings):
    rec = _completed(room, "gone.webm")
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download").json()["code"] == "file_missing"
    (media / "gone.webm").write_bytes(b"x")
    levelchat_settings(RECORDINGS_DIR=None)
    assert api.get(f"{BASE}/recordings/{rec.public_id}/download").status_code == 404


def test_subdirectories_inside_the_dir_are_served(api, room, media):
    (media / "2026").mkdir()
    (media / "2026" / "a.mp4").write_bytes(b"MP4")
    rec = _completed(room, "2026/a.mp4")
    assert b"".join(api.get(f"{BASE}/recordings/{rec.public_id}/download").streaming_content) == b"MP4"
