"""``manage.py runsfu [--workers N]``: run SFU workers (like Channels' ``runworker``), one process per core."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_levelchat.sfu.selfcheck import SfuUnsupported


def _run_worker(worker_id: str | None) -> None:
    import django

    django.setup()  # a spawned worker process starts from a bare interpreter
    from django_levelchat.sfu.worker import SfuWorker

    async def main() -> None:
        await SfuWorker(worker_id).run()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class Command(BaseCommand):
    help = "Run SFU workers: each serves the rooms assigned to it, talking to the server over the channel layer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers",
            type=int,
            default=max(1, (os.cpu_count() or 2) - 1),
            help="Worker processes (one asyncio loop and one core each). Default: cores - 1.",
        )
        parser.add_argument("--worker-id", default=None, help="Id of a single worker (default: random).")

    def handle(self, *args: Any, workers: int, worker_id: str | None, **options: Any) -> None:
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if worker_id is not None and workers != 1:
            raise CommandError("--worker-id names one worker: use it with --workers 1")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(levelname)s %(message)s")
        self._check()
        if workers == 1:
            self.stdout.write("SFU worker starting")
            self.stdout.flush()
            _run_worker(worker_id)
            return
        self.stdout.write(f"SFU starting {workers} workers")
        self.stdout.flush()
        processes = [
            multiprocessing.get_context("spawn").Process(target=_run_worker, args=(None,), name=f"sfu-{n}")
            for n in range(workers)
        ]
        for process in processes:
            process.start()
        try:
            for process in processes:
                process.join()
        except KeyboardInterrupt:
            for process in processes:
                process.join(5)

    def _check(self) -> None:
        from django_levelchat.sfu.selfcheck import check_aiortc

        async def check() -> None:
            check_aiortc()

        try:
            asyncio.run(check())
        except SfuUnsupported as exc:
            raise CommandError(str(exc)) from None
