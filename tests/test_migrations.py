from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_migrations():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:
        pytest.fail(f"makemigrations --check would create a migration:\n{out.getvalue()}", pytrace=exc is None)


@pytest.mark.django_db
def test_rundemo_creates_demo_data_without_serving(capsys):
    from django.contrib.auth import authenticate

    from django_levelchat.models import Room

    call_command("rundemo", "--no-serve")
    call_command("rundemo", "--no-serve")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/" in out and "alice / demo" in out
    assert authenticate(username="alice", password="demo").is_staff
    assert authenticate(username="admin", password="demo").is_superuser
    assert Room.objects.filter(name="Demo room").count() == 1


@pytest.mark.django_db(transaction=True)
def test_old_recording_statuses_map_to_the_new_ones():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    app = "django_levelchat"
    executor = MigrationExecutor(connection)
    executor.migrate([(app, "0002_webhooks")])
    old = executor.loader.project_state([(app, "0002_webhooks")]).apps
    Room, Recording = old.get_model(app, "Room"), old.get_model(app, "Recording")
    room, other = Room.objects.create(name="a", public_id="RM_a"), Room.objects.create(name="b", public_id="RM_b")
    statuses = ["pending", "stopping", "completed", "failed", "failed_partial", "recording", "recording"]
    for n, status in enumerate(statuses):
        Recording.objects.create(
            room=room if n < 6 else other, status=status, public_id=f"RC_{n}", file_path="x.webm" if n == 2 else ""
        )
    Recording.objects.create(room=room, status="recording", public_id="RC_older_live")  # two live in room a

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([(app, "0003_recording_files")])
    new = executor.loader.project_state([(app, "0003_recording_files")]).apps.get_model(app, "Recording")
    got = {r.public_id: (r.status, r.partial, r.needs_processing) for r in new.objects.all()}
    assert got == {
        "RC_0": ("failed", False, False),
        "RC_1": ("processing", False, True),
        "RC_2": ("ready", False, False),
        "RC_3": ("failed", False, False),
        "RC_4": ("failed", True, False),
        "RC_older_live": ("recording", False, False),  # the newest live one of room a stays live
        "RC_5": ("failed", True, True),
        "RC_6": ("recording", False, False),
    }
    assert "x.webm" in new.objects.get(public_id="RC_2").error
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
