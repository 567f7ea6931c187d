"""How well the frame and audio detectors read the world's own truth renders: a markdown table.

    python -m reelpoet.models.eval.detector_check --count 256 [--first-seed 0] [--bundle DIR]

Each clip is read as rendered and again degraded like a tokenizer's output (`degrade`: Gaussian
blur of sigma 1.5 px, 32 levels a channel). With `--bundle`, a third column reads each clip
after a round trip through that bundle's video tokenizer (encode, decode): the ceiling of what
a generated clip can score, since the LM's output is decoded by the same decoder. A fact is
scored only on clips where it is well defined, and the table gives the number of such clips
beside each accuracy. `truth_facts` decides, from the truth alone (never from a detector's
output):

- an object *shows* on a frame when >= 50% of it is on screen and <= 50% hidden by later objects,
  and is *present* when it shows on >= 70% of frames; it *contrasts* when the median RGB
  distance from its colour to the pixels on a ring at 1.4 radii is >= 100 (of 255);
- *clean*: no background patch (away from the objects) of >= 0.003 S^2 pixels within 0.2 of an
  object colour: photographs have them (the cat's pupils, the astronaut's black top, a white cup
  rim), and such a patch is an object of that colour to any reader of pixels;
- main colour: the object of most mean visible area is present, contrasts, has 1.5x the area of
  every other object and of any object-coloured background patch, and its colour is unique;
- colours (set): clean clips; the colours of present, contrasting objects must all be found,
  and nothing but colours of objects on screen at some time;
- object count: clean clips where the number of objects shown never changes;
- direction: a main object that is still or moves straight (a bounce reverses, an entering or
  leaving one is partly off screen). On screen: its fitted travel, unless within 10 degrees of
  a sector edge or between 0.04 and 0.14 S long. In the scene (the caption's word): only where
  the camera is static or its move can be undone (a photo, checker or noise background);
- camera: not on plain backgrounds (nothing shows the move); on stripes and gradients (which
  show motion only across them) a pan counts within 30 degrees of their normal;
- bounces: clean clips where every bouncing object is present and contrasting, with a unique
  colour, and the camera can be undone; turns between the second and the second-to-last frame.

The last row is the continuation seam: PSNR between frames 16 and 17 of 34-frame renders, each
17-frame half transformed on its own (`seam_cells`).

Seeds start at 0: below the training range, like every evaluation set.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from reelpoet.models.eval.audio_onsets import (
    detect_onsets,
    dominant_pitch,
    expected_tone_pitches,
    impact_times,
    onset_f1,
    pitch_agreement,
)
from reelpoet.models.eval.world_detector import ClipReading, read_clip, seam_psnr
from reelpoet.models.world import WorldConfig, WorldSample, make_sample
from reelpoet.models.world.scene import sample_scene
from reelpoet.models.world.shapes import signed_distance
from reelpoet.models.world.truth import ObjectTruth, SceneTruth
from reelpoet.models.world.vocabulary import COLOURS, DIRECTIONS

# The rules these numbers make are listed in the module docstring.
_SHOWN_COVERAGE = 0.5
_SHOWN_OCCLUSION = 0.5
_PRESENT = 0.7
_MAIN_MARGIN = 1.5  # the main object's mean visible area over the runner-up's: clearly largest
_MIN_CONTRAST = 100.0  # RGB distance (of 255) to the background ring: the colour is separable
# Within 0.2 (of 1) an object colour and a background patch are hard to tell apart once blurred;
# a patch the size of the smallest object's visible part (0.003 S^2) is an object to a reader.
_LOOKALIKE_DISTANCE = 0.2
_LOOKALIKE_AREA = 0.003
_SECTOR_MARGIN = math.radians(10)  # on-screen travel this close to a sector edge is ambiguous
# Screen travel between these fractions of min(H, W) is neither clearly still nor clearly moving
# (the detector's own threshold, 0.08, lies between).
_STILL_BAND = (0.04, 0.14)
# A plain background shows no camera motion. Stripes and a linear gradient show only motion
# across them (the aperture problem): a pan counts when it is within 30 degrees of their normal.
_CAMERA_BACKGROUNDS = ("gradient", "texture", "photo")
_ONE_WAY_PATTERNS = ("gradient", "stripes")
_TWO_WAY = ("checker", "noise")
_MAX_PAN_ANGLE = math.radians(30)


@dataclass(frozen=True)
class TruthFacts:
    """The facts a detector should read, None where the clip leaves a fact ill-defined."""

    main_colour: str | None  # a single clearly largest, contrasting, unoccluded object
    colours: tuple[str, ...]  # colours of the contrasting objects present on most frames
    possible_colours: tuple[str, ...]  # colours of every object on screen at some time
    screen_direction: str | None  # main object's on-screen travel; only still or move objects
    scene_direction: str | None  # its motion in the world (the caption's): only still or move
    camera: str | None  # None where the background cannot show the camera's move
    count: int | None  # objects shown; None when that changes during the clip
    bounces: tuple[float, ...] | None  # seconds, inside the scored span (`bounce_span`)


def degrade(frames: np.ndarray, sigma: float = 1.5, levels: int = 32) -> np.ndarray:
    """Frames as a lossy tokenizer might return them: blurred, quantised, float32 in [0, 1]."""
    clip = frames.astype(np.float32) / 255.0 if frames.dtype == np.uint8 else frames
    blurred = ndimage.gaussian_filter(clip, sigma=(0, sigma, sigma, 0))
    return (np.round(blurred * (levels - 1)) / (levels - 1)).astype(np.float32)


def truth_facts(sample: WorldSample, config: WorldConfig = WorldConfig()) -> TruthFacts:  # noqa: B008
    """The facts of a clip made with `config`, each None where ill-defined (module docstring)."""
    truth = sample.truth
    shown = [_shown(o) for o in truth.objects]  # (K,) arrays of (T,) bool
    present = [o for o, s in zip(truth.objects, shown, strict=True) if s.mean() >= _PRESENT]
    contrasting = [o for o in present if _ring_contrast(o, sample.frames) >= _MIN_CONTRAST]
    lookalike = _lookalike_area(sample)  # pixels of the largest object-coloured background patch
    clean = lookalike < _LOOKALIKE_AREA * min(truth.width, truth.height) ** 2
    main = _clear_main(truth, contrasting, lookalike)
    straight = main is not None and main.motion in ("still", "move")
    camera = truth.camera.move if _camera_visible(sample, config) else None
    # Undoing a camera move needs its full shift, which stripes and gradients show only across.
    two_way = truth.background.kind == "photo" or truth.background.pattern in _TWO_WAY
    undoable = _static(truth) or (camera is not None and two_way)
    counts = np.sum(shown, axis=0) if shown else np.zeros(truth.num_frames, int)  # (T,)
    return TruthFacts(
        main_colour=main.colour if main is not None else None,
        colours=tuple(sorted({o.colour for o in contrasting})),
        possible_colours=tuple(sorted({o.colour for o in truth.objects if any(o.visible)}))
        if clean
        else (),
        screen_direction=_screen_direction(main, truth) if straight else None,
        scene_direction=(main.direction or "still") if straight and undoable else None,
        camera=camera,
        count=int(counts[0]) if clean and len(set(counts.tolist())) == 1 else None,
        bounces=_bounce_times(truth, contrasting) if clean and undoable else None,
    )


def bounce_span(truth: SceneTruth) -> tuple[float, float]:
    """Seconds in which a bounce can be seen turning: a frame's motion on either side of it."""
    return 1.0 / truth.fps, (truth.num_frames - 2) / truth.fps


