"""Test settings: the example project with an in-memory channel layer and fast signaling timers."""

from example_project.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "django_levelchat.layers.InMemoryChannelLayer"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Recording jobs run where a test asks for them (tests/recording), never in a stray thread.
LEVELCHAT = {"ICE_SERVERS": [], "RECORDING_JOBS_IN_PROCESS": False}
