"""Read the procedural world's facts back from frames: colours, motion, camera, seams, drift.

A video LM is scored on what its decoded frames show, not on its tokens, so every reading here
takes pixels only: (T, H, W, 3) float32 in [0, 1] (uint8 is accepted too), 8 fps, and tolerates
the blur of a lossy video tokenizer (tested with a Gaussian of sigma 1.5 px and 32-level colours).

- Objects are blobs of the world's eight object colours (`vocabulary.COLOURS`). A blob starts at
  pixels whose nearest colour, among the object colours and the twelve muted background tones,
  is an object colour within `_MAX_COLOUR_DISTANCE`, and takes in the touching pixels within
  that distance. Blobs too small, too large or too ragged for a world shape, or whose innermost
  pixels are not the flat colour itself (photo regions), are dropped, and so is a colour never
  seen wholly inside the frame. The main object is the colour with the most blob area.
- The camera is a similarity (zoom about the frame's centre plus a shift) fitted to the
  background from frame 0 to every later frame by Lucas-Kanade with robust weights, object blobs
  masked out, each frame starting from the last one's estimate (so periodic textures cannot
  alias a 15-pixel pan into a short one the other way). A fit that does not explain the frames
  clearly better than standing still is dropped (noise on a featureless background).
- Directions are `vocabulary.DIRECTIONS` names, y down on screen, of a straight-line fit to the
  main object's centre: on screen, and with the camera undone (relative to the background, the
  captions' sense). Bounces are turns of any object's track with the camera undone.
- Camera words follow the captions: a pan *right* moves the camera right, so the picture slides
  left on screen; *zoom_in* magnifies.

Which clips define which fact, and the measured accuracy: `detector_check`, docs/lm_eval.md.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from reelpoet.models.world.vocabulary import BACKGROUND_COLOURS, COLOURS, DIRECTIONS
from reelpoet.sdk.errors import InvalidRequestError

_OBJECT_NAMES: tuple[str, ...] = tuple(COLOURS)
_OBJECT_RGB = np.array(list(COLOURS.values()), np.float32) / 255.0  # (8, 3)
_TONE_RGB = np.array(list(BACKGROUND_COLOURS.values()), np.float32) / 255.0  # (12, 3)

# Within 0.3 (77 of 255) of an object colour: the centre of a 6-pixel star blurred with
# sigma 1.5 keeps about 80% of its colour, i.e. stays within 0.2 when the background is 130 away.
_MAX_COLOUR_DISTANCE = 0.3
# Blob limits as fractions of min(H, W): the smallest object (radius 0.09) is a triangle of about
# 1.3 r^2 = 0.01 S^2; half of that may be cut by an edge or by blur. The largest (0.16 at zoom
# 1.5) spans 0.48 S, so a blob wider than 0.6 S is background.
_MIN_AREA = 0.0015
_MAX_SPAN = 0.6
_MIN_FILL = 0.25  # blob area / bounding-box area: a star fills 0.41, a stripe across the view less
_SEEN_FRACTION = 0.3  # of frames a colour must show in to count as an object of the clip

# Thresholds on the whole clip's motion, as fractions of min(H, W). The world's moves cover at
# least ~0.3 S, pans 0.15 S and zooms x1.25, so half of each separates them from jitter.
_STILL_FRACTION = 0.08
_PAN_FRACTION = 0.07
_ZOOM_LOG = math.log(1.1)
# A bouncing object travels 0.8-1.4 S over the clip (>= 0.035 S a frame per axis at 45
# degrees). Over half of that on each side of a turn: centroid jitter and what is left of a
# pan after undoing it stay below (0.012 let through 2-3% more false turns on 512 clips).
_BOUNCE_SPEED = 0.02
_NO_POINT = (math.nan, math.nan)  # comparisons with NaN are False: a gap never turns

_LK_WORK_SIDE = 32  # the camera is fitted on frames box-averaged down to about this side
_LK_BLUR = 0.7  # work pixels: smooths hard texture edges so the linearisation holds over ~2 px
_LK_ITERATIONS = 6
_LK_RIDGE = 2e-4  # per pixel-channel: motions the background cannot show (a plain one) stay 0
_LK_ROBUST = 0.08  # residual scale of the Cauchy weights: objects and photo detail weigh less
_MOTION_EVIDENCE = 0.8  # a camera move must leave under 80% of the difference standing still does


@dataclass(frozen=True)
class Blob:
    colour: str  # a vocabulary.COLOURS name
    area: int  # pixels
    centre: tuple[float, float]  # (x, y) screen pixels, (0, 0) the top-left corner like the truth
    touches_edge: bool  # cut by the frame edge: its centre lags toward the inside


@dataclass(frozen=True)
class CameraTrack:
    """Per frame, the similarity mapping frame-0 screen points p to frame k: s (p - c) + c + d."""

    scales: tuple[float, ...]  # (T,) 1 at frame 0; > 1 when the picture grows (zoom in)
    shifts: tuple[tuple[float, float], ...]  # (T,) pixels the picture moved, (dx, dy), y down
    move: str  # a vocabulary.CAMERA_MOVES name

    def to_first_frame(self, k: int, point: tuple[float, float], size) -> tuple[float, float]:
        """A frame-k screen point where it lies in frame 0's picture (the camera undone)."""
        cx, cy = size[1] / 2, size[0] / 2
        (dx, dy), s = self.shifts[k], self.scales[k]
        return ((point[0] - cx - dx) / s + cx, (point[1] - cy - dy) / s + cy)