def _bounce_times(truth: SceneTruth, contrasting: list) -> tuple[float, ...] | None:
    """Each bouncing object's turns (those within a frame merged), if every one can be tracked."""
    colours = [o.colour for o in truth.objects]
    bouncing = [o for o in truth.objects if o.motion == "bounce"]
    if any(o not in contrasting or colours.count(o.colour) > 1 for o in bouncing):
        return None
    low, high = bounce_span(truth)
    times = []
    for o in bouncing:
        mine = [e.time for e in truth.events if e.kind == "bounce" and e.object == o.index]
        for t in mine:
            if low <= t <= high and not any(0 < t - u <= 1.0 / truth.fps for u in mine):
                times.append(t)
    return tuple(sorted(times))


def _camera_visible(sample: WorldSample, config: WorldConfig) -> bool:
    bg, move = sample.truth.background, sample.truth.camera.move
    if bg.kind not in _CAMERA_BACKGROUNDS:
        return False
    if not move.startswith("pan_") or (bg.pattern or bg.kind) not in _ONE_WAY_PATTERNS:
        return True
    # The angle the stripes or the gradient vary along is not in SceneTruth: re-sample it.
    angle = sample_scene(sample.seed, config).background.angle
    dx, dy = {"pan_left": (1, 0), "pan_right": (1, 0), "pan_up": (0, 1), "pan_down": (0, 1)}[move]
    return abs(dx * math.cos(angle) + dy * math.sin(angle)) >= math.cos(_MAX_PAN_ANGLE)


