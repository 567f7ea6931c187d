"""Frames: the background field under each pixel, then each object composited by its coverage."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from reelpoet.models.world.camera import screen_grid_to_world, world_to_screen
from reelpoet.models.world.config import WorldConfig
from reelpoet.models.world.scene import ObjectSpec, Scene
from reelpoet.models.world.shapes import signed_distance
from reelpoet.models.world.vocabulary import COLOURS


class Rendering(NamedTuple):
    frames: np.ndarray  # (T, H, W, 3) uint8
    screen_positions: np.ndarray  # (K, T, 2) float64 screen centres of the K objects
    coverage: np.ndarray  # (K, T) fraction of each object's area on screen
    occlusion: np.ndarray  # (K, T) fraction of its on-screen area hidden by later objects


def frame_times(config: WorldConfig) -> np.ndarray:
    return np.arange(config.num_frames) / config.fps  # (T,) frame k at k / fps


def render(scene: Scene, config: WorldConfig) -> Rendering:
    times = frame_times(config)
    count, steps = len(scene.objects), config.num_frames
    centres, zooms = scene.camera.at(times)  # (T, 2), (T,)
    positions = np.zeros((count, steps, 2))  # (K, T, 2)
    for i, obj in enumerate(scene.objects):
        positions[i] = world_to_screen(obj.motion.positions(times), centres, zooms, config)
    frames = np.empty((steps, config.height, config.width, 3), np.uint8)
    coverage, occlusion = np.zeros((count, steps)), np.zeros((count, steps))
    for k in range(steps):
        canvas = _background(scene, centres[k], zooms[k], config)  # (H, W, 3) float32
        masks = np.zeros((count, config.height, config.width), np.float32)  # (K, H, W)
        for i, obj in enumerate(scene.objects):
            masks[i], coverage[i, k] = _mask(obj, positions[i, k], zooms[k] * obj.radius, config)
            colour = np.array(COLOURS[obj.colour], np.float32) / 255.0
            canvas += (colour - canvas) * masks[i, :, :, None]
        occlusion[:, k] = _occlusion(masks)
        frames[k] = np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)
    return Rendering(frames, positions, coverage, occlusion)


def _background(scene: Scene, centre, zoom: float, config: WorldConfig) -> np.ndarray:
    xs, ys = screen_grid_to_world(centre, zoom, config)  # (W,), (H,)
    return scene.field.sample(xs[None, :], ys[:, None], pixel=1.0 / zoom)  # (H, W, 3)


def _mask(obj: ObjectSpec, centre, radius: float, config: WorldConfig):
    """The object's coverage (H, W) of each screen pixel, and the fraction of its area on screen.

    The shape is evaluated over its whole bounding box, on screen or not, so the area off screen
    is known too.
    """
    mask = np.zeros((config.height, config.width), np.float32)
    x0, x1 = math.floor(centre[0] - radius - 1), math.ceil(centre[0] + radius + 1)
    y0, y1 = math.floor(centre[1] - radius - 1), math.ceil(centre[1] + radius + 1)
    dx = np.arange(x0, x1) + 0.5 - centre[0]  # (w,) pixel centres relative to the object
    dy = np.arange(y0, y1) + 0.5 - centre[1]  # (h,)
    distance = signed_distance(obj.shape, dx[None, :], dy[:, None], radius)  # (h, w) pixels
    alpha = np.clip(0.5 - distance, 0.0, 1.0).astype(np.float32)  # one-pixel soft edge
    total = float(alpha.sum())
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x1, config.width), min(y1, config.height)
    if cx0 >= cx1 or cy0 >= cy1 or total == 0.0:
        return mask, 0.0
    mask[cy0:cy1, cx0:cx1] = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return mask, float(mask.sum()) / total


def _occlusion(masks: np.ndarray) -> np.ndarray:
    """(K,) fraction of each object's on-screen coverage that later objects paint over."""
    # Reverse cumulative product: how much of each pixel shows through everything drawn after i.
    through = np.cumprod((1.0 - masks)[::-1], axis=0)[::-1]  # (K, H, W), includes i itself
    after = np.concatenate([through[1:], np.ones_like(masks[:1])])  # (K, H, W) objects > i only
    own = masks.sum(axis=(1, 2))
    hidden = (masks * (1.0 - after)).sum(axis=(1, 2))
    return np.divide(hidden, own, out=np.zeros_like(own), where=own > 0)
