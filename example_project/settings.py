"""Example project settings: embedded defaults (SQLite, in-memory channel layer) unless the environment says otherwise.

- ``LEVELCHAT_REDIS_URL=redis://127.0.0.1:6379/0`` switches to the Redis channel layer (many processes).
- ``LEVELCHAT_DATABASE_URL=postgres://user@host:5432/name`` switches to PostgreSQL.
- ``LEVELCHAT_SQLITE_PATH=/path/db.sqlite3`` moves the SQLite file (tests share one between processes).
"""

import os
from pathlib import Path
from urllib.parse import urlparse

from django_levelchat.deploy import redis_channel_layer

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-insecure-key-change-me-in-production-0123456789")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI of /levelchat/v1/docs served locally, no CDN
    "django_levelchat",
    "example_project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
ASGI_APPLICATION = "example_project.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict:
    url = os.environ.get("LEVELCHAT_DATABASE_URL")
    if not url:
        path = os.environ.get("LEVELCHAT_SQLITE_PATH") or BASE_DIR / "db.sqlite3"
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {"timeout": 20}}
    parsed = urlparse(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parsed.path.lstrip("/"),
        "USER": parsed.username or "",
        "PASSWORD": parsed.password or "",
        "HOST": parsed.hostname or "",
        "PORT": parsed.port or "",
        # Keep connections between requests and database_sync_to_async calls: a new PostgreSQL connection per
        # signaling join (the default, 0) cost more than the join's queries (docs/performance.md, "At scale").
        "CONN_MAX_AGE": 60,
    }


DATABASES = {"default": _database()}

_redis = os.environ.get("LEVELCHAT_REDIS_URL")
CHANNEL_LAYERS = {
    "default": redis_channel_layer(_redis) if _redis else {"BACKEND": "django_levelchat.layers.InMemoryChannelLayer"}
}

AUTH_PASSWORD_VALIDATORS: list = []  # the demo users have the password "demo"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Finished recordings go to the default storage (docs/recording.md); tests point it at a temporary directory.
MEDIA_ROOT = os.environ.get("LEVELCHAT_MEDIA_ROOT") or BASE_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

LEVELCHAT = {
    # Demo calls run on loopback/LAN: no public STUN server is reachable from every demo machine.
    "ICE_SERVERS": [],
    # ...and the demo's SFU (embedded, live rooms) must accept the browsers' loopback/LAN candidates.
    "SFU_ALLOW_PRIVATE_CANDIDATES": True,
}
if os.environ.get("LEVELCHAT_SFU_MESH_LIMIT"):  # tests: meetings that move to the SFU early
    LEVELCHAT["SFU_MESH_LIMIT"] = int(os.environ["LEVELCHAT_SFU_MESH_LIMIT"])
