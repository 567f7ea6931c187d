"""write_wav, read_audio and resample_audio."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from reelpoet.sdk.errors import InvalidRequestError, MediaWriteError, UnsupportedMediaError
from reelpoet.sdk.media import read_audio, read_video, resample_audio, write_video, write_wav


def tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.repeat((0.5 * np.sin(2 * np.pi * freq * t))[:, None], channels, 1).astype(np.float32)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples[:, 0] * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_wav_round_trip(tmp_path):
    stereo = np.stack([tone(440, 1, 16000)[:, 0], tone(1000, 1, 16000)[:, 0]], axis=1)
    path = write_wav(tmp_path / "t.wav", stereo, 16000)
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (2, 2, 16000)
    back, rate = read_audio(path)
    assert rate == 16000 and back.shape == (16000, 2)
    assert np.abs(back - stereo).max() < 1e-4  # 16-bit quantisation only
    assert peak_hz(back[:, 1:], 16000) == pytest.approx(1000, abs=2)


def test_wav_clips_out_of_range_and_rejects_nan(tmp_path):
    back, _ = read_audio(write_wav(tmp_path / "c.wav", np.array([1.5, -2.0, 0.25]), 8000))
    np.testing.assert_allclose(back[:, 0], [32767 / 32768, -32767 / 32768, 0.25], atol=1e-4)
    with pytest.raises(InvalidRequestError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]), 8000)
    with pytest.raises(InvalidRequestError, match="sample_rate"):
        write_wav(tmp_path / "r.wav", np.zeros(10), 0)
    with pytest.raises(MediaWriteError, match="does not exist"):
        write_wav(tmp_path / "missing" / "x.wav", np.zeros(10), 8000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.wav"]


def test_read_audio_range_and_resampling(media_dir):
    full, rate = read_audio(media_dir / "example.wav")
    assert rate == 44100 and full.shape == (88200, 2)
    part, rate16 = read_audio(media_dir / "example.wav", (0.5, 1.5), sample_rate=16000, channels=1)
    assert rate16 == 16000 and part.shape == (16000, 1)
    # The excerpt is the same sound: its envelope follows the full-rate mono mix.
    ref = full[22050:66150].mean(axis=1)[::441]
    got = part[::160, 0]
    assert np.corrcoef(np.abs(ref), np.abs(got))[0, 1] > 0.5


def test_read_audio_exact_slice_of_a_wav(tmp_path):
    signal = tone(300, 2, 8000)
    path = write_wav(tmp_path / "s.wav", signal, 8000)
    part, _ = read_audio(path, (0.25, 0.75))
    np.testing.assert_allclose(part, signal[2000:6000], atol=1e-4)


def test_read_audio_of_mp3_and_of_a_video(media_dir):
    mp3, rate = read_audio(media_dir / "crunching.mp3", (1.0, 2.0))
    assert rate == 48000 and mp3.shape == (48000, 2) and np.abs(mp3).max() > 0.01
    sound, rate = read_audio(media_dir / "example2.mp4", sample_rate=22050, channels=1)
    assert rate == 22050 and sound.shape[0] == round(2.011995 * 22050)


def test_video_without_audio_gives_silence_of_the_right_length(tmp_path):
    path = write_video(tmp_path / "mute.mp4", np.zeros((12, 16, 16, 3), np.uint8), 24)
    clip = read_video(path, audio_rate=16000)
    assert clip.audio is not None and clip.audio.shape == (8000, 1) and not clip.audio.any()
    with pytest.raises(UnsupportedMediaError, match="no audio"):
        read_audio(path)


def test_audio_in_video_is_aligned_to_the_frames(tmp_path):
    # A click at exactly 1.0 s must land at sample 0.5 s into a clip starting at 0.5 s.
    audio = np.zeros((96000, 1), np.float32)
    audio[48000:48048] = 0.9
    frames = np.zeros((48, 16, 16, 3), np.uint8)
    path = write_video(tmp_path / "click.mov", frames, 24, audio=audio, sample_rate=48000)
    clip = read_video(path, (0.5, 1.5), audio_rate=48000)
    assert clip.audio is not None and clip.audio.shape == (48000, 1)
    assert int(np.argmax(clip.audio[:, 0] > 0.5)) == 24000


def test_resample_audio_keeps_pitch_and_length():
    out = resample_audio(tone(440, 1, 44100, channels=2), 44100, 16000)
    assert out.shape == (16000, 2) and out.dtype == np.float32
    assert peak_hz(out, 16000) == pytest.approx(440, abs=2)
    mono = resample_audio(tone(440, 0.5, 48000)[:, 0], 48000, 16000)
    assert mono.shape == (8000,)
    with pytest.raises(InvalidRequestError, match="dst_rate"):
        resample_audio(mono, 16000, -1)
