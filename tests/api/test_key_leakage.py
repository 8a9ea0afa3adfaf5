"""RELIABILITY.md G18 (T39–T41): an API key's secret appears in no response, no log line, no static file and no
database column, whatever the key is used for, including when it is used wrongly; and the example project's
production settings pass ``check --deploy`` with no warning."""

from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from django_levelchat.models import ApiKey
from tests.api.conftest import BASE, JsonClient

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "django_levelchat" / "static"
KEY = re.compile(r"lc_pk_\w+\.[\w-]{16,}")


def _calls(room: str) -> list[tuple[str, str, dict | None]]:
    """Every kind of request a backend makes with its key, and some it gets wrong."""
    return [
        ("post", f"{BASE}/rooms", {"name": "Leak check", "metadata": {"k": "v"}}),
        ("get", f"{BASE}/rooms", None),
        ("get", f"{BASE}/rooms/{room}", None),
        ("patch", f"{BASE}/rooms/{room}", {"name": "Renamed"}),
        ("post", f"{BASE}/rooms/{room}/tokens", {"identity": "alice"}),
        ("post", f"{BASE}/rooms/{room}/tokens", {"identity": "bad\u0000identity"}),  # 400
        ("get", f"{BASE}/rooms/{room}/participants", None),
        ("get", f"{BASE}/rooms/{room}/participants/PA_missing", None),  # 404
        ("post", f"{BASE}/rooms/{room}/messages", {"text": "hello"}),
        ("get", f"{BASE}/rooms/{room}/recordings", None),
        ("post", f"{BASE}/webhooks", {"url": "https://hooks.example.com/lc", "events": ["room.started"]}),
        ("get", f"{BASE}/webhooks", None),
        ("get", f"{BASE}/usage", None),
        ("get", f"{BASE}/rooms/RM_nosuchroom", None),  # 404
        ("post", f"{BASE}/rooms/{room}/end", None),
        ("post", f"{BASE}/rooms/{room}/archive", None),
    ]


def test_the_secret_is_in_no_response_log_or_column(db, caplog):
    key, full = ApiKey.create_key("backend")
    secret = full.split(".", 1)[1]
    good, wrong = JsonClient(), JsonClient()
    good.credentials(HTTP_AUTHORIZATION=f"Bearer {full}")
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {full[:-4]}XXXX")  # the right id with a wrong secret: 401
    caplog.set_level(logging.DEBUG)
    room = good.post(f"{BASE}/rooms", {"name": "Room"}, format="json").json()["id"]
    seen = 0
    for client in (good, wrong):
        for method, url, body in _calls(room):
            response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
            assert response.status_code < 500, (method, url, response.status_code)
            text = response.content.decode("utf-8", "replace") + repr(sorted(response.items()))
            assert secret not in text and full not in text, (method, url)
            seen += 1
    assert seen == 2 * len(_calls(room))
    assert caplog.records, "the requests above log (at least Django's 4xx warnings)"
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in repr(record.args), record.name
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')
            for row in cur.fetchall():
                assert secret not in repr(row), f"secret found in {table}"
    key.refresh_from_db()
    assert key.last_used_at is not None  # the key was really used for the calls above


def test_static_files_carry_no_key(db):
    """What ships to browsers holds no API key (``lc_pk_<id>.<secret>``; the SDK's docs may name the format)."""
    assert KEY.fullmatch(ApiKey.create_key("backend")[1])  # the pattern finds a real key
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert not KEY.search(path.read_bytes().decode("utf-8", "replace")), path


def _check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings_prod",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "LEVELCHAT_JWT_SECRET": secrets.token_urlsafe(40),
            "DJANGO_ALLOWED_HOSTS": "calls.example.com",
            "LEVELCHAT_ALLOWED_ORIGINS": "https://calls.example.com",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_production_settings_pass_check_deploy_without_a_warning():
    done = _check_deploy()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("env", "code"),
    [({"LEVELCHAT_ALLOWED_ORIGINS": "*"}, "levelchat.W001"), ({"LEVELCHAT_JWT_SECRET": "short"}, "levelchat.E004")],
)
def test_check_deploy_fails_a_weakened_production_setting(env, code):
    """The check above can fail: the same settings with one thing weakened do not pass."""
    done = _check_deploy(**env)
    assert done.returncode != 0
    assert code in done.stdout + done.stderr
