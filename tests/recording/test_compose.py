"""Composing the call from two people's track files: both are in the picture, and the audio is mixed."""

from __future__ import annotations

from array import array
from pathlib import Path

import av
import pytest

from django_levelchat.recording.compose import Input, compose, grid_tiles, speaker_tiles
from django_levelchat.recording.finalize import remux
from django_levelchat.recording.spool import TrackMeta
from django_levelchat.recording.writer import TrackWriter
from tests.recording.media import AUDIO_SAMPLES, VIDEO_TICKS, encode_opus, encode_vp8

W, H = 160, 96  # a small canvas keeps the test light on a shared 2-core machine


def _record(tmp_path, stem, kind, frames, participant):
    codec = "vp8" if kind == "video" else "opus"
    writer = TrackWriter(
        tmp_path / "spool", stem, TrackMeta(participant=participant, track=stem, kind=kind, codec=codec)
    )
    ticks = VIDEO_TICKS if kind == "video" else AUDIO_SAMPLES
    for frame in frames:
        writer.write(frame.data, 1000 + frame.index * ticks, frame.keyframe)
    writer.close()
    return remux(writer.path, tmp_path / f"{stem}.webm").path


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    """Alice (bright picture, 440 Hz) from 0 s, Bob (dark picture, 880 Hz) from 1 s; both 2 s long."""
    tmp = tmp_path_factory.mktemp("call")
    return [
        Input(_record(tmp, "alice-cam", "video", encode_vp8(2, luma=220), "alice"), "video", "alice", 0.0),
        Input(_record(tmp, "alice-mic", "audio", encode_opus(2, freq=440), "alice"), "audio", "alice", 0.0),
        Input(_record(tmp, "bob-cam", "video", encode_vp8(2, luma=30), "bob"), "video", "bob", 1.0),
        Input(_record(tmp, "bob-mic", "audio", encode_opus(2, freq=880), "bob"), "audio", "bob", 1.0),
    ]


def _luma_mean(frame, x, y, w, h):
    plane = bytes(frame.planes[0])
    stride = frame.planes[0].line_size
    total = sum(sum(plane[(y + r) * stride + x : (y + r) * stride + x + w]) for r in range(h))
    return total / (w * h)


def _frames_at(path, times):
    found = {}
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            for t in times:
                if t not in found and frame.time >= t:
                    found[t] = frame
    return found


def _audio_levels(path):
    """Mean absolute sample per 0.5 s window of the decoded mix."""
    sums: dict[int, list[float]] = {}
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                samples = array("h", bytes(out.planes[0])[: out.samples * 2])
                entry = sums.setdefault(int(out.time / 0.5), [0.0, 0])
                entry[0] += sum(map(abs, samples))
                entry[1] += len(samples)
    return {w: s / n for w, (s, n) in sums.items()}


def test_grid_composition_has_both_people_and_mixed_audio(tmp_path, call):
    result = compose(call, tmp_path / "grid.webm", layout="grid", width=W, height=H, fps=10)
    assert result.duration == pytest.approx(3.0, abs=0.5)
    with av.open(str(result.path)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
    ax, ay, aw, ah = result.tiles["alice"]
    bx, by, bw, bh = result.tiles["bob"]
    frames = _frames_at(result.path, [0.5, 1.5])
    # Before Bob joins his tile is background; then both pictures are there side by side.
    assert _luma_mean(frames[0.5], ax, ay, aw, ah) > 150 and _luma_mean(frames[0.5], bx, by, bw, bh) < 25
    both = frames[1.5]
    assert _luma_mean(both, ax, ay, aw, ah) > 150
    assert 25 <= _luma_mean(both, bx, by, bw, bh) < 80
    levels = _audio_levels(result.path)
    alone, together, bob_alone = levels[1], levels[2], levels[5]  # 0.5–1 s, 1–1.5 s, 2.5–3 s
    assert alone > 1000 and bob_alone > 1000
    assert together > 1.2 * max(alone, bob_alone)  # two tones summed, not one replacing the other


def test_speaker_layout_follows_the_loudest_person(tmp_path, call):
    result = compose(call, tmp_path / "speaker.webm", layout="speaker", width=W, height=H, fps=10)
    main = result.tiles["alice"]  # alice alone at the start: she is the large tile
    assert main[2] == W
    frames = _frames_at(result.path, [0.5, 2.6])
    x, y, w, h = main
    assert _luma_mean(frames[0.5], x, y, w, h) > 150  # alice on the main tile
    assert _luma_mean(frames[2.6], x, y, w, h) < 80  # only bob speaks at 2.5–3 s: his dark picture is the main tile


def test_layout_geometry():
    assert grid_tiles(["a", "b", "c"], 640, 360) == {
        "a": (0, 0, 320, 180),
        "b": (320, 0, 320, 180),
        "c": (0, 180, 320, 180),
    }
    assert speaker_tiles(["a", "b", "c"], "b", 640, 360)["b"] == (0, 0, 640, 270)
    with pytest.raises(ValueError):
        compose([], Path("/nonexistent/x.webm"), layout="mosaic")
