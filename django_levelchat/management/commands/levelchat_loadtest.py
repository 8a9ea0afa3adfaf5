"""``manage.py levelchat_loadtest``: Python participants (aiortc) load a room server, LiveKit ``lk load-test`` style.

By default it starts its own daphne on a free loopback port (this project's ASGI application and settings, so
the rooms and tokens it makes here are valid there); ``--url`` targets a running server instead, which must share
this project's database and signing keys. Bounded: at most MAX_PARTICIPANTS participants, MAX_ROOM per room (a
mesh), MAX_DURATION seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_levelchat.client.loadtest import RESOLUTIONS, LoadTest, Plan, table
from django_levelchat.models import Room
from django_levelchat.tokens import issue_token

MAX_PARTICIPANTS = 64
MAX_ROOM = 16
MAX_DURATION = 600.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Command(BaseCommand):
    help = "Load-test the signaling server and the mesh with Python participants; print a table per room."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rooms", type=int, default=1, help="rooms to create (default 1)")
        parser.add_argument("--video-publishers", type=int, default=2, help="per room: publish the synthetic camera")
        parser.add_argument("--audio-publishers", type=int, default=0, help="per room: publish a tone")
        parser.add_argument("--subscribers", type=int, default=0, help="per room: publish nothing, receive all")
        parser.add_argument("--duration", type=float, default=10.0, help="seconds to stay after joining (≤ 600)")
        parser.add_argument("--join-rate", type=float, default=5.0, help="participants joining per second")
        parser.add_argument("--video-resolution", choices=sorted(RESOLUTIONS), default="low")
        parser.add_argument("--url", help="a running server (http://host:port) instead of a daphne started here")
        parser.add_argument(
            "--allow-remote", action="store_true", help="allow a --url that is not loopback (your own server only)"
        )
        parser.add_argument("--asgi", help="ASGI application for the daphne started here (default ASGI_APPLICATION)")
        parser.add_argument("--json", metavar="FILE", help="also write the per-room figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = Plan(
            rooms=options["rooms"],
            video_publishers=options["video_publishers"],
            audio_publishers=options["audio_publishers"],
            subscribers=options["subscribers"],
            duration=options["duration"],
            join_rate=options["join_rate"],
            video_resolution=options["video_resolution"],
        )
        self._check(plan, options)
        rooms = [
            Room.objects.create(name=f"loadtest {i + 1}", max_participants=plan.per_room) for i in range(plan.rooms)
        ]
        tokens = [[issue_token(room, f"lt-{i}") for i in range(plan.per_room)] for room in rooms]
        server = None if options["url"] else LocalDaphne(options["asgi"])
        url = options["url"] or server.start()  # type: ignore[union-attr]
        self.stderr.write(
            f"levelchat_loadtest: {plan.rooms} room(s) × {plan.per_room} ({plan.video_publishers} video, "
            f"{plan.audio_publishers} audio, {plan.subscribers} subscribers), {plan.video_resolution} video, "
            f"{plan.duration:g} s, {plan.join_rate:g} joins/s → {url}"
        )
        tty = self.stderr.isatty()
        last = [0.0]

        def progress(line: str) -> None:
            if tty or line.endswith("\n"):
                self.stderr.write(line, ending="")
            elif time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                self.stderr.write(line.lstrip("\r"))

        run = LoadTest(plan, url, tokens, progress=progress)
        try:
            reports = asyncio.run(
                asyncio.wait_for(run.run(), plan.duration + plan.rooms * plan.per_room / plan.join_rate + 120)
            )
        finally:
            if server is not None:
                server.stop()
            Room.objects.filter(pk__in=[room.pk for room in rooms]).delete()
        self.stdout.write(table(reports))
        if options["json"]:
            Path(options["json"]).write_text(json.dumps([r.row() for r in reports], indent=2))

    @staticmethod
    def _check(plan: Plan, options: dict[str, Any]) -> None:
        if (
            min(plan.rooms, plan.per_room) < 1
            or min(plan.video_publishers, plan.audio_publishers, plan.subscribers) < 0
        ):
            raise CommandError("need at least one room and one participant per room")
        if plan.per_room > MAX_ROOM:
            raise CommandError(f"at most {MAX_ROOM} participants per room (each one connects to every other)")
        if plan.rooms * plan.per_room > MAX_PARTICIPANTS:
            raise CommandError(f"at most {MAX_PARTICIPANTS} participants in all")
        if not 0 < plan.duration <= MAX_DURATION:
            raise CommandError(f"--duration must be between 0 and {MAX_DURATION:g} seconds")
        if plan.join_rate <= 0:
            raise CommandError("--join-rate must be positive")
        url = options["url"]
        if url and not options["allow_remote"] and urllib.parse.urlsplit(url).hostname not in LOOPBACK:
            raise CommandError("--url is not a loopback address; add --allow-remote to load a server you run")


class LocalDaphne:
    """daphne serving this project on a free loopback port, with this process's settings and environment."""

    def __init__(self, asgi: str | None) -> None:
        app = asgi or getattr(settings, "ASGI_APPLICATION", "")
        if not app:
            raise CommandError("no ASGI_APPLICATION setting: pass --asgi module:application")
        self.app = app if ":" in app else ":".join(app.rsplit(".", 1))  # daphne wants module:attribute
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE),
        }
        env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), *sys.path])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), self.app],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CommandError(f"daphne exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise CommandError("daphne did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