@dataclass(frozen=True)
class ClipReading:
    """What the frames show. Directions are "" when the main object is not found."""

    main_colour: str | None  # colour with the most blob area over the clip
    colours: tuple[str, ...]  # colours seen on >= 30% of frames, most area first
    object_count: int  # median over frames of the number of the clip's objects' blobs
    screen_direction: str  # the main object's travel relative to the frame, or "still"
    scene_direction: str  # ... relative to the background (camera undone): what captions say
    camera: CameraTrack
    track: tuple[tuple[float, float] | None, ...]  # main object's centre per frame
    bounces: tuple[float, ...]  # seconds: where an object's motion turns back (camera undone)


@dataclass(frozen=True)
class SeamReading:
    seam_db: float  # PSNR between the last frame before the seam and the first after
    inner_db: float  # median PSNR of neighbouring frames inside the two clips

    @property
    def jump_db(self) -> float:
        """How much worse the seam is than an ordinary frame step (<= ~0 for a clean seam)."""
        return self.inner_db - self.seam_db


@dataclass(frozen=True)
class WindowReading:
    start: int  # first frame of the window
    main_colour: str | None
    object_count: int


@dataclass(frozen=True)
class DriftReport:
    windows: tuple[WindowReading, ...]
    colour_agreement: float  # fraction of windows whose main colour is the first window's
    count_range: int  # largest minus smallest object count over the windows

    @property
    def drifted(self) -> bool:
        return self.colour_agreement < 1.0 or self.count_range > 0


def read_clip(frames: np.ndarray, fps: int = 8) -> ClipReading:
    """Colours, object count, the main object's direction, bounces and the camera of one clip."""
    clip = as_clip(frames)
    blobs = clip_blobs(clip)
    colours = _clip_colours(blobs)
    main = colours[0] if colours else None
    objects = _keep_colours(blobs, colours)
    camera = detect_camera(clip, blobs)
    size, side = clip.shape[1:3], min(clip.shape[1:3])
    track = _colour_track(objects, main)
    screen = _direction(_fit_displacement(track, len(clip)), side)
    scene = _direction(_fit_displacement(_undo_camera(track, camera, size), len(clip)), side)
    bounces = sorted(
        t / fps
        for colour in colours
        for t in _turns(_undo_camera(_colour_track(objects, colour), camera, size), side)
    )
    count = int(np.median([len(b) for b in objects]))
    return ClipReading(
        main, colours, count, screen, scene, camera, tuple(_centres(track)), tuple(bounces)
    )