def _static(truth: SceneTruth) -> bool:
    return truth.camera.move == "static"


def _shown(o: ObjectTruth) -> np.ndarray:
    coverage, occlusion = np.array(o.coverage), np.array(o.occlusion)
    return (coverage >= _SHOWN_COVERAGE) & (occlusion <= _SHOWN_OCCLUSION)


def _clear_main(truth: SceneTruth, contrasting: list, lookalike: float) -> ObjectTruth | None:
    """The object with the most visible area, if it is clearly the largest and stands out."""
    if not truth.objects:
        return None
    areas = sorted(((_mean_visible_area(o), o) for o in truth.objects), key=lambda p: -p[0])
    area, main = areas[0]
    if main not in contrasting:
        return None
    if any(a * _MAIN_MARGIN > area for a, _ in areas[1:]) or lookalike * _MAIN_MARGIN > area:
        return None
    return None if any(o.colour == main.colour for _, o in areas[1:]) else main


def _lookalike_area(sample: WorldSample) -> float:
    """The largest patch (pixels, any frame) of background within reach of an object colour."""
    truth, frames = sample.truth, sample.frames.astype(np.float32) / 255.0
    rows, cols = np.mgrid[0 : truth.height, 0 : truth.width] + 0.5
    background = np.ones(frames.shape[:3], bool)  # (T, H, W) away from every object
    for o in truth.objects:
        for k, ((x, y), r) in enumerate(zip(o.positions, o.radii, strict=True)):
            background[k] &= (cols - x) ** 2 + (rows - y) ** 2 > (r + 2.0) ** 2
    palette = np.array(list(COLOURS.values()), np.float32) / 255.0  # (8, 3)
    pixels = frames.reshape(-1, 3)
    squared = (pixels**2).sum(1)[:, None] - 2.0 * pixels @ palette.T + (palette**2).sum(1)
    near = (squared < _LOOKALIKE_DISTANCE**2).reshape(*frames.shape[:3], -1)  # (T, H, W, 8)
    in_frame = np.zeros((3, 3, 3), bool)
    in_frame[1] = ndimage.generate_binary_structure(2, 1)
    largest = 0
    for c in np.flatnonzero(near.any(axis=(0, 1, 2))):
        labels, count = ndimage.label(near[..., c] & background, structure=in_frame)
        if count:
            largest = max(largest, int(np.bincount(labels.ravel())[1:].max()))
    return float(largest)


@functools.cache
def _unit_area(shape: str) -> float:
    """Area of the shape at radius 1, on a fine grid."""
    grid = np.linspace(-1.1, 1.1, 441)
    inside = signed_distance(shape, grid[None, :], grid[:, None], 1.0) < 0
    return float(inside.mean() * 2.2 * 2.2)


def _mean_visible_area(o: ObjectTruth) -> float:
    radii = np.array(o.radii)
    visible = np.array(o.coverage) * (1.0 - np.array(o.occlusion))
    return float(np.mean(_unit_area(o.shape) * radii**2 * visible))


def _ring_contrast(o: ObjectTruth, frames: np.ndarray) -> float:
    """Median RGB distance between the object's colour and the pixels just outside it."""
    height, width = frames.shape[1:3]
    angles = np.arange(12) * 2.0 * math.pi / 12
    distances = []
    for k, ((x, y), r) in enumerate(zip(o.positions, o.radii, strict=True)):
        cols = np.floor(x + 1.4 * r * np.cos(angles)).astype(int)
        rows = np.floor(y + 1.4 * r * np.sin(angles)).astype(int)
        inside = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
        ring = frames[k, rows[inside], cols[inside]].astype(np.float64)  # (n, 3)
        distances.extend(np.linalg.norm(ring - np.array(o.rgb), axis=1).tolist())
    return float(np.median(distances)) if distances else 0.0


def _screen_direction(o: ObjectTruth, truth: SceneTruth) -> str | None:
    """The 8-way direction (or still) of the object's on-screen travel, None if borderline."""
    xy = np.array(o.positions)  # (T, 2)
    k = np.arange(len(xy))
    slope = np.polyfit(k, xy, 1)[0] * (len(xy) - 1)  # (2,) travel over the clip
    side = min(truth.width, truth.height)
    length = float(np.hypot(*slope))
    if length < _STILL_BAND[0] * side:
        return "still"
    if length < _STILL_BAND[1] * side:
        return None
    angle = math.atan2(-slope[1], slope[0])  # counter-clockwise from +x with y up
    offset = (angle + math.pi / 8) % (math.pi / 4)  # 0 at a sector's edge
    if min(offset, math.pi / 4 - offset) < _SECTOR_MARGIN:
        return None
    unit = slope / length
    return max(DIRECTIONS, key=lambda name: float(np.dot(DIRECTIONS[name], unit)))


