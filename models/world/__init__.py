"""The procedural training world: synthetic clips with captions, soundtracks and ground truth.

Shapes of named colours move, bounce, enter and leave over plain, gradient, textured and
photographic backgrounds while the camera pans or zooms; every clip comes with a caption built
from what happened, a soundtrack synthesized from the same trajectories, and a `SceneTruth` an
evaluator can check generated video against. numpy/scipy/Pillow only: no torch here.

    from reelpoet.models.world import WorldConfig, make_sample
    sample = make_sample(7, WorldConfig(width=64, height=64))
    sample.frames.shape  # (17, 64, 64, 3) uint8
"""

from reelpoet.models.world.caption import SHAPE_WORDS
from reelpoet.models.world.config import WorldConfig
from reelpoet.models.world.sample import WorldSample, make_sample
from reelpoet.models.world.truth import (
    BackgroundTruth,
    CameraTruth,
    EventTruth,
    ObjectTruth,
    SceneTruth,
)

__all__ = [
    "SHAPE_WORDS",
    "BackgroundTruth",
    "CameraTruth",
    "EventTruth",
    "ObjectTruth",
    "SceneTruth",
    "WorldConfig",
    "WorldSample",
    "make_sample",
]
