"""Checks on user parameters (sizes, rates, channel counts), done before any decoding or
allocation so that a bad request fails fast with a message saying what is allowed."""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import Literal, get_args

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media.timerange import finite_fraction

Fit = Literal["crop", "pad", "stretch"]
FITS: tuple[str, ...] = get_args(Fit)

# 8K is the largest frame any model or NLE here deals with; beyond it a typo (100000x100000)
# would try to allocate hundreds of GB before failing.
MAX_SIDE = 8192
MAX_FPS = 1000
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384_000
MAX_CHANNELS = 8


def _is_int(value: object) -> bool:
    # numbers.Integral admits numpy integers, which sizes computed with numpy often are.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_size(size: object) -> tuple[int, int]:
    """``size`` as ``(width, height)`` with each side in 1..MAX_SIDE."""
    if not isinstance(size, (tuple, list)) or len(size) != 2 or not all(map(_is_int, size)):
        raise InvalidRequestError(f"size must be (width, height) as two integers, got {size!r}")
    width, height = int(size[0]), int(size[1])
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise InvalidRequestError(
            f"size {width}x{height} is out of range; each side must be 1..{MAX_SIDE} pixels"
        )
    return width, height


def check_fit(fit: object) -> Fit:
    if fit not in FITS:
        raise InvalidRequestError(f"fit must be one of {FITS}, got {fit!r}")
    return fit  # type: ignore[return-value]


def check_size_and_fit(size: object, fit: object) -> tuple[tuple[int, int], Fit] | None:
    """Both or neither: resizing changes the picture, so the aspect policy must be explicit."""
    if size is None and fit is None:
        return None
    if fit is None:
        raise InvalidRequestError(
            f"size={size!r} was given without fit; choose how to handle a different aspect "
            f"ratio explicitly: fit='crop' (cover, centre-crop), 'pad' (black bars) or 'stretch'"
        )
    if size is None:
        raise InvalidRequestError(f"fit={fit!r} was given without size; pass size=(w, h) too")
    return check_size(size), check_fit(fit)


def check_fps(fps: object, what: str = "fps") -> Fraction:
    """A frame rate as an exact Fraction (30000/1001 stays exact), 0 < fps <= MAX_FPS."""
    rate = finite_fraction(fps, what, 100_000)  # type: ignore[arg-type]
    if not 0 < rate <= MAX_FPS:
        raise InvalidRequestError(f"{what} must be in (0, {MAX_FPS}], got {fps!r}")
    return rate


def check_sample_rate(rate: object, what: str = "sample_rate") -> int:
    if not _is_int(rate) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:  # type: ignore[operator]
        raise InvalidRequestError(
            f"{what} must be an integer in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz, got {rate!r}"
        )
    return int(rate)  # type: ignore[call-overload]


def check_channels(channels: object) -> int:
    if not _is_int(channels) or not 1 <= channels <= MAX_CHANNELS:  # type: ignore[operator]
        raise InvalidRequestError(
            f"channels must be an integer in 1..{MAX_CHANNELS}, got {channels!r}"
        )
    return int(channels)  # type: ignore[call-overload]


def check_frames(frames: object) -> np.ndarray:
    """``frames`` must be a ``(T, H, W, 3)`` uint8 RGB array with T >= 1 and sane sides."""
    if not isinstance(frames, np.ndarray):
        raise InvalidRequestError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] < 1:
        raise InvalidRequestError(
            f"frames must have shape (T, H, W, 3) with T >= 1 (RGB), got {frames.shape}"
        )
    if frames.dtype != np.uint8:
        raise InvalidRequestError(
            f"frames must be uint8 RGB (0..255), got dtype {frames.dtype}; "
            f"convert with (x * 255).clip(0, 255).astype(np.uint8) if you have floats in [0, 1]"
        )
    check_size((frames.shape[2], frames.shape[1]))
    return frames


def check_audio(samples: object, what: str = "audio") -> np.ndarray:
    """Samples as ``(N, C)`` float32; accepts 1-D mono, float of any width, or int16 PCM."""
    if not isinstance(samples, np.ndarray):
        raise InvalidRequestError(f"{what} must be a numpy array, got {type(samples).__name__}")
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or not 1 <= samples.shape[1] <= MAX_CHANNELS or samples.shape[0] < 1:
        raise InvalidRequestError(
            f"{what} must be 1-D or (N, C) with N >= 1 samples and 1..{MAX_CHANNELS} channels, "
            f"got shape {samples.shape} (a (C, N) array needs .T)"
        )
    if samples.dtype == np.int16:
        return (samples.astype(np.float32) / 32768.0).astype(np.float32)
    if not np.issubdtype(samples.dtype, np.floating):
        raise InvalidRequestError(f"{what} must be float in [-1, 1] or int16, got {samples.dtype}")
    if not np.isfinite(samples).all():
        raise InvalidRequestError(f"{what} contains NaN or infinite values; fix the signal first")
    return samples.astype(np.float32, copy=False)