# --- scoring -------------------------------------------------------------------------------


@dataclass
class Tally:
    """Correct readings out of the clips where the fact is defined."""

    correct: int = 0
    total: int = 0

    def add(self, correct: bool | None) -> None:
        if correct is not None:
            self.total += 1
            self.correct += int(correct)

    @property
    def value(self) -> float:
        return self.correct / self.total if self.total else math.nan


@dataclass
class EventTally:
    """Events (bounces, impacts) pooled over clips: F1 of one-to-one matches in a tolerance."""

    matched: int = 0
    predicted: int = 0
    true: int = 0

    def add(self, predicted, true, tolerance_s: float) -> None:
        self.matched += onset_f1(predicted, true, tolerance_s).matched
        self.predicted += len(predicted)
        self.true += len(true)

    @property
    def value(self) -> float:
        total = self.predicted + self.true
        return 2 * self.matched / total if total else math.nan


def _same(expected, got) -> bool | None:
    return None if expected is None else expected == got


def _colour_set(t: TruthFacts, r: ClipReading) -> bool | None:
    """Every clear object's colour is found, and nothing whose colour no object has."""
    if not t.possible_colours:
        return None
    return set(t.colours) <= set(r.colours) <= set(t.possible_colours)


# Each fact: (truth, reading) -> correct, or None where the clip leaves the fact ill-defined.
FACTS: dict[str, Callable[[TruthFacts, ClipReading], bool | None]] = {
    "main colour": lambda t, r: _same(t.main_colour, r.main_colour),
    "colours (set)": _colour_set,
    "object count": lambda t, r: _same(t.count, r.object_count),
    "direction on screen": lambda t, r: _same(t.screen_direction, r.screen_direction),
    "direction on screen, moving objects": lambda t, r: _same(
        None if t.screen_direction == "still" else t.screen_direction, r.screen_direction
    ),
    "direction in scene": lambda t, r: _same(t.scene_direction, r.scene_direction),
    "camera": lambda t, r: _same(t.camera, r.camera.move),
}


@dataclass(frozen=True)
class CheckedClip:
    sample: WorldSample
    facts: TruthFacts


def checked_clips(seeds: Iterable[int], config: WorldConfig) -> list[CheckedClip]:
    clips = []
    for seed in seeds:
        sample = make_sample(seed, config)
        clips.append(CheckedClip(sample, truth_facts(sample, config)))
    return clips


def score(clips: list[CheckedClip], transform=None) -> tuple[dict, list[ClipReading]]:
    """Tallies of every fact in FACTS and of bounces, reading `transform(frames)` if given,
    and the readings themselves."""
    tallies: dict = {name: Tally() for name in FACTS}
    tallies["bounces"] = EventTally()
    readings = []
    for clip in clips:
        truth = clip.sample.truth
        frames = clip.sample.frames if transform is None else transform(clip.sample.frames)
        reading = read_clip(frames, truth.fps)
        readings.append(reading)
        for name, judge in FACTS.items():
            tallies[name].add(judge(clip.facts, reading))
        if clip.facts.bounces is not None:
            found = _within(reading.bounces, bounce_span(truth))
            tallies["bounces"].add(found, clip.facts.bounces, 1.0 / truth.fps)
    return tallies, readings


def _within(times, span: tuple[float, float]) -> tuple[float, ...]:
    return tuple(t for t in times if span[0] <= t <= span[1])


def audio_score(clips: list[CheckedClip], readings: list[ClipReading], transform=None) -> dict:
    """Impacts against the truth; impacts against the bounces `readings` found in the frames
    (sound-picture sync, as a generated pair is scored); tone pitch against object heights.
    Reads `transform(audio, sample_rate)` if given."""
    impacts, sync, pitch = EventTally(), EventTally(), Tally()
    for clip, reading in zip(clips, readings, strict=True):
        truth, audio = clip.sample.truth, clip.sample.audio
        if transform is not None:
            audio = transform(audio, truth.sample_rate)
        tolerance, span = 1.0 / truth.fps, bounce_span(truth)
        onsets = detect_onsets(audio, truth.sample_rate)
        impacts.add(onsets, impact_times(truth), tolerance)
        if clip.facts.bounces is not None:
            sync.add(_within(onsets, span), _within(reading.bounces, span), tolerance)
        times = np.arange(truth.num_frames) / truth.fps
        heard = dominant_pitch(audio, truth.sample_rate, times)
        check = pitch_agreement(heard, expected_tone_pitches(truth))
        pitch.correct, pitch.total = pitch.correct + check.matched, pitch.total + check.checked
    return {"impacts": impacts, "sync": sync, "pitch": pitch}


