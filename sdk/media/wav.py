"""``write_wav``: 16-bit PCM WAV via the standard library, written atomically."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.media.params import check_audio, check_sample_rate


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float ``(N, C)`` in [-1, 1] to int16 PCM, clipping what lies outside."""
    return np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int) -> Path:
    """Write ``(N, C)`` or 1-D float samples as 16-bit PCM WAV; returns the path written.

    Values outside [-1, 1] are clipped; NaN/inf are an InvalidRequestError.
    """
    pcm = to_int16(check_audio(samples, "samples"))
    rate = check_sample_rate(sample_rate)
    with atomic_output(path) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return Path(os.fspath(path))
