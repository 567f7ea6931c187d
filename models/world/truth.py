"""SceneTruth: what happened in a clip, as canonical names and numbers an evaluator can check.

Positions are screen pixels, (0, 0) the top-left corner of the top-left pixel, x right, y down;
a pixel (row i, column j) has its centre at (j + 0.5, i + 0.5). Times are seconds from the first
frame; frame k is at k / fps, so `frame_time = time * fps` (fractional between frames).
`to_dict()` is JSON-serialisable and `SceneTruth.from_dict` rebuilds an equal object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

Point = tuple[float, float]


@dataclass(frozen=True)
class BackgroundTruth:
    kind: str  # plain | gradient | texture | photo
    pattern: str  # stripes | checker | noise for a texture, else ""
    photo: str  # the photo's name for a photo, else ""
    colours: tuple[str, ...]  # named tones of a plain/gradient/texture background


@dataclass(frozen=True)
class CameraTruth:
    move: str  # static | pan_left | pan_right | pan_up | pan_down | zoom_in | zoom_out
    centres: tuple[Point, ...]  # per frame: the world point at the screen's centre
    zooms: tuple[float, ...]  # per frame: screen pixels per world unit


@dataclass(frozen=True)
class ObjectTruth:
    index: int  # drawing order: a higher index covers a lower one
    shape: str
    colour: str
    rgb: tuple[int, int, int]
    size: str  # small | medium | large
    radius: float  # world units; the shape fits in this circle
    motion: str  # still | move | bounce | enter | leave
    direction: str  # of travel (a bounce's initial direction), "" when still
    side: str  # the side entered from / left by, else ""
    positions: tuple[Point, ...]  # per frame: screen centre (may lie off screen)
    world_positions: tuple[Point, ...]  # per frame: world centre
    radii: tuple[float, ...]  # per frame: radius in screen pixels (the zoom scales it)
    coverage: tuple[float, ...]  # per frame: fraction of the shape's area on screen
    visible: tuple[bool, ...]  # per frame: any of the shape is on screen
    occlusion: tuple[float, ...]  # per frame: fraction of its on-screen area later objects hide


@dataclass(frozen=True)
class EventTruth:
    kind: str  # bounce | enter | leave
    object: int  # ObjectTruth.index
    time: float  # seconds
    frame_time: float  # time * fps
    wall: str  # bounce: the wall hit; enter/leave: the screen side crossed


@dataclass(frozen=True)
class SceneTruth:
    width: int
    height: int
    num_frames: int
    fps: int
    sample_rate: int
    background: BackgroundTruth
    camera: CameraTruth
    objects: tuple[ObjectTruth, ...]
    events: tuple[EventTruth, ...]  # in time order
    facts: tuple[str, ...]  # canonical, template-free statements the caption expresses

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneTruth:
        top = {k: data[k] for k in ("width", "height", "num_frames", "fps", "sample_rate")}
        return cls(
            **top,
            background=BackgroundTruth(**_tupled(data["background"])),
            camera=CameraTruth(**_tupled(data["camera"])),
            objects=tuple(ObjectTruth(**_tupled(o)) for o in data["objects"]),
            events=tuple(EventTruth(**e) for e in data["events"]),
            facts=tuple(data["facts"]),
        )


def _plain(value: Any) -> Any:
    """Tuples -> lists, so the dict is exactly what JSON gives back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _tupled(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _as_tuple(v) for k, v in data.items()}


def _as_tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_as_tuple(v) for v in value)
    return value
