"""Spatial resizing with an explicit aspect policy, done by swscale (PyAV ``reformat``).

``crop`` scales to cover the target and centre-crops; ``pad`` scales to fit inside and centres
on black; ``stretch`` ignores the aspect ratio. The pixel aspect ratio of anamorphic sources is
not applied: pixels are treated as square.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from reelpoet.sdk.media.params import Fit, check_fit, check_frames, check_size

_Interp = av.video.reformatter.Interpolation


@dataclass(frozen=True)
class Placement:
    """Where a source picture goes in the output: scale to ``scaled``, then either cut the
    output out of it at ``crop_xy`` or paste it into black at ``pad_xy``."""

    out: tuple[int, int]
    scaled: tuple[int, int]
    crop_xy: tuple[int, int] = (0, 0)
    pad_xy: tuple[int, int] = (0, 0)


def placement(src: tuple[int, int], out: tuple[int, int], fit: Fit) -> Placement:
    """Geometry of fitting a ``src`` (w, h) picture into ``out`` (w, h) under ``fit``."""
    (w, h), (ow, oh) = src, out
    if fit == "stretch" or (w, h) == (ow, oh):
        return Placement(out, out)
    if fit == "crop":
        scale = max(ow / w, oh / h)
        sw, sh = max(ow, round(w * scale)), max(oh, round(h * scale))
        return Placement(out, (sw, sh), crop_xy=((sw - ow) // 2, (sh - oh) // 2))
    scale = min(ow / w, oh / h)
    sw, sh = min(ow, max(1, round(w * scale))), min(oh, max(1, round(h * scale)))
    return Placement(out, (sw, sh), pad_xy=((ow - sw) // 2, (oh - sh) // 2))


def _interpolation(src: tuple[int, int], scaled: tuple[int, int]) -> _Interp:
    # Area averaging avoids aliasing when shrinking; bicubic is sharper when enlarging.
    return _Interp.AREA if scaled[0] * scaled[1] < src[0] * src[1] else _Interp.BICUBIC


def place_frame(frame: av.VideoFrame, where: Placement) -> np.ndarray:
    """``frame`` (any pixel format) as ``(H, W, 3)`` uint8 RGB placed per ``where``."""
    sw, sh = where.scaled
    interp = _interpolation((frame.width, frame.height), where.scaled)
    rgb = frame.reformat(width=sw, height=sh, format="rgb24", interpolation=interp).to_ndarray()
    ow, oh = where.out
    if (sw, sh) == (ow, oh):
        return rgb
    if sw >= ow and sh >= oh:  # crop: the scaled picture covers the output
        x, y = where.crop_xy
        return rgb[y : y + oh, x : x + ow]
    canvas = np.zeros((oh, ow, 3), np.uint8)
    x, y = where.pad_xy
    canvas[y : y + sh, x : x + sw] = rgb
    return canvas


def resize_frames(frames: np.ndarray, size: tuple[int, int], fit: Fit) -> np.ndarray:
    """Resize ``(T, H, W, 3)`` uint8 RGB frames to ``size`` = (width, height) under ``fit``."""
    frames = check_frames(frames)
    out_size, fit = check_size(size), check_fit(fit)
    src = (frames.shape[2], frames.shape[1])
    if src == out_size:
        return frames.copy()
    where = placement(src, out_size, fit)
    out = np.empty((frames.shape[0], out_size[1], out_size[0], 3), np.uint8)
    for i, frame in enumerate(frames):
        out[i] = place_frame(av.VideoFrame.from_ndarray(frame, format="rgb24"), where)
    return out