def as_clip(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) float32 in [0, 1] from float or uint8 frames; one (H, W, 3) frame is T = 1."""
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3 or min(array.shape[:3]) < 1:
        raise InvalidRequestError(f"frames must be (T, H, W, 3) RGB, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise InvalidRequestError("frames must be uint8 or finite floats in [0, 1]")
    return np.clip(array, 0.0, 1.0).astype(np.float32)


# --- objects -------------------------------------------------------------------------------


def find_blobs(frame: np.ndarray) -> tuple[Blob, ...]:
    """Blobs of object colours in one (H, W, 3) frame, largest first."""
    return clip_blobs(frame)[0]


def clip_blobs(frames: np.ndarray) -> list[tuple[Blob, ...]]:
    """Per frame, the blobs of object colours, largest first."""
    clip = as_clip(frames)
    seeds, reach = _colour_labels(clip)  # (T, H, W) each: object colour index, -1 elsewhere
    in_frame = np.zeros((3, 3, 3), bool)
    in_frame[1] = ndimage.generate_binary_structure(2, 1)  # never joins pixels across frames
    blobs: list[list[Blob]] = [[] for _ in clip]
    for index in range(len(_OBJECT_NAMES)):
        # Hysteresis: pixels nearer the colour than any background tone start a blob, which
        # then takes in the touching pixels near the colour. A blurred white shape on teal has
        # a rim closer to the lavender tone than to white; without this it shrinks or vanishes.
        grown = ndimage.binary_propagation(seeds == index, structure=in_frame, mask=reach == index)
        components, _ = ndimage.label(grown, structure=in_frame)
        for number, slices in enumerate(ndimage.find_objects(components), start=1):
            k, rows, cols = slices
            mask = components[k.start, rows, cols] == number
            blob = _blob(mask, (rows, cols), index, clip[k.start])
            if blob is not None:
                blobs[k.start].append(blob)
    return [tuple(sorted(b, key=lambda b: -b.area)) for b in blobs]


def _colour_labels(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, (the object colour it is nearest among object colours and background tones,
    the object colour within _MAX_COLOUR_DISTANCE ignoring tones), -1 where there is none."""
    levels = np.rint(clip * (_LUT_LEVELS - 1)).astype(np.intp)  # (T, H, W, 3)
    strict, loose = _label_tables()
    at = (levels[..., 0], levels[..., 1], levels[..., 2])
    return strict[at], loose[at]


# Colours are looked up in a table over a 64-level cube: 1/126 of the range at most from the
# exact colour, far below the 0.3 radius, and a table lookup instead of 20 distances a pixel.
_LUT_LEVELS = 64


@functools.cache
def _label_tables() -> tuple[np.ndarray, np.ndarray]:
    """(L, L, L) int8 tables of the two labels of `_colour_labels` over the colour cube."""
    axis = np.linspace(0.0, 1.0, _LUT_LEVELS, dtype=np.float32)
    cube = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    palette = np.concatenate([_OBJECT_RGB, _TONE_RGB])  # (20, 3): objects, then tones
    squared = (cube**2).sum(1)[:, None] - 2.0 * cube @ palette.T + (palette**2).sum(1)
    objects = len(_OBJECT_RGB)
    tables = []
    for candidates in (squared, squared[:, :objects]):
        nearest = candidates.argmin(axis=1)  # (L^3,)
        keep = (candidates.min(axis=1) < _MAX_COLOUR_DISTANCE**2) & (nearest < objects)
        table = np.where(keep, nearest, -1).astype(np.int8)
        tables.append(table.reshape(_LUT_LEVELS, _LUT_LEVELS, _LUT_LEVELS))
    return tables[0], tables[1]


def _blob(mask: np.ndarray, slices, index: int, image: np.ndarray) -> Blob | None:
    """A Blob for one connected component (mask cropped to its box), or None if implausible."""
    height, width = image.shape[:2]
    side = min(height, width)
    area = int(mask.sum())
    rows, cols = slices
    box_h, box_w = rows.stop - rows.start, cols.stop - cols.start
    if area < _MIN_AREA * side * side or max(box_h, box_w) > _MAX_SPAN * side:
        return None
    if area < _MIN_FILL * box_h * box_w or not _flat_core(mask, image[slices], index):
        return None
    ys, xs = np.nonzero(mask)
    centre = (float(xs.mean() + cols.start + 0.5), float(ys.mean() + rows.start + 0.5))
    return Blob(_OBJECT_NAMES[index], area, centre, _cut_by_edge(mask, slices, image.shape))


