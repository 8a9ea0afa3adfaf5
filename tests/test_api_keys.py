"""T40–T42: API key secrets are stored only hashed and compared in constant time."""

import hmac
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection

from django_levelchat.models import ApiKey


def test_key_format_and_authenticate(db):
    key, full = ApiKey.create_key("backend")
    assert full.startswith(f"lc_pk_{key.key_id}.")
    assert ApiKey.objects.authenticate(full) == key


@pytest.mark.parametrize(
    "mangle",
    [
        lambda f: f[:-1] + ("A" if f[-1] != "A" else "B"),
        lambda f: f.split(".")[0] + ".",
        lambda f: f.split(".")[0],
        lambda f: "lc_pk_unknown." + f.split(".")[1],
        lambda f: f.replace("lc_pk_", "lc_sk_"),
        lambda f: "",
        lambda f: "lc_pk_" + "x" * 5000 + ".y",
    ],
)
def test_wrong_keys_fail(db, mangle):
    _, full = ApiKey.create_key("backend")
    assert ApiKey.objects.authenticate(mangle(full)) is None


def test_inactive_key_fails(db):
    key, full = ApiKey.create_key("backend")
    key.is_active = False
    key.save()
    assert ApiKey.objects.authenticate(full) is None


def test_t40_secret_is_stored_nowhere(db):
    _, full = ApiKey.create_key("backend")
    secret = full.split(".", 1)[1]
    with connection.cursor() as cur:
        for table in connection.introspection.table_names():
            cur.execute(f'SELECT * FROM "{table}"')
            for row in cur.fetchall():
                assert secret not in repr(row), f"secret found in {table}"


def test_t41_compare_digest_is_used_for_known_and_unknown_ids(db):
    key, full = ApiKey.create_key("backend")
    with mock.patch("django_levelchat.models.hmac.compare_digest", wraps=hmac.compare_digest) as spy:
        assert ApiKey.objects.authenticate(full.split(".")[0] + ".wrong") is None
        assert ApiKey.objects.authenticate("lc_pk_nosuchid.wrong") is None
    assert spy.call_count == 2


def test_touch_updates_last_used(db):
    key, _ = ApiKey.create_key("backend")
    assert key.last_used_at is None
    key.touch()
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_createkey_command_prints_the_key_once(db, capsys):
    call_command("levelchat_createkey", "ci")
    out, err = capsys.readouterr()
    full = out.strip()
    assert ApiKey.objects.authenticate(full).name == "ci"
    assert "cannot be shown again" in err and full not in err
