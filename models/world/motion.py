"""Object trajectories in world coordinates: still, straight moves, bounces, entering, leaving.

Every trajectory is p(t) = start + velocity * t, and a bouncing one is folded back into its box
(a reflection off each wall), so positions at any time, and the exact bounce times, are closed
forms: the soundtrack and the ground truth read the same continuous path the frames do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelpoet.models.world.camera import CameraSpec
from reelpoet.models.world.config import WorldConfig
from reelpoet.models.world.vocabulary import DIRECTIONS, SIDE_INWARD, SIDE_OUTWARD, SIDES

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

# Distance travelled over the clip, as a fraction of min(W, H): at 64x64 and 17 frames a move
# covers 22 to 38 pixels (1.4 to 2.4 pixels a frame) and a bounce 51 to 90, so at least one wall.
_MOVE_RANGE = (0.35, 0.6)
_BOUNCE_RANGE = (0.8, 1.4)
_MARGIN = 1.0  # pixels between an object's edge and the frame edge (the soft edge's width)


@dataclass(frozen=True)
class MotionSpec:
    kind: str  # one of vocabulary.MOTIONS
    direction: str  # a vocabulary.DIRECTIONS name, "" when still
    side: str  # where an entering object comes from / a leaving one goes to, else ""
    start: tuple[float, float]
    velocity: tuple[float, float]  # world units a second
    walls: Box | None = None  # the box a bouncing centre reflects in

    def positions(self, t: np.ndarray) -> np.ndarray:
        """World centre (len(t), 2) at times t in seconds."""
        p = np.asarray(self.start) + np.asarray(self.velocity) * np.asarray(t)[:, None]
        if self.walls is None:
            return p
        x0, y0, x1, y1 = self.walls
        return np.stack([_fold(p[:, 0], x0, x1), _fold(p[:, 1], y0, y1)], axis=1)

    def bounces(self, t_end: float) -> list[tuple[float, str]]:
        """(time, wall) of each reflection in (0, t_end), in time order."""
        if self.walls is None:
            return []
        x0, y0, x1, y1 = self.walls
        hits = _crossings(self.start[0], self.velocity[0], x0, x1, t_end, ("left", "right"))
        hits += _crossings(self.start[1], self.velocity[1], y0, y1, t_end, ("top", "bottom"))
        return sorted(hits)


def _fold(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect unbounded positions into [lo, hi] (a triangle wave)."""
    span = hi - lo
    if span <= 0.0:
        return np.full_like(p, lo)  # no room to move: pinned to the wall
    q = np.mod(p - lo, 2.0 * span)
    return lo + np.where(q <= span, q, 2.0 * span - q)


def _crossings(p0, v, lo, hi, t_end, walls) -> list[tuple[float, str]]:
    """Times the unfolded path p0 + v t meets lo + k (hi - lo); even k is the low wall."""
    span = hi - lo
    if v == 0.0 or span <= 0.0:
        return []
    k_first, k_last = sorted(((p0 - lo) / span, (p0 + v * t_end - lo) / span))
    hits = []
    for k in range(int(np.floor(k_first)) + 1, int(np.ceil(k_last))):
        t = (lo + k * span - p0) / v
        if 0.0 < t < t_end:
            hits.append((float(t), walls[k % 2]))
    return hits


def sample_motion(
    rng: np.random.Generator, kind: str, radius: float, camera: CameraSpec, config: WorldConfig
) -> MotionSpec:
    duration = max(config.motion_duration, 1.0 / config.fps)
    safe = _shrink(camera.common_box(config), radius + _MARGIN)
    if kind == "still":
        return MotionSpec("still", "", "", _uniform_point(rng, safe), (0.0, 0.0))
    if kind == "move":
        return _sample_move(rng, safe, duration, config)
    if kind == "bounce":
        walls = _shrink(camera.common_box(config), radius)
        return _sample_bounce(rng, walls, duration, config)
    side = str(rng.choice(SIDES))
    if kind == "enter":
        outside = _outside_point(rng, side, camera.view_box(0.0, config), safe, radius)
        return _line("enter", SIDE_INWARD[side], side, outside, _uniform_point(rng, safe), duration)
    assert kind == "leave", kind
    outside = _outside_point(rng, side, camera.view_box(duration, config), safe, radius)
    return _line("leave", SIDE_OUTWARD[side], side, _uniform_point(rng, safe), outside, duration)


