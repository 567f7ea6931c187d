"""Reads of files we write ourselves, whose frames encode their own index.

Each frame shows its index as 8 black/white vertical bars (bit 0 on the left), which survives
lossy H.264 intact, so the exact set of source frames a read returns can be checked.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from opentimelineio.opentime import RationalTime

from reelpoet.sdk.media import decode_video, probe, read_video, write_video

WIDTH, HEIGHT, BAR = 128, 64, 16
NTSC = Fraction(30000, 1001)


def indexed_frames(count: int) -> np.ndarray:
    frames = np.zeros((count, HEIGHT, WIDTH, 3), np.uint8)
    for i in range(count):
        for bit in range(8):
            if i >> bit & 1:
                frames[i, :, bit * BAR : (bit + 1) * BAR] = 255
    return frames


def frame_indices(frames: np.ndarray) -> list[int]:
    bars = frames.reshape(len(frames), HEIGHT, 8, BAR, 3).mean(axis=(1, 3, 4)) > 127
    return [int(sum(1 << b for b in range(8) if row[b])) for row in bars]


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """48 frames at 24 fps (2 s)."""
    path = tmp_path_factory.mktemp("indexed") / "film.mp4"
    return write_video(path, indexed_frames(48), 24, quality="medium")


@pytest.fixture(scope="module")
def ntsc(tmp_path_factory):
    """30 frames at 30000/1001 fps."""
    path = tmp_path_factory.mktemp("indexed") / "ntsc.mp4"
    return write_video(path, indexed_frames(30), NTSC, quality="medium")


def test_the_index_code_round_trips_through_h264(film):
    clip = read_video(film)
    assert frame_indices(clip.frames) == list(range(48))
    assert clip.fps == 24 and clip.start_s == 0.0


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ((0.5, 1.0), range(12, 24)),
        ((0.51, 1.0), range(13, 24)),
        ((0.49, 1.01), range(12, 25)),
        ((10 / 24, 20 / 24), range(10, 20)),  # float bounds a hair off frame times
        ((0.0, 1 / 24), range(0, 1)),
        ((47 / 24, 5.0), range(47, 48)),
        ((1.5, 2.0), range(36, 48)),
    ],
)
def test_exact_index_sets(film, bounds, expected):
    clip = read_video(film, bounds)
    assert frame_indices(clip.frames) == list(expected)
    assert clip.start_s == pytest.approx(expected[0] / 24)


@pytest.mark.parametrize(
    ("fps", "bounds"),
    [(8, (0.0, 2.0)), (NTSC, (0.0, 1.0)), (60, (0.25, 0.75)), (30000 / 1001, (0.3, 1.3))],
)
def test_resampled_reads_pick_the_frame_on_screen(film, fps, bounds):
    clip = read_video(film, bounds, fps=fps)
    rate = Fraction(fps).limit_denominator(100_000)
    start = Fraction(bounds[0]).limit_denominator(1_000_000)
    times = [start + Fraction(k) / rate for k in range(clip.num_frames)]
    assert times[-1] < bounds[1] <= times[-1] + 1 / rate  # every t_k < end, and no more
    assert clip.fps == rate
    assert frame_indices(clip.frames) == [int(t * 24) for t in times]


def test_ntsc_rate_is_exact_and_frame_accurate(ntsc):
    info = probe(ntsc)
    assert info.video is not None and info.video.fps == NTSC
    assert info.video.frame_count == 30
    clip = read_video(ntsc, (RationalTime(5, 30000 / 1001), RationalTime(15, 30000 / 1001)))
    assert frame_indices(clip.frames) == list(range(5, 15))
    assert clip.fps == NTSC


def test_resample_ntsc_to_24(ntsc):
    clip = read_video(ntsc, fps=24)  # 30 frames = 1.001 s -> t_k < 1.001: 25 outputs
    assert clip.num_frames == 25
    assert frame_indices(clip.frames) == [int(Fraction(k, 24) * NTSC) for k in range(25)]


def test_resize_on_read(film):
    clip = read_video(film, (0.0, 0.5), size=(64, 64), fit="pad")
    assert clip.frames.shape == (12, 64, 64, 3)
    # 128x64 padded into 64x64: scaled to 64x32, 16-px black bars above and below.
    assert clip.frames[:, :14].max() == 0 and clip.frames[:, -14:].max() == 0


def test_a_late_or_failed_seek_falls_back_to_the_start(film, monkeypatch):
    real, calls = decode_video._seek, []

    def unreliable(container, stream, pts):
        calls.append(pts)
        if len(calls) == 1:  # land on a non-keyframe 1 s late, as a broken index would
            late = pts + int(1 / stream.time_base)
            container.seek(late, stream=stream, backward=False, any_frame=True)
            return True
        if len(calls) == 3:
            return False  # the next read: this file cannot seek at all
        return real(container, stream, pts)

    monkeypatch.setattr(decode_video, "_seek", unreliable)
    assert frame_indices(read_video(film, (0.5, 1.0)).frames) == list(range(12, 24))
    assert len(calls) == 2  # the seek near 0.5 s, then back to the start
    assert frame_indices(read_video(film, (1.0, 1.25)).frames) == list(range(24, 30))
    assert len(calls) == 3  # refused, so decoding went on from where the file was opened
