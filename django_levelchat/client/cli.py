"""``python -m django_levelchat.client URL --token JWT [--play FILE | --record FILE | --echo | --synthetic]``

A bot in a room in one line: play a media file into the room, record what the first remote publisher sends,
echo every received track back, or publish the synthetic test camera and tone. It stays until ``--duration``
seconds passed (default: until interrupted) or the room ends, then leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from aiortc.contrib.media import MediaPlayer, MediaRecorder, MediaRelay

from django_levelchat.client.media import SyntheticVideoTrack, ToneAudioTrack
from django_levelchat.client.room import Room, join_room
from django_levelchat.client.signaling import JoinError

SOURCES = {"video": "camera", "audio": "microphone"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m django_levelchat.client", description=__doc__.split("\n\n")[1])
    parser.add_argument("url", help="the site (https://example.org) or its signaling URL (wss://…/levelchat/v1/signal)")
    parser.add_argument("--token", required=True, help="a room token (JWT) for this bot")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--play", metavar="FILE", help="publish the audio and video of a media file (looped)")
    mode.add_argument("--record", metavar="FILE", help="record the first remote camera and microphone to FILE")
    mode.add_argument("--echo", action="store_true", help="publish every received track back to the room")
    mode.add_argument("--synthetic", action="store_true", help="publish the synthetic test camera and tone")
    parser.add_argument("--duration", type=float, default=0, help="seconds to stay (0: until interrupted)")
    parser.add_argument("--size", default="320x240", help="synthetic video size, WxH (default 320x240)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    try:
        room = await join_room(args.token, url=args.url)
    except JoinError as exc:
        print(f"could not join: {exc}", file=sys.stderr)
        return 2
    print(f"joined {room.id} as {room.local_participant.identity} ({room.local_participant.id})")
    room.on("participant-joined", lambda p: print(f"+ {p.identity}"))
    room.on("participant-left", lambda p, reason: print(f"- {p.identity} ({reason})"))
    room.on("chat-message", lambda m: print(f"{m['from'].get('identity')}: {m['text']}"))
    recorder: MediaRecorder | None = None
    if args.play:
        player = MediaPlayer(args.play, loop=True)
        for track in (player.video, player.audio):
            if track is not None:
                await room.publish_track(track, source=SOURCES[track.kind])
    elif args.synthetic:
        width, height = (int(v) for v in args.size.lower().split("x"))
        await room.publish_track(SyntheticVideoTrack(width, height), source="camera")
        await room.publish_track(ToneAudioTrack(), source="microphone")
    elif args.record:
        recorder = _recorder(room, args.record)
    elif args.echo:
        _echo(room)
    ended = asyncio.Event()

    def on_connection_state(state: str, close: Any) -> None:
        if state in ("disconnected", "failed"):
            ended.set()

    room.on("connection-state", on_connection_state)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, ended.set)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(args.duration or None):
            await ended.wait()
    if recorder is not None:
        await recorder.stop()
    await room.leave()
    print("left")
    return 0


def _recorder(room: Room, path: str) -> MediaRecorder:
    """Record the first remote publisher's camera and microphone (starts with the first track that arrives)."""
    recorder = MediaRecorder(path)
    state: dict[str, Any] = {"who": None, "kinds": set(), "started": False}

    async def on_track(track: Any, publication: Any, participant: Any) -> None:
        if state["who"] not in (None, participant.id) or track.kind in state["kinds"]:
            return
        state["who"] = participant.id
        state["kinds"].add(track.kind)
        recorder.addTrack(track)
        if len(state["kinds"]) == 2 or not state["started"]:
            if len(state["kinds"]) == 1:
                await asyncio.sleep(1.0)  # give the other kind a moment to join the file
            if not state["started"]:
                state["started"] = True
                await recorder.start()
                print(f"recording {participant.identity} to {path}")

    room.on("track-subscribed", on_track)
    return recorder


def _echo(room: Room) -> None:
    relay = MediaRelay()
    echoed: set[str] = set()

    async def on_track(track: Any, publication: Any, participant: Any) -> None:
        if publication.source in echoed:
            return
        echoed.add(publication.source)
        await room.publish_track(relay.subscribe(track), source=publication.source)
        print(f"echoing {participant.identity}'s {publication.source}")

    room.on("track-subscribed", on_track)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    return asyncio.run(run(args))
