"""Child process of the crash test: records a looping clip until it is killed, reporting media time on stdout."""

from __future__ import annotations

import sys
import time

from django_levelchat.recording.spool import TrackMeta
from django_levelchat.recording.writer import TrackWriter
from tests.recording.media import FPS, VIDEO_TICKS, encode_vp8, rtp_ts


def main(directory: str) -> None:
    clip = encode_vp8(2)
    writer = TrackWriter(directory, "cam", TrackMeta(participant="p", track="t", kind="video", codec="vp8"))
    index = 0
    while True:
        frame = clip[index % len(clip)]
        writer.write(frame.data, rtp_ts((1 << 32) - 90000, index, VIDEO_TICKS), frame.keyframe)
        index += 1
        if index % FPS == 0:
            print(index / FPS, flush=True)  # seconds of media handed to the muxer so far
        time.sleep(0.002)  # a live source trickles; the parent kills at an arbitrary moment


if __name__ == "__main__":
    main(sys.argv[1])
