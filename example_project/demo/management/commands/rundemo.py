"""Migrate, create the demo users and room, print how to log in, then serve on http://127.0.0.1:8000/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from django_levelchat.models import Room

DEMO_PASSWORD = "demo"


class Command(BaseCommand):
    help = "Set up demo data (users alice, bob, admin; a demo room) and run the example server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="Only create the demo data.")

    def handle(self, *args: Any, addrport: str, no_serve: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        users = get_user_model()
        for username, superuser in (("alice", False), ("bob", False), ("admin", True)):
            user, _ = users.objects.get_or_create(username=username, defaults={"first_name": username.title()})
            user.is_staff = True
            user.is_superuser = superuser
            user.set_password(DEMO_PASSWORD)
            user.save()
        room = Room.objects.filter(name="Demo room").exclude(status__in=["ended", "archived"]).first()
        if room is None:
            room = Room.objects.create(name="Demo room", room_type=Room.RoomType.MEETING)
        host, _, port = addrport.rpartition(":")
        url = f"http://{host or '127.0.0.1'}:{port}/"
        self.stdout.write(
            self.style.SUCCESS("LevelChat demo is ready.")
            + f"\n  Open      {url}"
            + f"\n  Log in    alice / {DEMO_PASSWORD}   or   bob / {DEMO_PASSWORD}   (two browser windows)"
            + f"\n  Admin     {url}admin/   admin / {DEMO_PASSWORD}"
            + f"\n  Room      {room.name} ({room.public_id})\n"
        )
        self.stdout.flush()  # shown at once even when stdout is a pipe (the server runs until interrupted)
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)
