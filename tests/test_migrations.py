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