@dataclass(frozen=True)
class RoundTrip:
    """Media coded and decoded by a bundle's tokenizers (onnxruntime)."""

    frames: Callable[[np.ndarray], np.ndarray]
    audio: Callable[[np.ndarray, int], np.ndarray]


def tokenizer_round_trip(bundle_dir: str | None = None) -> RoundTrip:
    from reelpoet.sdk.bundle import load_bundle
    from reelpoet.sdk.pipeline import Pipeline

    pipeline = Pipeline.from_bundle(load_bundle(bundle_dir))
    video, audio = pipeline.video, pipeline.audio
    return RoundTrip(
        frames=lambda frames: video.decode(video.encode(frames)),
        audio=lambda samples, rate: audio.decode(audio.encode(samples, rate), len(samples)),
    )


def seam_cells(seeds: Iterable[int], transforms: list) -> list[str]:
    """Mean PSNR (dB) between frame 16 and frame 17 of 34-frame renders, the seam a
    continuation must match, for each transform of 17-frame clips (None: as rendered). Each
    half goes through a transform on its own, as an LM's continuation is decoded apart from
    its input, so through the tokenizers this is the seam a perfect LM would score."""
    world, values = WorldConfig(num_frames=34), [[] for _ in transforms]
    for seed in seeds:
        frames = make_sample(seed, world).frames
        for scores, transform in zip(values, transforms, strict=True):
            before, after = frames[:17], frames[17:]
            if transform is not None:
                before, after = transform(before), transform(after)
            scores.append(seam_psnr(before[-1], after[0]))
    finite = [[v for v in scores if math.isfinite(v)] for scores in values]
    return [f"{np.mean(v):.1f} dB" if v else "identical frames" for v in finite]


def table(count: int, first_seed: int = 0, round_trip: RoundTrip | None = None) -> str:
    """The markdown table of docs/lm_eval.md for `count` clips from `first_seed`; with
    `round_trip` (tokenizer_round_trip), a column for clips through a bundle's tokenizers."""
    clips = checked_clips(range(first_seed, first_seed + count), WorldConfig())
    columns = [score(clips), score(clips, degrade)]
    header = "| fact | defined on | rendered | blurred + quantised |"
    if round_trip is not None:
        columns.append(score(clips, round_trip.frames))
        header += " through the tokenizers |"
    (clean, readings), tallies = columns[0], [tally for tally, _ in columns]
    lines = [header, "|---" * (header.count("|") - 1) + "|"]
    for name in FACTS:
        cells = " | ".join(f"{t[name].value:.1%}" for t in tallies)
        lines.append(f"| {name} | {clean[name].total} clips | {cells} |")
    cells = " | ".join(f"{t['bounces'].value:.1%}" for t in tallies)
    lines.append(f"| bounces in frames (F1, 1/8 s) | {clean['bounces'].true} bounces | {cells} |")
    audio = audio_score(clips, readings)
    coded = None if round_trip is None else audio_score(clips, readings, round_trip.audio)
    for name, key, unit in (
        ("impacts in audio (F1, 1/8 s)", "impacts", "impacts"),
        ("audio impacts vs frame bounces (F1, 1/8 s)", "sync", "bounces"),
        ("tone pitch within a semitone", "pitch", "frames"),
    ):
        scored = audio[key].total if key == "pitch" else audio[key].true
        cells = [f"{audio[key].value:.1%}", ""]  # sound is not blurred
        if coded is not None:  # the tokenizer's sound against the frames as rendered
            cells.append(f"{coded[key].value:.1%}")
        lines.append(f"| {name} | {scored} {unit} | {' | '.join(cells)} |")
    transforms = [None, degrade] + ([] if round_trip is None else [round_trip.frames])
    cells = " | ".join(seam_cells(range(first_seed, first_seed + count), transforms))
    lines.append(f"| continuation seam (PSNR, frames 16 / 17) | {count} clips | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Accuracy of the world detectors on truth.")
    parser.add_argument("--count", type=int, default=256, help="clips (seeds) to read")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--bundle",
        nargs="?",
        const="",
        help="also read clips through this bundle's video tokenizer (no DIR: the default)",
    )
    args = parser.parse_args(argv)
    round_trip = None if args.bundle is None else tokenizer_round_trip(args.bundle or None)
    print(table(args.count, args.first_seed, round_trip))


if __name__ == "__main__":
    main()
