"""conform: model clip (8 fps, 64x64) to a source's rate and size and back."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from reelpoet.sdk.media import Clip, conform


def model_clip(count: int = 16) -> Clip:
    """Smooth, distinct frames (a blob moving right), as a video model would produce."""
    y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    frames = np.empty((count, 64, 64, 3), np.uint8)
    for i in range(count):
        blob = np.exp(-((x - 10 - 3 * i) ** 2 + (y - 32) ** 2) / 150)
        frames[i, ..., 0] = 40 + 200 * blob
        frames[i, ..., 1] = 40 + 3 * x
        frames[i, ..., 2] = 40 + 3 * y
    t = np.arange(count * 2000) / 16000
    audio = (0.5 * np.sin(2 * np.pi * 440 * t))[:, None].astype(np.float32)
    return Clip(frames, Fraction(8), 1.5, audio, 16000)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def test_up_with_pad_and_back_with_crop_restores_the_clip():
    clip = model_clip()
    big = conform(clip, fps=24, size=(1280, 720), fit="pad", sample_rate=48000)
    assert big.frames.shape == (48, 720, 1280, 3)
    assert big.duration_s == clip.duration_s == 2.0 and big.start_s == 1.5
    assert big.audio is not None and big.audio.shape == (96000, 1) and big.sample_rate == 48000
    assert big.frames[:, :, :270].max() == 0  # pillarbox: 720x720 picture in a 1280 frame
    # every output frame k shows model frame floor(k / 3)
    for k in (0, 1, 2, 3, 47):
        assert psnr(big.frames[k, :, 280:1000], big.frames[3 * (k // 3), :, 280:1000]) > 90
    small = conform(big, fps=8, size=(64, 64), fit="crop", sample_rate=16000)
    assert small.frames.shape == clip.frames.shape and small.duration_s == 2.0
    assert psnr(small.frames, clip.frames) > 30
    assert small.audio is not None and small.audio.shape == clip.audio.shape


def test_up_with_crop_and_back_with_pad_keeps_the_centre_band():
    clip = model_clip()
    big = conform(clip, fps=24, size=(1280, 720), fit="crop")
    small = conform(big, fps=8, size=(64, 64), fit="pad")
    # crop kept the middle 36 of 64 rows; pad puts them back as 64x36 between black bars
    assert small.frames[:, :13].max() == 0 and small.frames[:, -13:].max() == 0
    assert psnr(small.frames[:, 16:48], clip.frames[:, 16:48]) > 28


def test_to_ntsc_rate_and_back():
    clip = model_clip()
    ntsc = conform(clip, fps=Fraction(30000, 1001), size=(64, 64), fit="crop")
    assert ntsc.num_frames == 60 and ntsc.fps == Fraction(30000, 1001)
    for k in (0, 3, 4, 30, 59):  # t_k = k * 1001/30000 shows model frame floor(8 t_k)
        expected = int(Fraction(k * 1001, 30000) * 8)
        np.testing.assert_array_equal(ntsc.frames[k], clip.frames[expected])
    back = conform(ntsc, fps=8, size=(64, 64), fit="crop")
    assert back.num_frames == 16
    # Holding twice is not lossless: at k/8 s the NTSC frame on screen began up to 1/30 s
    # earlier, which can still show the previous model frame.
    for k in range(16):
        j = int(Fraction(k, 8) * Fraction(30000, 1001))
        np.testing.assert_array_equal(
            back.frames[k], clip.frames[int(j * Fraction(8 * 1001, 30000))]
        )


def test_sample_rate_without_audio_and_duration_rounding():
    clip = Clip(model_clip(5).frames, Fraction(8), 0.0, None, None)  # 0.625 s
    out = conform(clip, fps=24, size=(32, 32), fit="stretch", sample_rate=48000)
    assert out.num_frames == 15 and out.audio is None
    odd = conform(clip, fps=10, size=(32, 32), fit="stretch")
    assert odd.num_frames == round(0.625 * 10)
    with pytest.raises(ValueError, match="fps"):
        conform(clip, fps=-1, size=(32, 32), fit="crop")
