"""The track writer with real VP8/Opus: wraparound, keyframe start, sender-report alignment, remux, decode back."""

from __future__ import annotations

import pytest

from django_levelchat.recording.finalize import remux
from django_levelchat.recording.spool import TrackMeta, read_meta, track_files
from django_levelchat.recording.timeline import RtpUnwrapper, TrackStart, align, ntp_to_unix
from django_levelchat.recording.writer import TrackWriter, vp8_keyframe_size
from tests.recording.media import AUDIO_SAMPLES, VIDEO_TICKS, decode_summary, encode_opus, encode_vp8, rtp_ts

VIDEO_START = (1 << 32) - 2 * 90000  # wraps 2 s in
AUDIO_START = (1 << 32) - 48000  # wraps 1 s in


def unix_to_ntp(seconds: float) -> int:
    whole = int(seconds)
    return ((whole + 2208988800) << 32) | int((seconds - whole) * 2**32)


@pytest.fixture(scope="module")
def clips():
    return encode_vp8(5), encode_opus(4)


def test_unwrapper_is_monotonic_across_wrap_and_accepts_extended_timestamps():
    unwrap = RtpUnwrapper()
    values = [unwrap(rtp_ts(VIDEO_START, i, VIDEO_TICKS)) for i in range(200)]
    assert values == sorted(values) and values[-1] - values[0] == 199 * VIDEO_TICKS
    assert unwrap(values[-1] + (1 << 32)) == values[-1]  # a 64-bit (already unwrapped) timestamp reads the same
    assert unwrap(rtp_ts(VIDEO_START, 150, VIDEO_TICKS)) == values[150]  # reordering is a step back, not a wrap


def test_video_and_audio_track_files_decode_to_the_expected_length(tmp_path, clips):
    video, audio = clips
    requests: list[int] = []
    now = [100.0]
    vw = TrackWriter(
        tmp_path,
        "alice-cam",
        TrackMeta(participant="alice", track="TR_v", kind="video", codec="vp8", source="camera"),
        request_keyframe=lambda: requests.append(1),
        clock=lambda: now[0],
        wallclock=lambda: 1_700_000_000.0,
    )
    aw = TrackWriter(
        tmp_path,
        "alice-mic",
        TrackMeta(participant="alice", track="TR_a", kind="audio", codec="opus", source="mic"),
        wallclock=lambda: 1_700_000_000.5,
    )
    # Recording starts mid-GOP: frames 5..29 are dropped, one keyframe request, the file starts at frame 30.
    for frame in video[5:]:
        if frame.index == 20:
            now[0] += 5.0  # a second request once the retry interval has passed
        vw.write(frame.data, rtp_ts(VIDEO_START, frame.index, VIDEO_TICKS), frame.keyframe)
    for frame in audio:
        aw.write(frame.data, rtp_ts(AUDIO_START, frame.index, AUDIO_SAMPLES))
    assert len(requests) == 2
    assert vw.frames == len(video) - 30 and aw.frames == len(audio)
    vw.close()
    aw.close()

    live = decode_summary(str(vw.path))
    assert live["video"]["frames"] == len(video) - 30

    files = track_files(tmp_path)
    assert [p.name for p, _ in files] == ["alice-cam.webm", "alice-mic.webm"]
    cam = remux(vw.path, tmp_path / "final-cam.webm")
    mic = remux(aw.path, tmp_path / "final-mic.webm")
    assert not cam.truncated and not mic.truncated
    assert cam.duration == pytest.approx((len(video) - 30) / 30, abs=1.0)
    assert mic.duration == pytest.approx(4.0, abs=1.0)
    summary = decode_summary(str(cam.path))
    assert summary["video"]["frames"] == len(video) - 30
    assert summary["video"]["end"] == pytest.approx(4.0, abs=1.0)
    assert vp8_keyframe_size(video[0].data) == (160, 120)
    audio_summary = decode_summary(str(mic.path))
    assert audio_summary["audio"]["frames"] >= len(audio) - 2
    assert audio_summary["audio"]["end"] == pytest.approx(4.0, abs=1.0)
    assert read_meta(vw.path).width == 160


def test_waiting_for_a_keyframe_writes_no_file(tmp_path, clips):
    video, _ = clips
    writer = TrackWriter(tmp_path, "cam", TrackMeta(participant="bob", track="TR", kind="video", codec="vp8"))
    assert not writer.write(video[1].data, 0, False)
    writer.close()
    assert not writer.path.exists() and track_files(tmp_path) == []
    with pytest.raises(ValueError):
        TrackWriter(tmp_path, "x", TrackMeta(participant="bob", track="TR", kind="video", codec="vp9"))


def test_sender_reports_place_pts_zero_on_the_sender_clock(tmp_path, clips):
    video, audio = clips
    sender_epoch = 1_600_000_000.0  # the publisher's NTP clock, unrelated to ours
    vw = TrackWriter(tmp_path, "v", TrackMeta(participant="p", track="v", kind="video", codec="vp8"))
    aw = TrackWriter(tmp_path, "a", TrackMeta(participant="p", track="a", kind="audio", codec="opus"))
    # An SR before the first packet is kept until the file opens; one across the wrap is unwrapped.
    aw.sender_report(unix_to_ntp(sender_epoch + 0.25), AUDIO_START)
    for frame in audio[:100]:
        aw.write(frame.data, rtp_ts(AUDIO_START, frame.index, AUDIO_SAMPLES))
    for frame in video[:90]:
        vw.write(frame.data, rtp_ts(VIDEO_START, frame.index, VIDEO_TICKS), frame.keyframe)
    # Video SR 2.5 s after the video's first frame (past its wrap at 2 s): pts 0 was at sender_epoch + 0.5.
    vw.sender_report(unix_to_ntp(sender_epoch + 3.0), rtp_ts(VIDEO_START, 75, VIDEO_TICKS))
    vw.close()
    aw.close()
    assert read_meta(aw.path).sender == pytest.approx(sender_epoch + 0.25, abs=1e-6)
    assert read_meta(vw.path).sender == pytest.approx(sender_epoch + 0.5, abs=1e-6)
    assert ntp_to_unix(unix_to_ntp(12.5)) == pytest.approx(12.5)


def test_align_uses_the_sender_clock_within_a_participant_and_arrival_across():
    offsets = align(
        [
            TrackStart("a-mic", "alice", arrival=1000.40, sender=5.00),
            TrackStart("a-cam", "alice", arrival=1000.10, sender=5.20),  # video's first packet overtook audio's
            TrackStart("b-cam", "bob", arrival=1001.00, sender=None),
            TrackStart("b-mic", "bob", arrival=1001.30, sender=9.00),  # no SR for bob's video: arrival only
        ]
    )
    assert offsets == pytest.approx({"a-mic": 0.0, "a-cam": 0.2, "b-cam": 0.9, "b-mic": 1.2})
    assert align([]) == {}
