"""``conform``: bring a clip to another frame rate, size and sample rate (model <-> source)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from reelpoet.sdk.media.clip import Clip
from reelpoet.sdk.media.params import Fit, check_fps, check_sample_rate
from reelpoet.sdk.media.resample import fit_length, resample_audio
from reelpoet.sdk.media.resize import resize_frames
from reelpoet.sdk.media.timerange import SNAP_S


def held_indices(count: int, src_fps: Fraction, out_count: int, out_fps: Fraction) -> np.ndarray:
    """Index of the source frame on screen at each output time ``k / out_fps``.

    Source frame i is on screen during ``[i / src_fps, (i + 1) / src_fps)``, the same rule
    ``read_video(fps=...)`` applies to real timestamps.
    """
    index = [math.floor(Fraction(k) / out_fps * src_fps + SNAP_S) for k in range(out_count)]
    return np.minimum(np.asarray(index, np.int64), count - 1)


def _audio(
    clip: Clip, duration: Fraction, sample_rate: int | None
) -> tuple[np.ndarray | None, int | None]:
    if clip.audio is None or clip.sample_rate is None:
        return None, None
    rate = clip.sample_rate if sample_rate is None else check_sample_rate(sample_rate)
    audio = np.asarray(clip.audio, np.float32).reshape(clip.audio.shape[0], -1)
    if rate != clip.sample_rate:
        audio = resample_audio(audio, clip.sample_rate, rate)
    return fit_length(audio, round(duration * rate)), rate


def conform(
    clip: Clip,
    *,
    fps: float | Fraction,
    size: tuple[int, int],
    fit: Fit,
    sample_rate: int | None = None,
) -> Clip:
    """``clip`` at ``fps`` and ``size`` = (width, height) with an explicit ``fit``.

    Frames are held (each output shows the input frame on screen at its time), the duration is
    kept to the nearest whole output frame, and audio is resampled to ``sample_rate`` if given
    and trimmed or padded to the new duration.
    """
    out_fps = check_fps(fps)
    src_fps = Fraction(clip.fps)
    out_count = max(1, round(clip.num_frames / src_fps * out_fps))
    index = held_indices(clip.num_frames, src_fps, out_count, out_fps)
    # Resize each source frame used once, however many outputs repeat it.
    used, repeat = np.unique(index, return_inverse=True)
    frames = resize_frames(clip.frames[used], size, fit)[repeat.reshape(-1)]
    audio, rate = _audio(clip, out_count / out_fps, sample_rate)
    return Clip(frames, out_fps, clip.start_s, audio, rate)
