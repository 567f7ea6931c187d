"""How a task's conditioning video is made from a clip, the same in training and at run time:
the region to regenerate blanked for inpainting, the margins blanked for outpainting, the luma
(structure) video for stylization. numpy only.

The training cache (`reelpoet.models.train.lm_cache`) and the runtime pipeline both call these,
so the LM sees at run time exactly the kind of input it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError

BLANK = 0.5  # the constant a masked region is filled with before tokenizing (mid grey)


@dataclass(frozen=True)
class Box:
    """A pixel rectangle [x0, x1) x [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.y0, self.x1, self.y1], dtype=np.int16)

    def checked(self, width: int, height: int) -> Box:
        """This box, or an InvalidRequestError if it is empty or leaves the frame."""
        if not (0 <= self.x0 < self.x1 <= width and 0 <= self.y0 < self.y1 <= height):
            raise InvalidRequestError(
                f"box {self} must be a non-empty rectangle inside the {width}x{height} frame"
            )
        return self


def inpaint_box(rng: np.random.Generator, size: int) -> Box:
    """Training's region to regenerate: a rectangle of 25% to 60% of each side, anywhere."""
    w, h = (int(rng.integers(size // 4, int(size * 0.6) + 1)) for _ in range(2))
    x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
    return Box(x0, y0, x0 + w, y0 + h)


def outpaint_box(rng: np.random.Generator, size: int) -> Box:
    """Training's region to keep: the frame less margins on two opposite sides (an aspect
    change), an eighth to three eighths of the side in all."""
    margin = int(rng.integers(size // 16, size * 3 // 16 + 1))
    if rng.uniform() < 0.5:
        return Box(margin, 0, size - margin, size)  # pillarbox: keep the middle columns
    return Box(0, margin, size, size - margin)  # letterbox: keep the middle rows


def blank_inside(frames: np.ndarray, box: Box) -> np.ndarray:
    """(T, H, W, 3) float frames with the box filled with BLANK: inpainting's input."""
    out = frames.copy()
    out[:, box.y0 : box.y1, box.x0 : box.x1] = BLANK
    return out


def blank_outside(frames: np.ndarray, box: Box) -> np.ndarray:
    """(T, H, W, 3) float frames with all but the box filled with BLANK: outpainting's input."""
    out = np.full_like(frames, BLANK)
    out[:, box.y0 : box.y1, box.x0 : box.x1] = frames[:, box.y0 : box.y1, box.x0 : box.x1]
    return out


def luma(frames: np.ndarray) -> np.ndarray:
    """The structure video of stylization: Rec. 601 luma as grey RGB, stretched to the clip's
    own range so the style (colours) is gone but shapes and motion stay."""
    y = frames @ np.array([0.299, 0.587, 0.114], dtype=frames.dtype)
    y = (y - y.min()) / max(float(y.max() - y.min()), 1e-3)
    return np.repeat(y[..., None], 3, axis=-1)
