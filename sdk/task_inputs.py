"""How a task's conditioning video is made from a clip, the same in training and at run time:
the region to regenerate blanked for inpainting, the margins blanked for outpainting, the luma
(structure) video for stylization; and inpainting masks checked and brought to the model's
grid. numpy only.

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


# The region inpainting regenerates: a rectangle, or a bool mask (True: regenerate) of one
# frame (H, W), applied to every frame, or of every frame (T, H, W).
Region = Box | np.ndarray


def region_mask(region: Region, shape: tuple[int, int, int]) -> np.ndarray:
    """The region as a (T, H, W) bool mask (read-only when broadcast from one frame)."""
    if isinstance(region, Box):
        mask = np.zeros(shape, dtype=bool)
        mask[:, region.y0 : region.y1, region.x0 : region.x1] = True
        return mask
    return np.broadcast_to(region, shape)


def blank_inside(frames: np.ndarray, region: Region) -> np.ndarray:
    """(T, H, W, 3) float frames with the region filled with BLANK: inpainting's input."""
    out = frames.copy()
    out[region_mask(region, frames.shape[:3])] = BLANK
    return out


def checked_mask(mask, width: int, height: int, frames: int | None = None) -> np.ndarray:
    """A user's mask as (1 or T, H, W) bool (True: regenerate), or an InvalidRequestError.

    bool arrays are taken as they are, integer arrays as nonzero = regenerate; one (H, W) mask
    covers every frame, a (T, H, W) stack gives each frame its own (T: the clip's frame count,
    checked when `frames` is known)."""
    array = np.asarray(mask)
    if array.dtype != bool and not np.issubdtype(array.dtype, np.integer):
        raise InvalidRequestError(f"a mask is a bool or integer array, not {array.dtype}")
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (height, width):
        raise InvalidRequestError(
            f"a mask is (H, W) or (T, H, W) = (..., {height}, {width}) for this clip, "
            f"got {array.shape}"
        )
    if frames is not None and len(array) not in (1, frames):
        raise InvalidRequestError(
            f"per-frame masks need one mask per frame of the clip ({frames}), got {len(array)}"
        )
    array = array.astype(bool, copy=False)
    if not array.any():
        raise InvalidRequestError("the mask selects no pixel: mark the region to regenerate")
    return array


def grid_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W) bool source-pixel masks on the model's (T, size, size) grid, grown: a model
    pixel is in the region when any source pixel it overlaps is, the rule that turns a box into
    its model box (x0 * size / W rounded down, x1 * size / W rounded up)."""
    rows, cols = _spans(mask.shape[1], size), _spans(mask.shape[2], size)
    # Counts over each model pixel's span of source rows, then columns, from running sums:
    # O(T * H * W), and spans may overlap (a source smaller than the grid).
    below = np.pad(mask.cumsum(axis=1, dtype=np.int32), ((0, 0), (1, 0), (0, 0)))
    per_row = below[:, rows[1], :] - below[:, rows[0], :]  # (T, size, W)
    left = np.pad(per_row.cumsum(axis=2), ((0, 0), (0, 0), (1, 0)))
    return (left[:, :, cols[1]] - left[:, :, cols[0]]) > 0


def _spans(source: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each model pixel j, the source pixels [lo, hi) that overlap it when `source` pixels
    are stretched to `size`: exactly those whose box rule (above) reaches j."""
    j = np.arange(size)
    return (j * source) // size, -(-(j + 1) * source // size)


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
