"""Audio rate and channel conversion with libswresample (``av.AudioResampler``).

The resampler's output starts at the same instant as its first input (its filter delay is
compensated and flushed), which the readers rely on to keep audio sample-aligned with video.
"""

from __future__ import annotations

from collections.abc import Iterable

import av
import numpy as np

from reelpoet.sdk.media.params import check_audio, check_sample_rate

_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def layout_name(channels: int) -> str:
    """FFmpeg's default channel layout for a channel count (1 to 8)."""
    assert channels in _LAYOUTS, "channel counts are validated before this"
    return _LAYOUTS[channels]


def convert_frames(frames: Iterable[av.AudioFrame], rate: int, channels: int) -> np.ndarray:
    """Decoded frames (contiguous) to ``(M, channels)`` float32 at ``rate``, flushed."""
    resampler = av.AudioResampler(format="flt", layout=layout_name(channels), rate=rate)
    outs = [out for frame in frames for out in resampler.resample(frame)]
    outs += resampler.resample(None)  # flush what the filter still holds
    chunks = [out.to_ndarray().reshape(-1, channels) for out in outs]
    if not chunks:
        return np.zeros((0, channels), np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad ``(N, C)`` samples at the end to exactly ``length``."""
    if samples.shape[0] >= length:
        return samples[:length]
    pad = np.zeros((length - samples.shape[0], samples.shape[1]), samples.dtype)
    return np.concatenate([samples, pad])


def resample_audio(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample ``(N, C)`` (or 1-D) float audio from ``src_rate`` to ``dst_rate`` Hz.

    Returns float32 of the same rank with exactly ``round(N * dst_rate / src_rate)`` samples.
    """
    pcm = check_audio(samples, "samples")
    src_rate = check_sample_rate(src_rate, "src_rate")
    dst_rate = check_sample_rate(dst_rate, "dst_rate")
    n, channels = pcm.shape
    length = round(n * dst_rate / src_rate)
    if src_rate == dst_rate:
        out = pcm.copy()
    else:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm.T), format="fltp", layout=layout_name(channels)
        )
        frame.sample_rate = src_rate
        out = fit_length(convert_frames([frame], dst_rate, channels), length)
    return out[:, 0] if samples.ndim == 1 else out
