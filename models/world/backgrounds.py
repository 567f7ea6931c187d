"""Backgrounds as colour fields over world coordinates: plain, gradient, texture and photo.

A field is evaluated at the world point under each screen pixel, so the camera's pan and zoom
move it exactly as they move the objects. Textures are anti-aliased for the pixel size they are
drawn at (world units a screen pixel covers), so zooming does not make them shimmer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reelpoet.models.world import photos
from reelpoet.models.world.vocabulary import BACKGROUND_COLOURS

_NOISE_TABLE = 32  # lattice of random values, tiled; far larger than any view in cells


@dataclass(frozen=True)
class BackgroundSpec:
    kind: str  # one of vocabulary.BACKGROUND_KINDS
    colours: tuple[str, ...] = ()  # BACKGROUND_COLOURS names: 1 for plain, 2 otherwise
    pattern: str = ""  # texture: one of vocabulary.TEXTURE_PATTERNS
    angle: float = 0.0  # radians: gradient direction, stripe normal
    period: float = 0.0  # world units: stripe period, checker cell, noise cell
    noise_seed: int = 0
    photo: str = ""  # photos.PHOTOS name
    photo_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # photo pixels
    world_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # where it is laid


class BackgroundField:
    """Evaluates a BackgroundSpec; a photo is cropped and resampled once, when built."""

    def __init__(self, spec: BackgroundSpec, detail: float = 1.0) -> None:
        self.spec = spec
        rgb = [np.array(BACKGROUND_COLOURS[name], np.float32) / 255.0 for name in spec.colours]
        self._rgb = rgb
        self._image = None
        if spec.kind == "photo":
            # `detail` samples per world unit: the camera's largest zoom keeps the photo sharp.
            x0, y0, x1, y1 = spec.world_box
            size = (math.ceil((x1 - x0) * detail), math.ceil((y1 - y0) * detail))
            self._image = photos.crop_resized(spec.photo, spec.photo_box, size)  # (h, w, 3)
        if spec.kind == "texture" and spec.pattern == "noise":
            table = np.random.default_rng(spec.noise_seed).random((_NOISE_TABLE, _NOISE_TABLE))
            self._table = table.astype(np.float32)

    def sample(self, wx: np.ndarray, wy: np.ndarray, pixel: float = 1.0) -> np.ndarray:
        """Colours (..., 3) float32 in 0..1 at world points; `pixel` = world units per pixel."""
        kind = self.spec.kind
        if kind == "plain":
            return np.broadcast_to(self._rgb[0], (*np.broadcast(wx, wy).shape, 3)).copy()
        if kind == "photo":
            return self._sample_photo(wx, wy)
        mix = self._gradient(wx, wy) if kind == "gradient" else self._texture(wx, wy, pixel)
        return self._rgb[0] + (self._rgb[1] - self._rgb[0]) * mix[..., None]

    def _gradient(self, wx, wy) -> np.ndarray:
        x0, y0, x1, y1 = self.spec.world_box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        span = max(x1 - x0, y1 - y0)
        along = (wx - cx) * math.cos(self.spec.angle) + (wy - cy) * math.sin(self.spec.angle)
        return np.clip(0.5 + along / span, 0.0, 1.0).astype(np.float32)

    def _texture(self, wx, wy, pixel: float) -> np.ndarray:
        period = self.spec.period
        if self.spec.pattern == "stripes":
            along = wx * math.cos(self.spec.angle) + wy * math.sin(self.spec.angle)
            return 0.5 + 0.5 * _square_wave(along, period, pixel)
        if self.spec.pattern == "checker":
            return 0.5 + 0.5 * _square_wave(wx, period, pixel) * _square_wave(wy, period, pixel)
        coarse = self._value_noise(wx / period, wy / period)
        fine = self._value_noise(2.0 * wx / period + 11.5, 2.0 * wy / period + 7.25)
        return np.clip(0.5 + 1.6 * (0.65 * coarse + 0.35 * fine - 0.5), 0.0, 1.0)

    def _value_noise(self, u, v) -> np.ndarray:
        """Smoothly interpolated lattice noise in 0..1 (tiles every _NOISE_TABLE cells)."""
        u, v = np.broadcast_arrays(u, v)
        iu, iv = np.floor(u), np.floor(v)
        fu, fv = _smoothstep(u - iu), _smoothstep(v - iv)
        i0, j0 = iu.astype(np.int64) % _NOISE_TABLE, iv.astype(np.int64) % _NOISE_TABLE
        i1, j1 = (i0 + 1) % _NOISE_TABLE, (j0 + 1) % _NOISE_TABLE
        t = self._table
        top = t[j0, i0] * (1 - fu) + t[j0, i1] * fu
        bottom = t[j1, i0] * (1 - fu) + t[j1, i1] * fu
        return (top * (1 - fv) + bottom * fv).astype(np.float32)

    def _sample_photo(self, wx, wy) -> np.ndarray:
        """Bilinear lookup of world points in the resampled photo, clamped at its border."""
        image = self._image
        h, w, _ = image.shape
        x0, y0, x1, y1 = self.spec.world_box
        ax = (np.asarray(wx) - x0) / (x1 - x0) * w - 0.5  # array column, pixel centres
        ay = (np.asarray(wy) - y0) / (y1 - y0) * h - 0.5
        ax, ay = np.broadcast_arrays(np.clip(ax, 0, w - 1), np.clip(ay, 0, h - 1))
        c0, r0 = np.minimum(ax.astype(np.int64), w - 2), np.minimum(ay.astype(np.int64), h - 2)
        fx, fy = (ax - c0)[..., None], (ay - r0)[..., None]
        top = image[r0, c0] * (1 - fx) + image[r0, c0 + 1] * fx
        bottom = image[r0 + 1, c0] * (1 - fx) + image[r0 + 1, c0 + 1] * fx
        return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _square_wave(x, period: float, pixel: float) -> np.ndarray:
    """+-1 bands of half a period with a one-pixel ramp between them (anti-aliased)."""
    slope = period / (2.0 * math.pi * pixel)  # sin's slope at a zero crossing, per pixel
    return np.clip(np.sin(2.0 * math.pi * np.asarray(x) / period) * slope, -1.0, 1.0)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)
