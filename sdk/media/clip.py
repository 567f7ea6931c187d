"""The in-memory clip that ``read_video`` returns and ``conform`` transforms."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Clip:
    """Frames plus optional audio covering the same span of source time.

    ``frames`` is ``(T, H, W, 3)`` uint8 RGB; ``start_s`` is the source time of ``frames[0]`` in
    seconds from the media's first frame; ``audio`` is ``(N, C)`` float32 in [-1, 1] with sample
    0 at ``start_s`` and ``N == round(duration_s * sample_rate)``.
    """

    frames: np.ndarray
    fps: Fraction
    start_s: float
    audio: np.ndarray | None = None
    sample_rate: int | None = None

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration_s(self) -> float:
        return float(self.num_frames / Fraction(self.fps))
