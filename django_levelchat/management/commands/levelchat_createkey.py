from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_levelchat.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A label for the key, e.g. the backend that will use it.")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        key, full = ApiKey.create_key(name)
        self.stderr.write(f"Created API key {key.prefix} ({name}). Store it now: it cannot be shown again.")
        self.stdout.write(full)
