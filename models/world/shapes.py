"""Signed distance functions of the shapes: negative inside, in the units of the points given.

Every shape is centred on its position, fits in the circle of its radius and contains its centre
(so the pixel at a visible object's centre shows its colour). A signed distance turned into
coverage with a one-pixel ramp gives anti-aliased edges at any size.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError

_SQUARE_HALF_SIDE = 0.72  # of the radius: corners at 1.02 r, close to the bounding circle
_STAR_INNER = 0.48  # inner radius of the star's notches, of the outer radius


def signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, radius: float) -> np.ndarray:
    """Distance from offsets (dx, dy) to the shape's outline; same shape as dx."""
    if shape == "circle":
        return np.hypot(dx, dy) - radius
    if shape == "square":
        half = _SQUARE_HALF_SIDE * radius
        qx, qy = np.abs(dx) - half, np.abs(dy) - half
        outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
        return outside + np.minimum(np.maximum(qx, qy), 0.0)
    if shape in ("triangle", "star"):
        return _polygon_distance(_unit_polygon(shape) * radius, dx, dy)
    raise InvalidRequestError(f"unknown shape {shape!r}")


@functools.cache
def extents(shape: str) -> tuple[float, float, float, float]:
    """How far the shape reaches (left, right, up, down) from its centre, in radii."""
    if shape == "circle":
        return (1.0, 1.0, 1.0, 1.0)
    if shape == "square":
        return (_SQUARE_HALF_SIDE,) * 4
    if shape not in ("triangle", "star"):
        raise InvalidRequestError(f"unknown shape {shape!r}")
    xs, ys = _unit_polygon(shape).T
    return (float(-xs.min()), float(xs.max()), float(-ys.min()), float(ys.max()))


@functools.cache
def _unit_polygon(shape: str) -> np.ndarray:
    """Vertices (n, 2) of a point-up polygon inscribed in the unit circle (screen y down)."""
    if shape == "triangle":
        angles = -math.pi / 2 + np.arange(3) * 2 * math.pi / 3
        radii = np.ones(3)
    else:
        angles = -math.pi / 2 + np.arange(10) * math.pi / 5  # tips and notches alternate
        radii = np.where(np.arange(10) % 2 == 0, 1.0, _STAR_INNER)
    vertices = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)  # (n, 2)
    vertices.setflags(write=False)
    return vertices


def _polygon_distance(vertices: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Signed distance to a simple polygon: nearest edge, sign by the even-odd rule."""
    px, py = np.broadcast_arrays(px, py)
    best = np.full(px.shape, np.inf)
    inside = np.zeros(px.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        ex, ey = bx - ax, by - ay
        wx, wy = px - ax, py - ay
        h = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        best = np.minimum(best, np.hypot(wx - ex * h, wy - ey * h))
        # A horizontal ray to +x crosses this edge when the edge spans the point's row.
        spans = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = ax + (py - ay) * ex / ey
        inside ^= spans & (px < x_cross)
    return np.where(inside, -best, best)
