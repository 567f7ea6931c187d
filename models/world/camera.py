"""The camera: a per-time map between screen pixels and world coordinates.

World units are the pixels of the unmoved camera: at centre (W/2, H/2) and zoom 1 the screen
shows world [0, W] x [0, H]. A camera at centre c and zoom z maps world p to screen
s = (p - c) * z + (W/2, H/2), so a pan right (c.x grows) moves the content left on screen and
zooming in (z grows) magnifies it. Moves ease in and out (smoothstep) over the clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelpoet.models.world.config import WorldConfig

# Pan distance as a fraction of the frame's side and zoom factors: large enough to see in
# 17 frames at 64x64 (10 to 19 pixels, or a 25-50% magnification), small enough that most
# of the first view stays on screen.
_PAN_RANGE = (0.15, 0.3)
_ZOOM_RANGE = (1.25, 1.5)


@dataclass(frozen=True)
class CameraSpec:
    move: str
    start_centre: tuple[float, float]
    end_centre: tuple[float, float]
    start_zoom: float
    end_zoom: float
    duration: float  # seconds over which the move plays; 0 for a single frame

    def progress(self, t: np.ndarray) -> np.ndarray:
        """Eased progress 0..1 at times t (seconds): smoothstep, so moves start and stop gently."""
        if self.duration <= 0:
            return np.zeros_like(t)
        u = np.clip(t / self.duration, 0.0, 1.0)
        return u * u * (3.0 - 2.0 * u)

    def speed(self, t: np.ndarray) -> np.ndarray:
        """d(progress)/dt scaled to peak 1 (the whoosh envelope); 0 for a static camera."""
        if self.duration <= 0 or self.move == "static":
            return np.zeros_like(t)
        u = np.clip(t / self.duration, 0.0, 1.0)
        return 4.0 * u * (1.0 - u)  # smoothstep's slope 6u(1-u), normalised to a peak of 1

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centres (len(t), 2) and zooms (len(t),) at times t."""
        u = self.progress(np.asarray(t, dtype=np.float64))
        start, end = np.array(self.start_centre), np.array(self.end_centre)
        centres = start + (end - start) * u[:, None]  # (n, 2)
        zooms = self.start_zoom * (self.end_zoom / self.start_zoom) ** u  # (n,) geometric
        return centres, zooms

    def view_box(self, t: float, config: WorldConfig) -> tuple[float, float, float, float]:
        """World rectangle (x0, y0, x1, y1) the screen shows at time t."""
        centres, zooms = self.at(np.array([t]))
        (cx, cy), z = centres[0], zooms[0]
        half_w, half_h = config.width / 2 / z, config.height / 2 / z
        return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)

    def common_box(self, config: WorldConfig) -> tuple[float, float, float, float]:
        """World rectangle seen on every frame (moves are monotone: the end views bound it)."""
        a, b = self.view_box(0.0, config), self.view_box(self.duration, config)
        return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))

    def union_box(self, config: WorldConfig) -> tuple[float, float, float, float]:
        """World rectangle covering every frame's view."""
        a, b = self.view_box(0.0, config), self.view_box(self.duration, config)
        return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def world_to_screen(points: np.ndarray, centres, zooms, config: WorldConfig) -> np.ndarray:
    """World points (n, 2) at n times -> screen points (n, 2), pixel units, (0, 0) top-left."""
    half = np.array([config.width / 2, config.height / 2])
    return (points - centres) * zooms[:, None] + half


def screen_grid_to_world(centre, zoom: float, config: WorldConfig):
    """World x of each pixel column (W,) and world y of each row (H,), at pixel centres."""
    xs = (np.arange(config.width) + 0.5 - config.width / 2) / zoom + centre[0]  # (W,)
    ys = (np.arange(config.height) + 0.5 - config.height / 2) / zoom + centre[1]  # (H,)
    return xs, ys


def sample_camera(rng: np.random.Generator, config: WorldConfig) -> CameraSpec:
    move = _choose_move(rng, config)
    centre = (config.width / 2, config.height / 2)
    start, end, z0, z1 = centre, centre, 1.0, 1.0
    if move.startswith("pan_"):
        dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[move[4:]]
        side = config.width if dx else config.height
        distance = rng.uniform(*_PAN_RANGE) * side
        end = (centre[0] + dx * distance, centre[1] + dy * distance)
    elif move == "zoom_in":
        z1 = float(rng.uniform(*_ZOOM_RANGE))
    elif move == "zoom_out":
        z0 = float(rng.uniform(*_ZOOM_RANGE))
    return CameraSpec(move, start, end, z0, z1, config.motion_duration)


def _choose_move(rng: np.random.Generator, config: WorldConfig) -> str:
    moves = config.camera_moves
    if config.num_frames == 1:
        return "static"  # a still image has no camera motion to show
    moving = [m for m in moves if m != "static"]
    if "static" in moves and (not moving or rng.random() < config.static_camera_probability):
        return "static"
    return str(rng.choice(moving))
