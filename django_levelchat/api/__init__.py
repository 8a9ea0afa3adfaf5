"""The REST API v1 (DRF): rooms, tokens, participants, moderation and recordings, authenticated by API keys.

Mounted by ``django_levelchat.urls``; the example project serves it under ``/levelchat/v1/…``. The OpenAPI
schema is at ``v1/schema`` and a self-hosted Swagger UI at ``v1/docs``. See ``docs/rest.md``.
"""