def _cut_by_edge(mask: np.ndarray, slices, shape) -> bool:
    """Whether the frame edge cuts the blob along a chord of at least half its width.

    A shape merely grazing the edge (a bouncing circle at its wall) is not cut: its centre is
    still where the pixels say.
    """
    rows, cols = slices
    border = 0
    border += int(mask[0].sum()) if rows.start == 0 else 0
    border += int(mask[-1].sum()) if rows.stop == shape[0] else 0
    border += int(mask[:, 0].sum()) if cols.start == 0 else 0
    border += int(mask[:, -1].sum()) if cols.stop == shape[1] else 0
    return border >= 0.5 * math.sqrt(mask.sum())


def _flat_core(mask: np.ndarray, crop: np.ndarray, index: int) -> bool:
    """Whether the blob's innermost pixels have the object colour itself, as a flat shape's do.

    Photographs hold regions near an object colour (a red saucer, orange coffee) but not on it.
    Measured on 160 clips, rendered and blurred: a shape's innermost pixels lie within 0.11 of
    its colour when they are under 2.5 px from its edge (blur reaches the centre), 0.09 under
    3.5 px and 0.035 beyond; the median photo region is 0.16 away.
    """
    inset = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]  # pixels to the edge
    depth = float(inset.max())
    core = inset >= depth - 0.5
    distance = float(np.median(np.linalg.norm(crop[core] - _OBJECT_RGB[index], axis=-1)))
    limit = 0.13 if depth < 2.5 else 0.10 if depth < 3.5 else 0.05
    return distance <= limit


def _clip_colours(blobs: list[tuple[Blob, ...]]) -> tuple[str, ...]:
    """Colours of the clip's objects, ordered by their total blob area (the main one first).

    A colour counts when it shows on enough frames and, on at least one, wholly inside the
    frame: every world object is, at some time (entering ones end inside, leaving ones start
    there), while a dark or white patch of a photograph cut by the frame edge never is.
    """
    area = dict.fromkeys(_OBJECT_NAMES, 0)
    frames_seen = dict.fromkeys(_OBJECT_NAMES, 0)
    inside = set()
    for frame_blobs in blobs:
        for name in {b.colour for b in frame_blobs}:
            frames_seen[name] += 1
            area[name] += max(b.area for b in frame_blobs if b.colour == name)
        inside.update(b.colour for b in frame_blobs if not b.touches_edge)
    seen = [n for n in inside if frames_seen[n] >= _SEEN_FRACTION * len(blobs)]
    return tuple(sorted(seen, key=lambda n: -area[n]))


def _keep_colours(blobs: list[tuple[Blob, ...]], colours) -> list[tuple[Blob, ...]]:
    return [tuple(b for b in frame_blobs if b.colour in colours) for frame_blobs in blobs]


def _colour_track(blobs: list[tuple[Blob, ...]], colour: str | None) -> list[Blob | None]:
    """Per frame, the largest blob of a colour (None where it is not found)."""
    track = []
    for frame_blobs in blobs:
        mine = [b for b in frame_blobs if b.colour == colour]
        track.append(mine[0] if mine else None)
    return track


def _centres(track: list) -> list[tuple[float, float] | None]:
    return [None if b is None else b.centre for b in track]


# --- motion --------------------------------------------------------------------------------


