"""The example project as it would be deployed: what ``manage.py check --deploy`` asks of a production site.

Secrets and hosts come from the environment and are required (no defaults to forget):
``DJANGO_SECRET_KEY``, ``LEVELCHAT_JWT_SECRET`` (the HMAC key of room tokens, ≥ 32 bytes, not the secret key),
``DJANGO_ALLOWED_HOSTS`` (comma-separated) and ``LEVELCHAT_ALLOWED_ORIGINS`` (the sites whose pages may open
signaling sockets). Behind a TLS-terminating proxy that sets ``X-Forwarded-Proto`` (docs/deployment.md).

    DJANGO_SETTINGS_MODULE=example_project.settings_prod python manage.py check --deploy
"""

import os

from example_project.settings import *  # noqa: F403

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
ALLOWED_HOSTS = os.environ["DJANGO_ALLOWED_HOSTS"].split(",")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

LEVELCHAT = {
    **LEVELCHAT,  # noqa: F405
    "ICE_SERVERS": [{"urls": ["stun:stun.l.google.com:19302"]}],
    "SFU_ALLOW_PRIVATE_CANDIDATES": False,
    "JWT_KEYS": {"default": {"algorithm": "HS256", "key": os.environ["LEVELCHAT_JWT_SECRET"]}},
    "ALLOWED_ORIGINS": os.environ["LEVELCHAT_ALLOWED_ORIGINS"].split(","),
}
