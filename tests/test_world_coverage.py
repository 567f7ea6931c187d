"""Over 500 seeds the world uses every shape, colour, motion, direction, background and camera."""

from __future__ import annotations

from collections import Counter, defaultdict

from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.models.world.photos import PHOTO_NAMES
from reelpoet.models.world.scene import sample_scene
from reelpoet.models.world.vocabulary import (
    BACKGROUND_KINDS,
    CAMERA_MOVES,
    COLOUR_NAMES,
    DIRECTION_NAMES,
    MOTIONS,
    SHAPES,
    SIDES,
    TEXTURE_PATTERNS,
)


def test_500_seeds_cover_the_parameter_space():
    config = WorldConfig()
    seen: defaultdict[str, Counter] = defaultdict(Counter)
    for seed in range(500):
        scene = sample_scene(seed, config)
        seen["camera"][scene.camera.move] += 1
        seen["bg"][scene.background.kind] += 1
        seen["texture"][scene.background.pattern] += 1
        seen["photo"][scene.background.photo] += 1
        for obj in scene.objects:
            seen["shape"][obj.shape] += 1
            seen["colour"][obj.colour] += 1
            seen["motion"][obj.motion.kind] += 1
            if obj.motion.kind in ("move", "bounce"):
                seen[obj.motion.kind][obj.motion.direction] += 1
            if obj.motion.side:
                seen["side"][obj.motion.side] += 1
    assert set(seen["shape"]) == set(SHAPES)
    assert set(seen["colour"]) == set(COLOUR_NAMES)
    assert set(seen["motion"]) == set(MOTIONS)
    assert set(seen["move"]) == set(DIRECTION_NAMES)
    assert set(seen["bounce"]) == set(DIRECTION_NAMES)
    assert set(seen["side"]) == set(SIDES)
    assert set(seen["bg"]) == set(BACKGROUND_KINDS)
    assert set(seen["texture"]) - {""} == set(TEXTURE_PATTERNS)
    assert set(seen["photo"]) - {""} == set(PHOTO_NAMES)
    assert set(seen["camera"]) == set(CAMERA_MOVES)
    # No colour is starved by the contrast rule: each gets a fair share of ~1000 objects.
    assert min(seen["colour"].values()) >= 40, seen["colour"]


def test_scene_sampling_matches_make_sample():
    for seed in range(3):
        scene, truth = sample_scene(seed, WorldConfig()), make_sample(seed).truth
        assert [o.colour for o in scene.objects] == [o.colour for o in truth.objects]
        assert scene.camera.move == truth.camera.move
