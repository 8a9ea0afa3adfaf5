"""The example project's recordings page plays the composed file through the authorised download view."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from django_levelchat.models import Recording, RecordingFile


@pytest.mark.django_db
def test_recordings_page_has_a_player_for_processed_recordings(client, room):
    ready = Recording.objects.create(room=room, status="ready", duration=3.0, size=2048)
    RecordingFile.objects.create(recording=ready, role="composed", kind="av", name="x/composed.webm")
    live = Recording.objects.create(room=room, status="recording")
    client.force_login(get_user_model().objects.create_user("staff", password="pw", is_staff=True))
    body = client.get("/recordings/").content.decode()
    assert f'src="/levelchat/v1/recordings/{ready.public_id}/download"' in body
    assert f'aria-label="Recording of {room.name}"' in body
    assert live.public_id not in body and body.count("<video") == 1
