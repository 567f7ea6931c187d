"""make_sample: one seed -> frames, soundtrack, caption and ground truth of a clip."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reelpoet.models.world.camera import world_to_screen
from reelpoet.models.world.caption import canonical_facts, write_caption
from reelpoet.models.world.config import WorldConfig
from reelpoet.models.world.render import Rendering, frame_times, render
from reelpoet.models.world.scene import ObjectSpec, Scene, generator, sample_scene
from reelpoet.models.world.shapes import extents
from reelpoet.models.world.soundtrack import synthesize
from reelpoet.models.world.truth import (
    BackgroundTruth,
    CameraTruth,
    EventTruth,
    ObjectTruth,
    SceneTruth,
)
from reelpoet.models.world.vocabulary import COLOURS

_AUDIO_STREAM, _CAPTION_STREAM = 1, 2
_EVENT_STEPS_PER_FRAME = 64  # time grid for enter/leave events: 2 ms at 8 fps


@dataclass(frozen=True)
class WorldSample:
    seed: int
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    audio: np.ndarray  # (N,) float32 mono in [-0.9, 0.9], N = round(T / fps * sample_rate)
    caption: str
    truth: SceneTruth


def make_sample(seed: int, config: WorldConfig = WorldConfig()) -> WorldSample:  # noqa: B008
    """The clip of `seed`: the same seed and config give identical arrays, bit for bit."""
    scene = sample_scene(seed, config)
    rendering = render(scene, config)
    events = _bounce_events(scene, config) + _edge_events(scene, config)
    events.sort(key=lambda e: (e.time, e.object, e.kind))
    truth = _truth(scene, rendering, tuple(events), config)
    truth = dataclasses.replace(truth, facts=canonical_facts(truth))
    bounces = [(e.time, e.object) for e in events if e.kind == "bounce"]
    audio = synthesize(scene, bounces, config, generator(seed, _AUDIO_STREAM))
    caption = write_caption(truth, generator(seed, _CAPTION_STREAM))
    return WorldSample(scene.seed, rendering.frames, audio, caption, truth)


def _truth(scene: Scene, rendering: Rendering, events, config: WorldConfig) -> SceneTruth:
    times = frame_times(config)
    centres, zooms = scene.camera.at(times)
    camera = CameraTruth(scene.camera.move, _points(centres), tuple(map(float, zooms)))
    bg = scene.background
    background = BackgroundTruth(bg.kind, bg.pattern, bg.photo, bg.colours)
    objects = tuple(
        _object_truth(i, obj, rendering, times, zooms) for i, obj in enumerate(scene.objects)
    )
    size = (config.width, config.height, config.num_frames, config.fps, config.sample_rate)
    return SceneTruth(*size, background, camera, objects, events, facts=())


def _object_truth(i: int, obj: ObjectSpec, rendering: Rendering, times, zooms) -> ObjectTruth:
    m = obj.motion
    coverage = rendering.coverage[i]  # (T,)
    return ObjectTruth(
        index=i,
        shape=obj.shape,
        colour=obj.colour,
        rgb=COLOURS[obj.colour],
        size=obj.size,
        radius=float(obj.radius),
        motion=m.kind,
        direction=m.direction,
        side=m.side,
        positions=_points(rendering.screen_positions[i]),
        world_positions=_points(m.positions(times)),
        radii=tuple(float(obj.radius * z) for z in zooms),
        coverage=tuple(float(c) for c in coverage),
        visible=tuple(bool(c > 0.0) for c in coverage),
        occlusion=tuple(float(c) for c in rendering.occlusion[i]),
    )


def _points(array: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in array)


def _bounce_events(scene: Scene, config: WorldConfig) -> list[EventTruth]:
    end = config.num_frames / config.fps  # the clip (and its audio) lasts T / fps
    return [
        EventTruth("bounce", i, t, t * config.fps, wall)
        for i, obj in enumerate(scene.objects)
        for t, wall in obj.motion.bounces(end)
    ]


def _edge_events(scene: Scene, config: WorldConfig) -> list[EventTruth]:
    """Enter/leave events: when an object's bounding box starts/stops overlapping the screen."""
    if config.num_frames == 1:
        return []
    steps = config.num_frames * _EVENT_STEPS_PER_FRAME
    times = np.arange(steps + 1) / (config.fps * _EVENT_STEPS_PER_FRAME)  # (S,) up to T / fps
    centres, zooms = scene.camera.at(times)
    events = []
    for i, obj in enumerate(scene.objects):
        screen = world_to_screen(obj.motion.positions(times), centres, zooms, config)  # (S, 2)
        reach = np.outer(zooms * obj.radius, extents(obj.shape))  # (S, 4) left, right, up, down
        seen = (
            (screen[:, 0] + reach[:, 1] > 0)
            & (screen[:, 0] - reach[:, 0] < config.width)
            & (screen[:, 1] + reach[:, 3] > 0)
            & (screen[:, 1] - reach[:, 2] < config.height)
        )  # (S,)
        for s in np.flatnonzero(seen[1:] != seen[:-1]):
            off = s if seen[s + 1] else s + 1  # the sample where it is off screen
            t = float((times[s] + times[s + 1]) / 2)
            kind = "enter" if seen[s + 1] else "leave"
            events.append(EventTruth(kind, i, t, t * config.fps, _side(screen[off], config)))
    return events


def _side(point: np.ndarray, config: WorldConfig) -> str:
    """The frame edge a point off screen lies furthest beyond."""
    beyond = {
        "left": -point[0],
        "right": point[0] - config.width,
        "top": -point[1],
        "bottom": point[1] - config.height,
    }
    return max(beyond, key=beyond.__getitem__)
