"""Bad input gives a typed error with a message that says what is wrong, and never hangs."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest

from reelpoet.sdk.errors import (
    CorruptMediaError,
    InvalidRequestError,
    InvalidTimeRangeError,
    MediaNotFoundError,
    UnsupportedMediaError,
)
from reelpoet.sdk.media import probe, read_audio, read_video, write_video


def _remux_moov_at_end(src: Path, dst: Path) -> Path:
    """Copy ``src`` without +faststart, so the MP4 index (moov) comes after the data."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return dst


def _moov_first(path: Path) -> bool:
    data = path.read_bytes()
    return data.find(b"moov") < data.find(b"mdat")


def _cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def test_missing_file(tmp_path):
    with pytest.raises(MediaNotFoundError, match="not found") as info:
        read_video(tmp_path / "nope.mp4")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(MediaNotFoundError):
        probe(tmp_path / "nope.mp4")


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(CorruptMediaError, match="empty"):
        read_video(tmp_path / "empty.mp4")


def test_text_file_named_mp4(tmp_path):
    (tmp_path / "notes.mp4").write_text("these are not frames\n" * 50)
    with pytest.raises(UnsupportedMediaError, match="not a media file"):
        probe(tmp_path / "notes.mp4")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(UnsupportedMediaError, match="not a regular file"):
        read_video(tmp_path)


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.8])
def test_truncated_mp4_with_index_first(media_dir, tmp_path, fraction):
    src = media_dir / "smpte-2997.mp4"
    assert _moov_first(src)
    cut = _cut(src, tmp_path / "cut.mp4", fraction)
    assert probe(cut).video is not None  # the index survives, so it still opens
    with pytest.raises(CorruptMediaError, match="truncated"):
        read_video(cut, size=(32, 32), fit="stretch")
    # the part before the cut is still readable
    assert read_video(cut, (0.0, 1.0), size=(32, 32), fit="stretch").num_frames == 25


def test_truncated_mp4_with_index_last(media_dir, tmp_path):
    whole = _remux_moov_at_end(media_dir / "smpte-2997.mp4", tmp_path / "whole.mp4")
    assert not _moov_first(whole)
    cut = _cut(whole, tmp_path / "cut.mp4", 0.5)
    with pytest.raises(CorruptMediaError, match="truncated"):
        read_video(cut)
    with pytest.raises(CorruptMediaError, match="truncated"):
        probe(cut)


def test_audio_only_file_has_no_video(media_dir):
    with pytest.raises(UnsupportedMediaError, match="no video stream"):
        read_video(media_dir / "example.wav")


@pytest.mark.parametrize(
    ("time_range", "message"),
    [
        ((-0.5, 1.0), "negative"),
        ((1.5, 1.0), "reversed"),
        ((1.0, 1.0), "empty"),
        ((2.5, 3.0), "past the end"),
        ((2.0, 9.0), "past the end"),
    ],
)
def test_bad_ranges(media_dir, time_range, message):
    with pytest.raises(InvalidTimeRangeError, match=message):
        read_video(media_dir / "example2.mp4", time_range)


def test_range_between_two_frames_is_empty(media_dir):
    with pytest.raises(InvalidTimeRangeError, match="no frame"):
        read_video(media_dir / "example2.mp4", (0.01, 0.02))


def test_range_past_the_end_of_audio(media_dir):
    with pytest.raises(InvalidTimeRangeError, match="past the end"):
        read_audio(media_dir / "example.wav", (5.0, 6.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0}, "fps"),
        ({"fps": -24}, "fps"),
        ({"fps": math.nan}, "finite"),
        ({"fps": math.inf}, "finite"),
        ({"size": (100000, 100000), "fit": "crop"}, "8192"),
        ({"size": (0, 64), "fit": "crop"}, "out of range"),
        ({"size": (-64, 64), "fit": "pad"}, "out of range"),
        ({"size": (64, 64), "fit": "squash"}, "fit must be one of"),
        ({"audio_rate": 0}, "audio_rate"),
        ({"audio_rate": 16000, "audio_channels": 0}, "channels"),
    ],
)
def test_bad_parameters(media_dir, kwargs, message):
    with pytest.raises(InvalidRequestError, match=message):
        read_video(media_dir / "example2.mp4", (0.0, 0.5), **kwargs)


def test_nan_time(media_dir):
    with pytest.raises(InvalidRequestError, match="finite"):
        read_video(media_dir / "example2.mp4", (math.nan, 1.0))


def test_huge_reads_are_refused_before_decoding(tmp_path):
    path = write_video(tmp_path / "v.mp4", np.zeros((48, 16, 16, 3), np.uint8), 24)
    with pytest.raises(InvalidRequestError, match="GiB"):  # 2000 frames of 8192x8192
        read_video(path, fps=1000, size=(8192, 8192), fit="crop")