def _sample_move(rng, safe: Box, duration: float, config: WorldConfig) -> MotionSpec:
    direction = str(rng.choice(list(DIRECTIONS)))
    ux, uy = DIRECTIONS[direction]
    length = rng.uniform(*_MOVE_RANGE) * min(config.width, config.height)
    room_x, room_y = safe[2] - safe[0], safe[3] - safe[1]
    # Shorten the path until it fits inside the always-visible box.
    if ux:
        length = min(length, room_x / abs(ux))
    if uy:
        length = min(length, room_y / abs(uy))
    dx, dy = ux * length, uy * length
    x0 = _between(rng, safe[0] - min(dx, 0.0), safe[2] - max(dx, 0.0))
    y0 = _between(rng, safe[1] - min(dy, 0.0), safe[3] - max(dy, 0.0))
    velocity = (float(dx / duration), float(dy / duration))
    return MotionSpec("move", direction, "", (float(x0), float(y0)), velocity)


def _sample_bounce(rng, walls: Box, duration: float, config: WorldConfig) -> MotionSpec:
    direction = str(rng.choice(list(DIRECTIONS)))
    ux, uy = DIRECTIONS[direction]
    speed = rng.uniform(*_BOUNCE_RANGE) * min(config.width, config.height) / duration
    vx, vy = ux * speed, uy * speed
    start = list(_uniform_point(rng, walls))
    # Place the start so the leading axis meets its wall within the first 15-60% of the clip:
    # every bouncing object bounces on screen at least once.
    axis = 0 if abs(vx) >= abs(vy) else 1
    v = (vx, vy)[axis]
    wall = walls[axis + 2] if v > 0 else walls[axis]
    hit_time = rng.uniform(0.15, 0.6) * duration
    room = walls[axis + 2] - walls[axis]
    start[axis] = wall - v * min(hit_time, room / abs(v))
    start_xy = (float(start[0]), float(start[1]))
    return MotionSpec("bounce", direction, "", start_xy, (float(vx), float(vy)), walls)


def _line(kind, direction, side, start, end, duration) -> MotionSpec:
    velocity = (float(end[0] - start[0]) / duration, float(end[1] - start[1]) / duration)
    return MotionSpec(kind, direction, side, (float(start[0]), float(start[1])), velocity)


def _outside_point(rng, side: str, view: Box, safe: Box, radius: float) -> tuple[float, float]:
    """A point just beyond `side` of `view` (wholly off screen), level with the safe box."""
    gap = radius + _MARGIN + float(rng.uniform(0.0, 0.5)) * radius
    x, y = _uniform_point(rng, safe)
    if side == "left":
        return (view[0] - gap, y)
    if side == "right":
        return (view[2] + gap, y)
    if side == "top":
        return (x, view[1] - gap)
    return (x, view[3] + gap)


def _shrink(box: Box, by: float) -> Box:
    x0, y0, x1, y1 = box
    # A tiny frame may leave no room: collapse to the centre rather than invert the box.
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (min(x0 + by, cx), min(y0 + by, cy), max(x1 - by, cx), max(y1 - by, cy))


def _between(rng: np.random.Generator, low: float, high: float) -> float:
    """Uniform in [low, high]; a path as long as the room can leave high a rounding below low."""
    return float(rng.uniform(low, max(low, high)))


def _uniform_point(rng: np.random.Generator, box: Box) -> tuple[float, float]:
    return (float(rng.uniform(box[0], box[2])), float(rng.uniform(box[1], box[3])))