def _fit_displacement(track: list, num_frames: int) -> tuple[float, float] | None:
    """Straight-line fit of the centre over the clip: (dx, dy) from first to last frame.

    Frames where the blob is cut by the frame edge are left out when enough others remain: the
    visible part's centre lags behind the object's.
    """
    found = [(k, b) for k, b in enumerate(track) if b is not None]
    whole = [(k, b) for k, b in found if not b.touches_edge]
    use = whole if len(whole) >= max(3, len(found) // 2) else found
    if len(use) < 2:
        return None
    k = np.array([i for i, _ in use], np.float64)
    xy = np.array([b.centre for _, b in use], np.float64)  # (n, 2)
    slope = np.polyfit(k, xy, 1)[0]  # (2,) pixels a frame
    return (float(slope[0] * (num_frames - 1)), float(slope[1] * (num_frames - 1)))


def _direction(displacement: tuple[float, float] | None, side: int) -> str:
    """The DIRECTIONS name nearest a displacement (45-degree sectors), "still", or ""."""
    if displacement is None:
        return ""
    length = math.hypot(*displacement)
    if length < _STILL_FRACTION * side:
        return "still"
    unit = np.array(displacement) / length
    return max(DIRECTIONS, key=lambda name: float(np.dot(DIRECTIONS[name], unit)))


def _undo_camera(track: list, camera: CameraTrack, size) -> list[Blob | None]:
    """The track with each centre moved back into frame 0's picture."""
    out = []
    for k, blob in enumerate(track):
        if blob is None:
            out.append(None)
            continue
        centre = camera.to_first_frame(k, blob.centre, size)
        out.append(Blob(blob.colour, blob.area, centre, blob.touches_edge))
    return out


def _turns(track: list, side: int) -> list[float]:
    """Fractional frame times where the track's x or y motion reverses: its bounces.

    A bounce between frames j and j + 1 leaves the segment across it short or either way, so
    the segments before and after it (j - 1 and j + 1) must move clearly and oppositely; the
    turn is where their two lines meet. Turns within a frame of each other (a corner, or one
    turn seen twice) count once.
    """
    points = np.array([_NO_POINT if b is None or b.touches_edge else b.centre for b in track])
    steps = np.diff(points, axis=0)  # (T - 1, 2) motion over each segment
    fast = _BOUNCE_SPEED * side
    times = []
    for j in range(1, len(steps) - 1):
        before, after = steps[j - 1], steps[j + 1]
        turned = (np.abs(before) >= fast) & (np.abs(after) >= fast) & (before * after < 0)
        for axis in np.flatnonzero(turned):
            a, b = before[axis], after[axis]
            start, end = points[j - 1, axis], points[j + 1, axis]
            t = (end - b * (j + 1) - start + a * (j - 1)) / (a - b)
            times.append(float(np.clip(t, j - 1, j + 2)))
    merged: list[list[float]] = []
    for t in sorted(times):
        if merged and t - merged[-1][-1] <= 1.0:
            merged[-1].append(t)
        else:
            merged.append([t])
    return [float(np.mean(group)) for group in merged]


# --- camera --------------------------------------------------------------------------------


def detect_camera(frames: np.ndarray, blobs: list | None = None) -> CameraTrack:
    """The camera move from the background's motion; `blobs` (per frame) are masked out."""
    clip = as_clip(frames)
    if blobs is None:
        blobs = clip_blobs(clip)
    factor = max(1, min(clip.shape[1:3]) // _LK_WORK_SIDE)
    work = _work_frames(clip, factor)  # (T, h, w, 3)
    masks = _object_masks(blobs, clip.shape[1:3], factor)  # (T, h, w) True on objects
    history = [(1.0, np.zeros(2))]  # (scale, shift in work pixels) per frame
    for k in range(1, len(work)):
        # Start from the last frame's fit: the residual is one frame's motion (under 2 px), and
        # no extrapolation that could run away along a direction the background cannot show.
        history.append(_fit_similarity(work[0], work[k], masks[0], masks[k], *history[-1]))
    if not _fits_better(work, masks, history):
        history = [(1.0, np.zeros(2))] * len(work)  # the background shows no motion at all
    scales = [s for s, _ in history]
    shifts = [(float(d[0] * factor), float(d[1] * factor)) for _, d in history]
    side = min(clip.shape[1:3])
    move = _camera_move(scales[-1], shifts[-1], side)
    return CameraTrack(tuple(scales), tuple(shifts), move)


def _fits_better(work: np.ndarray, masks: np.ndarray, history: list) -> bool:
    """Whether the fitted motion explains the frames clearly better than no motion does.

    On a featureless background (plain, or a flat part of a photo) frame noise alone lets the
    fit wander; a real move leaves far less difference than standing still. Several frames are
    compared, as a periodic texture can look unmoved after a pan of a whole period.
    """
    moved = still = 0.0
    for k in sorted({len(work) // 4, len(work) // 2, 3 * len(work) // 4, len(work) - 1} - {0}):
        moved += _difference(work[0], work[k], masks[0], masks[k], *history[k])
        still += _difference(work[0], work[k], masks[0], masks[k], 1.0, np.zeros(2))
    return moved < _MOTION_EVIDENCE * still


def _difference(first, target, first_mask, target_mask, scale: float, shift) -> float:
    """Median colour difference (L1) between `target` and `first` moved by the similarity."""
    warped, valid = _warp(first, first_mask, scale, shift)
    keep = ndimage.binary_erosion(valid & ~target_mask, iterations=1)
    if keep.sum() < 16:
        return math.inf
    return float(np.median(np.abs(warped - target).sum(axis=-1)[keep]))


def _camera_move(scale: float, shift: tuple[float, float], side: int) -> str:
    """The caption's word for the clip's total picture motion."""
    if abs(math.log(scale)) >= _ZOOM_LOG:
        return "zoom_in" if scale > 1.0 else "zoom_out"
    dx, dy = shift
    if math.hypot(dx, dy) < _PAN_FRACTION * side:
        return "static"
    # The picture slides opposite to the camera: content moving left means a pan right.
    if abs(dx) >= abs(dy):
        return "pan_right" if dx < 0 else "pan_left"
    return "pan_down" if dy < 0 else "pan_up"


def _work_frames(clip: np.ndarray, factor: int) -> np.ndarray:
    """Box-averaged by `factor` and lightly blurred: (T, H // factor, W // factor, 3)."""
    t, h, w, _ = clip.shape
    h2, w2 = h // factor, w // factor
    small = clip[:, : h2 * factor, : w2 * factor].reshape(t, h2, factor, w2, factor, 3)
    small = small.mean(axis=(2, 4))
    return ndimage.gaussian_filter(small, sigma=(0, _LK_BLUR, _LK_BLUR, 0))


def _object_masks(blobs: list, size, factor: int) -> np.ndarray:
    """(T, h, w) True near detected objects (dilated: blurred edges carry their motion too)."""
    h, w = size[0] // factor, size[1] // factor
    masks = np.zeros((len(blobs), h, w), bool)
    for k, frame_blobs in enumerate(blobs):
        for blob in frame_blobs:
            # Beyond the blob's own edge by 1.3 radii plus the blur's reach (3 sigma at 1.5 px).
            reach = (1.3 * math.sqrt(blob.area / math.pi) + 4.5) / factor
            ys, xs = np.ogrid[:h, :w]
            cx, cy = blob.centre[0] / factor, blob.centre[1] / factor
            masks[k] |= (xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= reach * reach
    return masks


def _fit_similarity(first, target, first_mask, target_mask, scale, shift):
    """Refine (scale, shift) so that `first` warped by it matches `target` (Lucas-Kanade)."""
    shift = np.asarray(shift, np.float64).copy()
    for _ in range(_LK_ITERATIONS):
        warped, valid = _warp(first, first_mask, scale, shift)
        # Eroded: a gradient beside the view's edge or a mask reads clamped pixels, which would
        # show motion along stripes or a gradient that the picture itself does not.
        weights = ndimage.binary_erosion(valid & ~target_mask, iterations=1)
        step = _lk_step(warped, target, weights)
        if step is None:
            break
        grow = 1.0 + step[2] / (min(first.shape[:2]) / 2)
        scale, shift = scale * grow, shift * grow + step[:2]
        if np.abs(step).max() < 0.01:  # a hundredth of a work pixel: nothing left to gain
            break
    return float(scale), shift


def _warp(image, mask, scale: float, shift: np.ndarray):
    """`image` (h, w, 3) seen after the similarity, and where that view is valid and free of
    the source's objects: ((h, w, 3), (h, w) bool)."""
    h, w = image.shape[:2]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    src_x = (cols + 0.5 - w / 2 - shift[0]) / scale + w / 2 - 0.5
    src_y = (rows + 0.5 - h / 2 - shift[1]) / scale + h / 2 - 0.5
    coords = [src_y, src_x]
    warped = np.stack(
        [ndimage.map_coordinates(image[..., c], coords, order=1, mode="nearest") for c in range(3)],
        axis=-1,
    )
    inside = (src_x >= 0) & (src_x <= w - 1) & (src_y >= 0) & (src_y <= h - 1)
    hidden = ndimage.map_coordinates(mask.astype(np.float32), coords, order=0, mode="nearest")
    return warped, inside & (hidden < 0.5)


def _lk_step(warped, target, weights) -> np.ndarray | None:
    """One Gauss-Newton step (dx, dy, r): shift in pixels and growth r pixels at half the side.

    target(x) ~ warped(x - u(x)) with u = (dx, dy) + r (x - c) / (side / 2), linearised.
    """
    if weights.sum() < 16:
        return None
    h, w = warped.shape[:2]
    gy, gx = np.gradient(warped, axis=(0, 1))  # (h, w, 3) each
    half = min(h, w) / 2
    ys = (np.arange(h) + 0.5 - h / 2)[:, None, None] / half
    xs = (np.arange(w) + 0.5 - w / 2)[None, :, None] / half
    jac = np.stack([gx, gy, gx * xs + gy * ys], axis=-1)[weights]  # (n, 3 channels, 3)
    residual = (warped - target)[weights]  # (n, 3)
    robust = 1.0 / (1.0 + (np.linalg.norm(residual, axis=1) / _LK_ROBUST) ** 2)  # (n,)
    jac = jac.reshape(-1, 3)
    wt = np.repeat(robust, 3)
    normal = (jac * wt[:, None]).T @ jac + _LK_RIDGE * len(wt) * np.eye(3)
    return np.linalg.solve(normal, (jac * wt[:, None]).T @ residual.reshape(-1))


# --- seams and drift -----------------------------------------------------------------------


def seam_psnr(before: np.ndarray, after: np.ndarray) -> float:
    """PSNR in dB (peak 1.0) between two (H, W, 3) frames; inf when they are identical."""
    a, b = as_clip(before), as_clip(after)
    if a.shape != b.shape:
        raise InvalidRequestError(f"frames differ in shape: {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def seam_reading(before: np.ndarray, after: np.ndarray) -> SeamReading:
    """The seam between two clips against the ordinary frame-to-frame change inside them."""
    a, b = as_clip(before), as_clip(after)
    inner = [seam_psnr(c[k], c[k + 1]) for c in (a, b) for k in range(len(c) - 1)]
    inner_db = float(np.median(inner)) if inner else math.inf
    return SeamReading(seam_psnr(a[-1], b[0]), inner_db)


def drift(frames: np.ndarray, window: int = 17, stride: int = 16) -> DriftReport:
    """Main colour and object count per `window`-frame window of a long video.

    Windows start every `stride` frames (16: each continuation shares one frame with the last
    window) and a last window is added flush with the end, so every frame is read.
    """
    clip = as_clip(frames)
    if window < 1 or stride < 1:
        raise InvalidRequestError("window and stride must be positive frame counts")
    starts = list(range(0, max(len(clip) - window, 0) + 1, stride))
    if starts[-1] + window < len(clip):
        starts.append(len(clip) - window)
    windows = tuple(_read_window(clip[s : s + window], s) for s in starts)
    first = windows[0].main_colour
    agreement = float(np.mean([w.main_colour == first for w in windows]))
    counts = [w.object_count for w in windows]
    return DriftReport(windows, agreement, max(counts) - min(counts))


def _read_window(clip: np.ndarray, start: int) -> WindowReading:
    blobs = clip_blobs(clip)
    colours = _clip_colours(blobs)
    count = int(np.median([len(b) for b in _keep_colours(blobs, colours)]))
    return WindowReading(start, colours[0] if colours else None, count)
