"""One file of the whole call from its track files: a grid or active-speaker layout, with mixed audio.

This is MCU work (decode, composite, encode), so it never runs in the SFU process: the recording job calls it
after the call. Three passes keep memory flat however long the call was: the audio mix (FFmpeg's ``adelay`` +
``amix`` filters) with the loudness of each person per window, then the video canvas, then a copy-mux of both.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

RATE = 48000
WINDOW = 0.5  # seconds per loudness window (who is the active speaker)
BACKGROUND = (16, 128, 128)  # black in limited-range YUV


@dataclass(frozen=True, slots=True)
class Input:
    path: Path
    kind: str  # "audio" | "video"
    participant: str
    offset: float  # seconds from the start of the call


@dataclass(frozen=True, slots=True)
class Composed:
    path: Path
    duration: float
    tiles: dict[str, tuple[int, int, int, int]]  # participant -> x, y, w, h in the first frame


def compose(
    inputs: list[Input], target: Path, *, layout: str = "grid", width: int = 640, height: int = 360, fps: int = 15
) -> Composed:
    """Write ``target`` (WebM, VP8 + Opus) from finished track files."""
    if layout not in ("grid", "speaker"):
        raise ValueError(f"unknown layout {layout!r}")
    work = target.parent
    audio = [i for i in inputs if i.kind == "audio"]
    video = [i for i in inputs if i.kind == "video"]
    end = max((i.offset + _duration(i.path) for i in inputs), default=0.0)
    loudness: dict[str, list[float]] = {}
    audio_file = work / f"{target.stem}.audio.webm"
    if audio:
        loudness = _mix_audio(audio, audio_file)
    video_file = work / f"{target.stem}.video.webm"
    tiles = _render_video(video, video_file, end, layout, width, height, fps, loudness)
    _interleave([p for p in (video_file, audio_file) if p.exists()], target)
    for part in (audio_file, video_file):
        part.unlink(missing_ok=True)
    return Composed(path=target, duration=_duration(target), tiles=tiles)


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return (container.duration or 0) / 1_000_000


# --- audio -----------------------------------------------------------------------------------------------------


def _decoded_audio(item: Input, index: int) -> Iterator[tuple[float, int, Any]]:
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
    with av.open(str(item.path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                yield item.offset + (out.time or 0.0), index, out
    for out in resampler.resample(None):
        yield item.offset + (out.time or 0.0), index, out


def _level(frame: Any) -> float:
    samples = array("h", bytes(frame.planes[0])[: frame.samples * 4])
    sparse = samples[::16]
    return sum(map(abs, sparse)) / max(len(sparse), 1)


def _mix_audio(audio: list[Input], target: Path) -> dict[str, list[float]]:
    graph = av.filter.Graph()
    mix = graph.add("amix", f"inputs={len(audio)}:duration=longest:normalize=0")
    sources = []
    for n, item in enumerate(audio):
        src = graph.add_abuffer(format="s16", sample_rate=RATE, layout="stereo", time_base=Fraction(1, RATE))
        delay_ms = round(item.offset * 1000)
        delay = graph.add("adelay", f"delays={delay_ms}:all=1")
        src.link_to(delay)
        delay.link_to(mix, 0, n)
        sources.append(src)
    sink = graph.add("abuffersink")
    mix.link_to(sink)
    graph.configure()

    loudness: dict[str, list[float]] = {}
    with av.open(str(target), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=RATE)
        stream.layout = "stereo"
        stream.bit_rate = 64000

        def drain() -> None:
            while True:
                try:
                    mixed: Any = sink.pull()
                except (BlockingIOError, av.error.EOFError):
                    return
                mixed.pts = None
                out.mux(stream.encode(mixed))

        streams = [_decoded_audio(item, n) for n, item in enumerate(audio)]
        for at, n, frame in heapq.merge(*streams, key=lambda entry: entry[0]):
            window = int(at / WINDOW)
            levels = loudness.setdefault(audio[n].participant, [])
            levels.extend([0.0] * (window + 1 - len(levels)))
            levels[window] = max(levels[window], _level(frame))
            frame.pts = None
            sources[n].push(frame)
            drain()
        for src in sources:
            src.push(None)
        drain()
        out.mux(stream.encode(None))
    return loudness


# --- video -----------------------------------------------------------------------------------------------------


def _even(value: float) -> int:
    return int(value) // 2 * 2


def _size(value: float) -> int:
    return max(2, _even(value))


def grid_tiles(people: list[str], width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    """Equal tiles, as square a grid as the count allows."""
    if not people:
        return {}
    cols = math.ceil(math.sqrt(len(people)))
    rows = math.ceil(len(people) / cols)
    w, h = _size(width / cols), _size(height / rows)
    return {p: (_even((n % cols) * w), _even((n // cols) * h), w, h) for n, p in enumerate(people)}


def speaker_tiles(people: list[str], speaker: str, width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    """The speaker large on top, everyone else in a strip below."""
    others = [p for p in people if p != speaker]
    if not others:
        return {speaker: (0, 0, _size(width), _size(height))}
    strip = _size(height / 4)
    tiles = {speaker: (0, 0, _size(width), _size(height - strip))}
    w = _size(width / len(others))
    tiles.update({p: (_even(n * w), _even(height - strip), w, strip) for n, p in enumerate(others)})
    return tiles


class _Feed:
    """One video track, decoded lazily; ``at(t)`` is the frame showing at call time ``t`` (None before it)."""

    def __init__(self, item: Input) -> None:
        self.item = item
        self._container = av.open(str(item.path))
        self._frames = self._container.decode(video=0)
        self._current: Any = None
        self._next: Any = next(self._frames, None)
        self._scaled: dict[tuple[int, int], Any] = {}

    def at(self, t: float) -> Any:
        while self._next is not None and self.item.offset + (self._next.time or 0.0) <= t:
            self._current, self._next = self._next, next(self._frames, None)
            self._scaled.clear()
        return self._current

    def scaled(self, t: float, w: int, h: int) -> Any:
        frame = self.at(t)
        if frame is None:
            return None
        if (w, h) not in self._scaled:
            self._scaled[(w, h)] = frame.reformat(width=w, height=h, format="yuv420p")
        return self._scaled[(w, h)]

    def close(self) -> None:
        self._container.close()


def _speaker_at(loudness: dict[str, list[float]], people: list[str], t: float, current: str) -> str:
    window = int(t / WINDOW)
    best, level = current, 0.0
    for person in people:
        levels = loudness.get(person, [])
        value = levels[window] if window < len(levels) else 0.0
        if value > level * 1.5:  # a little hysteresis: a rival must be clearly louder
            best, level = person, value
    return best


def _render_video(
    video: list[Input],
    target: Path,
    end: float,
    layout: str,
    width: int,
    height: int,
    fps: int,
    loudness: dict[str, list[float]],
) -> dict[str, tuple[int, int, int, int]]:
    feeds: dict[str, _Feed] = {}
    for item in video:
        feeds.setdefault(item.participant, _Feed(item))  # one camera per person (the first); screens later
    people = list(feeds)
    first_tiles: dict[str, tuple[int, int, int, int]] = {}
    speaker = people[0] if people else ""
    try:
        with av.open(str(target), "w", format="webm") as out:
            stream = out.add_stream("libvpx", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.bit_rate = 800_000
            stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
            for k in range(max(1, math.ceil(end * fps))):
                t = k / fps
                if layout == "speaker" and people:
                    speaker = _speaker_at(loudness, people, t, speaker)
                    tiles = speaker_tiles(people, speaker, width, height)
                else:
                    tiles = grid_tiles(people, width, height)
                if k == 0:
                    first_tiles = tiles
                frame = _canvas(width, height, [(feeds[p].scaled(t, w, h), x, y) for p, (x, y, w, h) in tiles.items()])
                frame.pts = k
                frame.time_base = Fraction(1, fps)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    finally:
        for feed in feeds.values():
            feed.close()
    return first_tiles


def _canvas(width: int, height: int, tiles: list[tuple[Any, int, int]]) -> Any:
    frame = av.VideoFrame(width, height, "yuv420p")
    for index, plane in enumerate(frame.planes):
        shift = 0 if index == 0 else 1
        stride = width >> shift  # ``update`` takes tightly packed rows
        buffer = bytearray([BACKGROUND[index]]) * (stride * (height >> shift))
        for tile, x, y in tiles:
            if tile is None:
                continue
            src = bytes(tile.planes[index])
            src_stride = tile.planes[index].line_size
            w, h = tile.width >> shift, tile.height >> shift
            x0, y0 = x >> shift, y >> shift
            for row in range(h):
                at = (y0 + row) * stride + x0
                buffer[at : at + w] = src[row * src_stride : row * src_stride + w]
        plane.update(bytes(buffer))
    return frame


# --- final mux -------------------------------------------------------------------------------------------------


def _interleave(parts: list[Path], target: Path) -> None:
    """Copy the video and audio parts into one file, packets in time order."""
    sources = [av.open(str(p)) for p in parts]
    try:
        with av.open(str(target), "w", format="webm") as out:
            streams = [out.add_stream_from_template(src.streams[0]) for src in sources]

            def packets(n: int) -> Iterator[tuple[float, int, Any]]:
                for packet in sources[n].demux(sources[n].streams[0]):
                    if packet.dts is not None:
                        yield float(packet.dts * packet.time_base), n, packet

            for _, n, packet in heapq.merge(*(packets(n) for n in range(len(sources))), key=lambda e: (e[0], e[1])):
                packet.stream = streams[n]
                out.mux(packet)
    finally:
        for src in sources:
            src.close()
