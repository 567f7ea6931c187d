"""Frame-accurate reads of a real broadcast file (25 fps, burnt-in timecode on every frame).

Every frame of smpte-2997.mp4 differs (timecode), so hashing a reference full decode tells
exactly which source frame each returned frame is.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction

import av
import numpy as np
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from reelpoet.sdk.media import probe, read_video

FPS = 25


def _digest(frame: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def smpte(media_dir):
    return media_dir / "smpte-2997.mp4"


@pytest.fixture(scope="module")
def reference(smpte) -> dict[str, int]:
    """digest -> index from a plain sequential PyAV decode of every frame."""
    with av.open(str(smpte)) as container:
        frames = container.decode(video=0)
        index = {_digest(f.to_ndarray(format="rgb24")): i for i, f in enumerate(frames)}
    assert len(index) == 251, "every frame should be distinct (burnt-in timecode)"
    return index


def _indices(clip, reference) -> list[int]:
    return [reference.get(_digest(frame), -1) for frame in clip.frames]


def test_probe(smpte):
    info = probe(smpte)
    assert info.video is not None and info.audio is not None
    assert (info.video.width, info.video.height, info.video.fps) == (1920, 1080, Fraction(25))
    assert info.video.frame_count == 251 and info.video.codec == "h264"
    assert info.audio.sample_rate == 48000 and info.audio.channels == 2


def test_one_second_is_exactly_25_frames(smpte, reference):
    clip = read_video(smpte, (2.0, 3.0))
    assert clip.num_frames == 25 and clip.fps == FPS and clip.start_s == 2.0
    assert _indices(clip, reference) == list(range(50, 75))


def test_bounds_between_frames(smpte, reference):
    clip = read_video(smpte, (2.01, 2.99))  # frames at 2.04 .. 2.96
    assert _indices(clip, reference) == list(range(51, 75))
    assert clip.start_s == pytest.approx(2.04)


def test_float_rational_time_and_time_range_agree(smpte):
    as_floats = read_video(smpte, (2.0, 2.4))
    as_rational = read_video(smpte, (RationalTime(50, 25), RationalTime(60, 25)))
    as_range = read_video(smpte, TimeRange(RationalTime(50, 25), RationalTime(10, 25)))
    assert as_floats.num_frames == 10
    np.testing.assert_array_equal(as_floats.frames, as_rational.frames)
    np.testing.assert_array_equal(as_floats.frames, as_range.frames)


def test_rational_time_at_2997_lands_on_the_next_frame(smpte, reference):
    # 60 frames at 29.97 = 2.002 s: the first 25 fps frame at or after it is 51 (2.04 s).
    start = RationalTime(60, 30000 / 1001)
    clip = read_video(smpte, (start, RationalTime(75, 25)))
    assert _indices(clip, reference) == list(range(51, 75))


def test_end_of_file_and_end_past_the_end(smpte, reference):
    clip = read_video(smpte, (9.0, 20.0))
    assert _indices(clip, reference) == list(range(225, 251))


def test_resampled_read_holds_the_frame_on_screen(smpte, reference):
    clip = read_video(smpte, (2.0, 3.0), fps=10)
    # t_k = 2 + k/10 s shows source frame floor(25 * t_k)
    assert clip.num_frames == 10 and clip.fps == 10 and clip.start_s == 2.0
    assert _indices(clip, reference) == [50 + (5 * k) // 2 for k in range(10)]


def test_audio_is_sample_accurate_length(smpte):
    clip = read_video(smpte, (2.0, 3.0), audio_rate=16000, audio_channels=2)
    assert clip.audio is not None and clip.audio.shape == (16000, 2)
    assert clip.audio.dtype == np.float32 and clip.sample_rate == 16000
