"""write_video: MP4 (H.264/AAC) and MOV (ProRes/PCM) round trips, validation and atomicity."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import av
import numpy as np
import pytest

from reelpoet.sdk.errors import InvalidRequestError, MediaWriteError
from reelpoet.sdk.media import probe, read_audio, read_video, write_video
from reelpoet.sdk.media import write as write_module

RATE = 48000


def smooth_frames(count: int, width: int = 160, height: int = 96) -> np.ndarray:
    """Moving colour gradients: compress well, so a decoded frame should be close to its source."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((count, height, width, 3), np.uint8)
    for i in range(count):
        frames[i, ..., 0] = 128 + 100 * np.sin((x + 3 * i) / 17)
        frames[i, ..., 1] = 128 + 100 * np.cos((y - 2 * i) / 13)
        frames[i, ..., 2] = (x + y + 4 * i) % 256 * 0.5 + 60
    return frames


def tone(freq: float, seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples[:, 0] * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


@pytest.mark.parametrize(
    ("suffix", "vcodec", "acodec"),
    [(".mp4", "h264", "aac"), (".mov", "prores", "pcm_s16le")],
)
def test_round_trip_with_audio(tmp_path, suffix, vcodec, acodec):
    frames, audio = smooth_frames(24), tone(440, 1.0, channels=2)
    path = write_video(tmp_path / f"out{suffix}", frames, 24, audio=audio, sample_rate=RATE)
    info = probe(path)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.audio.codec) == (vcodec, acodec)
    assert (info.video.width, info.video.height, info.video.fps) == (160, 96, Fraction(24))
    assert info.video.frame_count == 24
    assert (info.audio.sample_rate, info.audio.channels) == (RATE, 2)

    clip = read_video(path, audio_rate=RATE, audio_channels=2)
    assert clip.frames.shape == frames.shape
    assert psnr(clip.frames, frames) > 30
    assert clip.audio is not None and clip.audio.shape == (RATE, 2)
    assert peak_hz(clip.audio, RATE) == pytest.approx(440, abs=2)
    # the middle of the tone (away from codec edges) keeps its level: RMS of 0.5 sin = 0.354
    assert np.sqrt(np.mean(clip.audio[4800:-4800] ** 2)) == pytest.approx(0.354, abs=0.03)


def test_prores_is_10_bit_422(tmp_path):
    path = write_video(tmp_path / "edit.mov", smooth_frames(2), 25)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv422p10le"


def test_pcm_audio_in_mov_is_nearly_exact(tmp_path):
    audio = tone(1000, 0.5)
    path = write_video(tmp_path / "a.mov", smooth_frames(12), 24, audio=audio, sample_rate=RATE)
    back, rate = read_audio(path)
    assert rate == RATE and back.shape == audio.shape
    assert np.abs(back - audio).max() < 1e-3


def test_ntsc_rate_stays_exact(tmp_path):
    path = write_video(tmp_path / "ntsc.mp4", smooth_frames(10), Fraction(30000, 1001))
    info = probe(path)
    assert info.video is not None and info.video.fps == Fraction(30000, 1001)
    assert info.video.duration_s == pytest.approx(10 * 1001 / 30000)


def test_odd_size_mp4_is_refused_but_mov_is_fine(tmp_path):
    odd = smooth_frames(2, width=65, height=48)
    with pytest.raises(InvalidRequestError, match="even"):
        write_video(tmp_path / "odd.mp4", odd, 24)
    assert not list(tmp_path.iterdir())
    assert read_video(write_video(tmp_path / "odd.mov", odd, 24)).width == 65


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "x.avi"}, r"\.mp4"),
        ({"frames": np.zeros((2, 16, 16, 3), np.float32)}, "uint8"),
        ({"frames": np.zeros((16, 16, 3), np.uint8)}, r"\(T, H, W, 3\)"),
        ({"frames": np.zeros((0, 16, 16, 3), np.uint8)}, "T >= 1"),
        ({"fps": 0}, "fps"),
        ({"fps": float("nan")}, "finite"),
        ({"audio": np.full(100, np.nan, np.float32), "sample_rate": RATE}, "NaN"),
        ({"audio": np.zeros(100, np.float32)}, "sample_rate"),
        ({"quality": "ultra"}, "quality"),
    ],
)
def test_bad_arguments_raise_and_leave_nothing(tmp_path, kwargs, message):
    args = {"path": "x.mp4", "frames": np.zeros((2, 16, 16, 3), np.uint8), "fps": 24, **kwargs}
    path = tmp_path / args.pop("path")
    with pytest.raises(InvalidRequestError, match=message):
        write_video(path, args.pop("frames"), args.pop("fps"), **args)
    assert not list(tmp_path.iterdir())


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(MediaWriteError, match="does not exist"):
        write_video(tmp_path / "nope" / "x.mp4", smooth_frames(2), 24)


def test_failure_mid_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    dest = tmp_path / "keep.mp4"
    dest.write_bytes(b"previous contents")
    real = write_module._video_frame

    def failing(rgb, recipe, index):
        if index == 5:  # the disk fills up halfway through the file
            raise OSError(28, "No space left on device")
        return real(rgb, recipe, index)

    monkeypatch.setattr(write_module, "_video_frame", failing)
    with pytest.raises(MediaWriteError, match=r"No space left.*nothing was written") as info:
        write_video(dest, smooth_frames(10), 24, audio=tone(440, 0.4), sample_rate=RATE)
    assert isinstance(info.value.__cause__, OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]
    assert dest.read_bytes() == b"previous contents"


def test_overwrite_replaces_the_file(tmp_path):
    dest = tmp_path / "v.mp4"
    dest.write_bytes(b"old")
    write_video(dest, smooth_frames(3), 24)
    assert probe(dest).video is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_nonzero_stream_start_is_normalised(tmp_path):
    """Broadcast files often start at a timecode offset; times count from the first frame."""
    path = tmp_path / "offset.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        for i, rgb in enumerate(smooth_frames(24, 128, 64)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = 240 + i  # starts 10 s into the stream's clock
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    clip = read_video(path, (0.5, 1.0))
    assert clip.num_frames == 12 and clip.start_s == pytest.approx(0.5)
    assert psnr(clip.frames[0], smooth_frames(24, 128, 64)[12]) > 30


def test_real_encoder_failure_is_a_media_write_error(tmp_path, monkeypatch):
    real = write_module.recipe_for

    def broken_preset(path, quality):  # libx264 refuses to open with an unknown preset
        return dataclasses.replace(real(path, quality), video_options={"preset": "no-such"})

    monkeypatch.setattr(write_module, "recipe_for", broken_preset)
    with pytest.raises(MediaWriteError, match="could not write") as info:
        write_video(tmp_path / "x.mp4", smooth_frames(3), 24)
    assert isinstance(info.value.__cause__, av.error.FFmpegError)
    assert not list(tmp_path.iterdir())
