"""Sampling a scene description from a seed: camera, objects and their motions, background.

All randomness of a scene comes from one generator seeded by (seed, 0), drawn in a fixed order,
so a seed and a config give the same scene on every run. Object colours are drawn last, among
the colours that stand out from the background along the object's own path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from reelpoet.models.world import photos
from reelpoet.models.world.backgrounds import BackgroundField, BackgroundSpec
from reelpoet.models.world.camera import CameraSpec, sample_camera
from reelpoet.models.world.config import WorldConfig
from reelpoet.models.world.motion import MotionSpec, sample_motion
from reelpoet.models.world.vocabulary import BACKGROUND_COLOURS, COLOURS, SIZES
from reelpoet.sdk.errors import InvalidRequestError

_SCENE_STREAM = 0  # generator streams per seed: scene, soundtrack noise, caption wording
_RING_POINTS = 12  # background samples around an object, per frame, for the contrast check
_MIN_BACKGROUND_CONTRAST = 70.0  # RGB distance between a two-tone background's colours
_PLACEMENT_TRIES = 12
_MAX_OVERLAP = 0.1  # of frames two objects may overlap heavily (crossing paths is fine)


@dataclass(frozen=True)
class ObjectSpec:
    shape: str
    colour: str
    size: str  # vocabulary.SIZES name
    radius: float  # world units; every shape fits in this circle
    motion: MotionSpec


@dataclass(frozen=True)
class Scene:
    seed: int
    camera: CameraSpec
    background: BackgroundSpec
    objects: tuple[ObjectSpec, ...]  # drawn in this order: later ones cover earlier ones
    field: BackgroundField = field(compare=False, repr=False)


def generator(seed: int, stream: int) -> np.random.Generator:
    """The generator for one purpose of one seed; streams keep wording apart from geometry."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidRequestError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([int(seed), stream])


def sample_scene(seed: int, config: WorldConfig) -> Scene:
    rng = generator(seed, _SCENE_STREAM)
    camera = sample_camera(rng, config)
    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    geometry = []
    for _ in range(count):
        geometry.append(_sample_geometry(rng, camera, geometry, config))
    background = _sample_background(rng, camera, config)
    bg_field = BackgroundField(background, detail=max(camera.start_zoom, camera.end_zoom))
    objects: list[ObjectSpec] = []
    for shape, size, radius, motion in geometry:
        used = {o.colour for o in objects}
        colour = _pick_colour(rng, bg_field, radius, motion, used, config)
        objects.append(ObjectSpec(shape, colour, size, radius, motion))
    return Scene(int(seed), camera, background, tuple(objects), bg_field)


def _sample_geometry(rng, camera: CameraSpec, placed: list, config: WorldConfig):
    shape = str(rng.choice(config.shapes))
    size = str(rng.choice(list(SIZES)))
    radius = SIZES[size] * min(config.width, config.height)
    # A single frame cannot show motion, so an image's objects are still.
    kind = "still" if config.num_frames == 1 else str(rng.choice(config.motions))
    # Redraw the path a few times to keep objects from hiding one another for long: a caption
    # should not describe an object nobody can see.
    best, best_overlap = None, math.inf
    for _ in range(_PLACEMENT_TRIES):
        motion = sample_motion(rng, kind, radius, camera, config)
        overlap = _overlap(motion, radius, placed, config)
        if overlap < best_overlap:
            best, best_overlap = motion, overlap
        if overlap <= _MAX_OVERLAP:
            break
    return shape, size, radius, best


def _overlap(motion: MotionSpec, radius: float, placed: list, config: WorldConfig) -> float:
    """Fraction of frames on which this path comes close to an already placed object's."""
    times = np.arange(config.num_frames) / config.fps
    mine = motion.positions(times)  # (T, 2) world
    close = np.zeros(config.num_frames, dtype=bool)
    for _, _, other_radius, other in placed:
        gap = np.linalg.norm(mine - other.positions(times), axis=1)  # (T,)
        close |= gap < 0.8 * (radius + other_radius)
    return float(close.mean())


def _sample_background(rng, camera: CameraSpec, config: WorldConfig) -> BackgroundSpec:
    kind = str(rng.choice(config.background_kinds))
    x0, y0, x1, y1 = camera.union_box(config)
    world_box = (x0 - 2.0, y0 - 2.0, x1 + 2.0, y1 + 2.0)  # a margin for bilinear lookups
    if kind == "photo":
        name = str(rng.choice(config.photos))
        box = _photo_crop(rng, name, world_box)
        return BackgroundSpec("photo", photo=name, photo_box=box, world_box=world_box)
    colours = _two_tones(rng)
    side = min(config.width, config.height)
    return BackgroundSpec(
        kind,
        colours=colours[:1] if kind == "plain" else colours,
        pattern=str(rng.choice(config.textures)) if kind == "texture" else "",
        angle=float(rng.uniform(0.0, 2.0 * math.pi)),
        period=float(rng.uniform(0.12, 0.3) * side),  # 8 to 19 pixels at 64: visible, not busy
        noise_seed=int(rng.integers(2**31)),
        world_box=world_box,
    )


def _two_tones(rng) -> tuple[str, str]:
    names = list(BACKGROUND_COLOURS)
    first = str(rng.choice(names))
    others = [
        n
        for n in names
        if _distance(BACKGROUND_COLOURS[n], BACKGROUND_COLOURS[first]) >= _MIN_BACKGROUND_CONTRAST
    ]
    return first, str(rng.choice(others))


def _photo_crop(rng, name: str, world_box) -> tuple[float, float, float, float]:
    """A crop of the photo with the world box's aspect, 2x to full-frame below the photo's size."""
    pw, ph = photos.photo_size(name)
    bw, bh = world_box[2] - world_box[0], world_box[3] - world_box[1]
    largest = min(pw / bw, ph / bh)  # photo pixels per world unit when the crop is widest
    smallest = min(2.0, largest)  # never magnify a photo more than its own detail allows
    scale = math.exp(rng.uniform(math.log(smallest), math.log(largest)))
    w, h = bw * scale, bh * scale
    x0, y0 = rng.uniform(0.0, pw - w), rng.uniform(0.0, ph - h)
    return (float(x0), float(y0), float(x0 + w), float(y0 + h))


def _pick_colour(rng, bg_field, radius, motion, used: set[str], config: WorldConfig) -> str:
    """A colour far (in RGB) from the background just outside the object on every frame.

    Colours not yet in the scene come first, so "the red one" names a single object.
    """
    times = np.arange(config.num_frames) / config.fps
    centres = motion.positions(times)  # (T, 2) world
    angles = np.arange(_RING_POINTS) * 2.0 * math.pi / _RING_POINTS
    ring_x = centres[:, :1] + 1.3 * radius * np.cos(angles)  # (T, R)
    ring_y = centres[:, 1:] + 1.3 * radius * np.sin(angles)
    around = bg_field.sample(ring_x, ring_y).reshape(-1, 3) * 255.0  # (T * R, 3)
    contrast = {
        name: float(np.percentile(np.linalg.norm(around - np.array(COLOURS[name]), axis=1), 10))
        for name in config.colours
    }
    allowed = [name for name in config.colours if contrast[name] >= config.min_contrast]
    if not allowed:
        return max(config.colours, key=contrast.__getitem__)
    fresh = [name for name in allowed if name not in used]
    return str(rng.choice(fresh or allowed))


def _distance(a, b) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))
