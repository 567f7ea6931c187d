"""The panel's actions without Qt: Extend, Inpaint, Outpaint, Stylize, Score and Generate on a
clip or gap of a ``TimelineDocument``, in three steps so the slow one can run off the UI thread:

    job = prepare(document, request)        # UI thread: reads the timeline, checks the media
    rendered = render(job, client, ...)     # any thread: Client calls, files in the media folder
    ref = place(document, rendered)         # UI thread: one undoable edit

``run_action`` does all three (the CLI and tests use it). Results are written at the clip's
rate and its media's size (the Client conforms to the source; ``generate`` takes the size of the
clip before the gap, else the one after it), as H.264 .mp4 or ProRes .mov, and each variant
carries its provenance.

Generate fills a gap from both sides (``_fill_gap``): the model has no task conditioned on two
frames, so the first part continues the clip before the gap (a tail extension), the second
leads into the clip after it (a head extension of that clip), and a short crossfade joins them;
with one neighbour only, that one makes it all.

Running an action on a clip that the same action generated adds variants to that clip (new
seeds, made from the recorded source and options) instead of a new clip.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio

from reelpoet.editor_plugin import edits, media_paths, provenance
from reelpoet.editor_plugin.edits import ItemRef
from reelpoet.editor_plugin.errors import OfflineMediaError, PlacementError
from reelpoet.editor_plugin.timeline_document import TimelineDocument
from reelpoet.sdk.client import MAX_SECONDS, Result
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import Clip, conform, probe, read_video

TASKS = ("extend", "inpaint", "outpaint", "stylize", "score", "generate")
MAX_VARIANTS = 8  # each variant is a full generation; more is a batch job, not a panel click
CONTEXT_SECONDS = 2.125  # a gap's neighbour is read this far from the gap: one model clip, all
# that an extension conditions on
CROSSFADE_SECONDS = 0.25  # where a gap's two halves meet: 2 model frames, long enough to hide
# the seam, short enough that neither half shows through the other for long
# The options each task's provenance keeps (what regenerating it needs besides prompt and seed).
_OPTIONS = {
    "extend": ("seconds", "head", "new_track"),
    "inpaint": ("box", "mask"),  # mask: None for a rectangle, else provenance.mask_runs
    "outpaint": ("aspect",),
    "stylize": (),
    "score": (),
    "generate": ("image",),
}


@dataclass(frozen=True)
class ActionRequest:
    task: str
    target: ItemRef  # the clip (or, for generate, the gap) the action works on
    prompt: str = ""
    seconds: float = 2.0  # extend
    head: bool = False  # extend before the clip instead of after it
    new_track: bool = False  # extend onto a track above instead of inserting
    box: tuple[int, int, int, int] | None = None  # inpaint, source pixels (x0, y0, x1, y1)
    # inpaint: (H, W) bool painted on a frame of the clip's media (True: regenerate); sent as
    # it is (a box when it fills one), resized to the media's size if painted at another
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)
    aspect: float = 16 / 9  # outpaint: target width / height
    image: str | None = None  # generate: a picture to start from, not the clip before the gap
    variants: int = 1  # results with seeds seed, seed + 1, ...
    seed: int = 0
    prores: bool = False  # .mov ProRes 422 instead of .mp4 H.264


@dataclass(frozen=True)
class Job:
    """All a worker thread needs, resolved from the timeline on the UI thread."""

    request: ActionRequest
    gen_id: str
    fingerprint: str  # the target as it was: placing checks it is still there
    name: str  # the target clip's name (or the gap's neighbour's)
    source: tuple[Path, float, float] | None  # media file, [start, end) seconds in it
    source_record: dict | None
    rate: Fraction  # the clip's (timeline's) rate: results are written at it
    size: tuple[int, int] | None  # generate: (width, height) of the clip before the gap
    out_dir: Path
    seeds: tuple[int, ...]  # one variant each
    # inpaint: a box, or an (H, W) bool mask at the source media's size
    region: tuple[int, int, int, int] | np.ndarray | None = field(default=None, compare=False)
    adds_variants: bool = False  # the target is a clip this action made: add to its variants
    after: tuple[Path, float, float] | None = None  # generate: the clip after the gap's media


@dataclass(frozen=True)
class Rendered:
    job: Job
    files: list[tuple[Path, dict]] = field(default_factory=list)  # per variant: file, record
    frames: int = 0  # length of every variant at job.rate


def prepare(document: TimelineDocument, request: ActionRequest) -> Job:
    """Check the request against the timeline and resolve its source; raises before any work."""
    _check(request)
    item = request.target.item(document.timeline)
    record = provenance.of(item) if isinstance(item, otio.schema.Clip) else None
    if record is not None and record.get("action") == request.task:
        return _prepare_variants(document, request, item, record)
    if request.task == "generate":
        return _prepare_gap(document, request, item)
    if not isinstance(item, otio.schema.Clip):
        raise InvalidRequestError(f"{request.task} works on a clip; select one")
    path = media_paths.clip_media_path(item, document.base_dir)
    if path is None:
        status = media_paths.media_status(item, document.base_dir)
        raise OfflineMediaError(f"{item.name!r}: its media is {status}; relink it first")
    span = item.trimmed_range()
    seconds = media_seconds(item, span)
    return Job(
        request,
        provenance.new_id(),
        edits.fingerprint(item),
        item.name,
        (path, *seconds),
        provenance.source_record(item, item.media_reference.target_url, seconds),
        _rate(span.duration.rate),
        None,
        document.media_folder,
        _seeds(request.seed, request.variants),
        _inpaint_region(request, path) if request.task == "inpaint" else None,
    )


def _prepare_gap(document, request, gap) -> Job:
    if not isinstance(gap, otio.schema.Gap):
        raise InvalidRequestError("generate fills a gap; select one")
    seconds = gap.duration().to_seconds()
    if seconds > MAX_SECONDS:
        raise InvalidRequestError(
            f"the gap is {seconds:.3g} s; generate fills at most {MAX_SECONDS:g} s: put a clip "
            "in it and fill the parts"
        )
    track, index = document.timeline.tracks[request.target.track], request.target.index
    sides = [_gap_side(document, track, index - 1, True), _gap_side(document, track, index + 1)]
    before, after = (side[1] if side else None for side in sides)
    near = next((side[0] for side in sides if side), None)
    return Job(
        request,
        provenance.new_id(),
        edits.fingerprint(gap),
        near.name if near is not None else "gap",
        before,
        _gap_record(sides, seconds, round(gap.duration().value)),
        _rate(gap.duration().rate),
        _media_size((before or after)[0]) if near is not None else None,
        document.media_folder,
        _seeds(request.seed, request.variants),
        after=after,
    )


def _gap_side(document, track, index: int, tail: bool = False):
    """The clip at ``index`` beside a gap and the media next to the gap (the last, ``tail``,
    or first CONTEXT_SECONDS of it) as (clip, (path, start, end)); None when there is no
    clip there or its media is offline (then the other side, or the prompt, makes it all)."""
    clip = track[index] if 0 <= index < len(track) else None
    if not isinstance(clip, otio.schema.Clip):
        return None
    path = media_paths.clip_media_path(clip, document.base_dir)
    if path is None:
        return None
    start, end = media_seconds(clip, clip.trimmed_range())
    near = (
        (max(start, end - CONTEXT_SECONDS), end)
        if tail
        else (start, min(end, start + CONTEXT_SECONDS))
    )
    return clip, (path, *near)


def _gap_record(sides, seconds: float, frames: int) -> dict:
    """A gap's source: the clips on both sides (None where there is none) and what was read."""
    records = [
        provenance.source_record(side[0], side[0].media_reference.target_url, side[1][1:])
        if side
        else None
        for side in sides
    ]
    return {"before": records[0], "after": records[1], "gap_seconds": seconds, "gap_frames": frames}


def _prepare_variants(document, request, clip, record: dict) -> Job:
    """More variants of a generated clip: the action again on the source and with the options
    its record names (so every variant fits the clip), the request's prompt, and seeds from
    the request's on that the clip has no variant of yet."""
    source = record.get("source") or {}
    options = record.get("options") or {}
    request = dataclasses.replace(
        request, **{k: tuple(v) if k == "box" else v for k, v in options.items() if k != "mask"}
    )
    rate = _rate(clip.trimmed_range().duration.rate)
    located, after, size, name = None, None, None, source.get("clip")
    if request.task == "generate":  # either side may be missing
        before_record, after_record = _recorded_sides(source)
        if before_record:
            located = _recorded_source(clip, before_record, document.base_dir)
        if after_record:
            after = _recorded_source(clip, after_record, document.base_dir)
        size = _media_size((located or after)[0]) if located or after else None
        name = (before_record or after_record or {}).get("clip")
        source = {"gap_frames": round(source["gap_seconds"] * rate), **source}  # older records
    else:
        located = _recorded_source(clip, source, document.base_dir)
    region = None
    if request.task == "inpaint":
        region = provenance.mask_from_runs(options["mask"]) if options.get("mask") else request.box
    taken = {
        meta["seed"] for ref in clip.media_references().values() if (meta := provenance.of(ref))
    }
    return Job(
        request,
        provenance.new_id(),
        edits.fingerprint(clip),
        name or record.get("task") or clip.name,
        located,
        source,
        rate,
        size,
        document.media_folder,
        _seeds(request.seed, request.variants, taken),
        region,
        adds_variants=True,
        after=after,
    )


def _recorded_sides(source: dict) -> tuple[dict | None, dict | None]:
    """The records of a filled gap's two neighbours; an older record names the one before."""
    if "before" in source or "after" in source:
        return source.get("before"), source.get("after")
    return (source if source.get("media") else None), None


def _recorded_source(clip, source: dict, base_dir: Path) -> tuple[Path, float, float]:
    """The media file and seconds a generated clip's record names, checked to be online."""
    if "seconds" not in source or not source.get("media"):
        raise InvalidRequestError(
            f"{clip.name!r} records no source media range (made by an older reelpoet); run the "
            "action on its source clip instead"
        )
    path = media_paths.local_path(source["media"], base_dir)
    if path is None or not path.is_file():
        raise OfflineMediaError(
            f"{clip.name!r}: its source media {source['media']!r} is offline; variants are made "
            "from it"
        )
    start, end = source["seconds"]
    return path, float(start), float(end)


def _media_size(path: Path) -> tuple[int, int]:
    info = probe(path).video
    return info.width, info.height


def _seeds(first: int, count: int, taken: set[int] = frozenset()) -> tuple[int, ...]:
    """``count`` seeds from ``first`` up, skipping those already ``taken``."""
    seeds, seed = [], first
    while len(seeds) < count:
        if seed not in taken:
            seeds.append(seed)
        seed += 1
    return tuple(seeds)


def _inpaint_region(request: ActionRequest, path: Path):
    """What inpaint sends: the request's box, or its painted mask at the media's size, as a
    box when it is a filled rectangle (a box is the LM's training shape, and cheaper)."""
    if request.mask is None:
        if request.box is None:
            raise InvalidRequestError("inpaint needs a box or mask drawn on the viewer")
        return request.box
    info = probe(path).video
    mask = _resized(np.asarray(request.mask, dtype=bool), info.width, info.height)
    box = box_from_mask(mask)
    if box is None:
        raise InvalidRequestError("the inpainting mask is empty; paint the region to regenerate")
    x0, y0, x1, y1 = box
    return box if mask[y0:y1, x0:x1].all() else mask


def _resized(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """An (h, w) mask at (height, width), nearest pixel centre: the viewer shows the frame
    stretched the same way."""
    h, w = mask.shape
    if (h, w) == (height, width):
        return mask
    rows = (2 * np.arange(height) + 1) * h // (2 * height)
    cols = (2 * np.arange(width) + 1) * w // (2 * width)
    return mask[rows][:, cols]


def render(job: Job, client, progress=None, cancelled=None) -> Rendered:
    """Run the Client once per variant and write each result into the media folder. On any
    error or cancel, the files this job wrote are removed again."""
    source = read_video(job.source[0], job.source[1:]) if job.source else None
    after = read_video(job.after[0], job.after[1:]) if job.after else None
    job.out_dir.mkdir(parents=True, exist_ok=True)
    files: list[tuple[Path, dict]] = []
    try:
        for n, seed in enumerate(job.seeds):
            step = _scaled(progress, n, len(job.seeds))
            if job.request.task == "generate":
                result = _fill_gap(client, job, (source, after), seed, step, cancelled)
            else:
                result = _call(client, job, source, seed, step, cancelled)
            result = _at_rate(result, job, source)
            path = job.out_dir / _file_name(job, seed, result)
            files.append((result.save(path), _record(job, result)))
    except BaseException:
        for path, _ in files:
            path.unlink(missing_ok=True)
        raise
    return Rendered(job, files, _frames(result, job.rate))


def place(document: TimelineDocument, rendered: Rendered) -> ItemRef:
    """Put the rendered clip (all its variants, the first active) on the timeline, or add the
    variants to the clip they were made for (the first new one active): one undoable edit.
    Raises PlacementError if the target changed while it rendered."""
    job = rendered.job
    references = _references(document, rendered)
    task, label = job.request.task, f"{job.request.task.capitalize()} {job.name}"
    if job.adds_variants:
        placer, placed, label = edits.add_variants, references, f"{label}: more variants"
    else:
        placer = {
            "extend": lambda t, r, c: edits.place_extension(
                t, r, c, job.request.head, job.request.new_track
            ),
            "score": edits.place_score,
            "generate": edits.fill_gap,
        }.get(task, edits.place_layer)
        placed = _result_clip(rendered, references)

    def edit(timeline):
        target = job.request.target.item(timeline)
        if edits.fingerprint(target) != job.fingerprint:
            raise PlacementError(
                f"{job.name!r} changed while {task} ran; the results are kept in {job.out_dir}"
            )
        return placer(timeline, job.request.target, placed)

    return document.apply(label, edit)


def run_action(document, client, request, progress=None, cancelled=None):
    """prepare, render and place in one call; returns where the new (or varied) clip is."""
    job = prepare(document, request)
    return place(document, render(job, client, progress, cancelled))


def box_from_mask(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box (x0, y0, x1, y1) of a painted (H, W) mask, or None if it is empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# -- helpers -------------------------------------------------------------------------------------
def _check(request: ActionRequest) -> None:
    if request.task not in TASKS:
        raise InvalidRequestError(f"unknown action {request.task!r}; one of {', '.join(TASKS)}")
    if not 1 <= request.variants <= MAX_VARIANTS:
        raise InvalidRequestError(f"variants must be 1..{MAX_VARIANTS}, got {request.variants}")


def _rate(rate: float) -> Fraction:
    # OTIO keeps rates as floats (29.97 as 30000/1001 rounded); small denominators recover them.
    return Fraction(rate).limit_denominator(100_000)


def media_seconds(clip: otio.schema.Clip, span: otio.opentime.TimeRange) -> tuple[float, float]:
    """[start, end) of a clip's range in seconds from its media file's first frame."""
    available = clip.media_reference.available_range
    offset = available.start_time.to_seconds() if available is not None else 0.0
    start = span.start_time.to_seconds() - offset
    return start, start + span.duration.to_seconds()


def _call(client, job: Job, source: Clip | None, seed: int, progress, cancelled) -> Result:
    r = job.request
    common = {"seed": seed, "progress": progress, "cancelled": cancelled}
    if r.task == "extend":
        return client.extend(source, r.seconds, r.prompt, head=r.head, **common)
    if r.task == "inpaint":
        return client.inpaint(source, job.region, r.prompt, **common)
    if r.task == "outpaint":
        return client.outpaint(source, r.aspect, r.prompt, **common)
    if r.task == "stylize":
        return client.stylize(source, r.prompt, **common)
    if r.task == "score":
        return client.score(source, r.prompt, **common)
    raise AssertionError(f"{r.task} has no single Client call")  # generate: _fill_gap


def _fill_gap(client, job: Job, sides, seed: int, progress, cancelled) -> Result:
    """A gap's footage, exactly its length at the timeline's rate and at ``job.size``: the
    first part continues the clip before it (or starts from the request's image), the second
    is a head extension of the clip after it, so it leads into that clip's first frame; a
    CROSSFADE_SECONDS dissolve joins them. One side alone makes it all; with neither, the
    prompt does (text to video)."""
    before, after = sides
    r, total = job.request, job.source_record["gap_frames"]
    lead = "image" if r.image else "before" if before is not None else None
    crossfade = round(CROSSFADE_SECONDS * job.rate)
    parts, overlap = _gap_parts(total, lead, after is not None, crossfade)
    make = {
        "before": lambda s, o: client.extend(before, s, r.prompt, **o),
        "image": lambda s, o: _from_image(client, r.image, s, r.prompt, o),
        "after": lambda s, o: client.extend(after, s, r.prompt, head=True, **o),
        "prompt": lambda s, o: client.text_to_video(r.prompt, s, **o),
    }
    pieces, metadata = [], None
    for n, (side, count) in enumerate(parts):
        step = _scaled(progress, n, len(parts))
        options = {"seed": seed, "progress": step, "cancelled": cancelled}
        result = make[side](float(count / job.rate), options)
        metadata = metadata or result.metadata
        pieces.append(_exactly(result, job, count))
    frames = _crossfade(pieces[0], pieces[1], overlap) if len(pieces) == 2 else pieces[0]
    return Result(frames, job.rate, None, None, metadata)


def _gap_parts(total: int, lead: str | None, after: bool, crossfade: int):
    """Who makes a gap of ``total`` frames: [(side, frames)] and the frames the two parts
    overlap (dissolve) by; the parts' frames minus the overlap is ``total``."""
    if lead and after and total >= 2:
        overlap = min(crossfade, total // 2)
        first = (total + overlap + 1) // 2
        return [(lead, first), ("after", total + overlap - first)], overlap
    return [(lead or ("after" if after else "prompt"), total)], 0


def _from_image(client, image, seconds: float, prompt: str, options: dict) -> Result:
    """A clip that starts from a picture: image to video, extended when the gap is longer."""
    start = client.image_to_video(image, prompt, **options)
    if start.duration_s >= seconds:
        return start
    clip = Clip(start.frames, start.fps, 0.0)
    more = client.extend(clip, seconds - start.duration_s, prompt, **options)
    return Result(
        np.concatenate([start.frames, more.frames]), start.fps, None, None, start.metadata
    )


def _exactly(result: Result, job: Job, count: int) -> np.ndarray:
    """A result's frames at the job's rate and size, ``count`` of them: rounding in the
    conform is cut off or its last frame held."""
    height, width = result.frames.shape[1:3]
    size = job.size or (width, height)
    clip = conform(Clip(result.frames, result.fps, 0.0), fps=job.rate, size=size, fit="stretch")
    frames = clip.frames[:count]
    return np.concatenate([frames, np.repeat(frames[-1:], count - len(frames), axis=0)])


def _crossfade(first: np.ndarray, second: np.ndarray, overlap: int) -> np.ndarray:
    """``first`` then ``second``, the last ``overlap`` frames of one dissolving into the first
    ``overlap`` of the other: len(first) + len(second) - overlap frames."""
    if overlap == 0:
        return np.concatenate([first, second])
    weight = ((np.arange(overlap) + 1) / (overlap + 1))[:, None, None, None]  # (overlap, 1, 1, 1)
    mixed = first[-overlap:] * (1 - weight) + second[:overlap] * weight
    return np.concatenate([first[:-overlap], mixed.round().astype(np.uint8), second[overlap:]])


def _at_rate(result: Result, job: Job, source: Clip | None) -> Result:
    """Video at the clip's rate (and a gap's neighbour's size); audio as it is."""
    if result.frames is None:
        return result
    height, width = result.frames.shape[1:3]
    size = job.size if job.request.task == "generate" and job.size else (width, height)
    if Fraction(result.fps) == job.rate and size == (width, height):
        return result
    clip = conform(Clip(result.frames, result.fps, 0.0), fps=job.rate, size=size, fit="stretch")
    return Result(clip.frames, clip.fps, result.audio, result.sample_rate, result.metadata)


def _frames(result: Result, rate: Fraction) -> int:
    if result.frames is not None:
        return len(result.frames)
    return max(1, round(len(result.audio) / result.sample_rate * rate))


def _file_name(job: Job, seed: int, result: Result) -> str:
    suffix = ".wav" if result.frames is None else (".mov" if job.request.prores else ".mp4")
    stem = re.sub(r"[^\w-]+", "_", job.name).strip("_")[:40] or "clip"
    return f"{stem}_{job.request.task}_{job.gen_id}_seed{seed}{suffix}"


def _record(job: Job, result: Result) -> dict:
    extra = {"id": job.gen_id, "action": job.request.task}
    return provenance.record(result.metadata, job.source_record, _options(job), extra)


def _options(job: Job) -> dict:
    """The action's options as JSON types: a box as a list, a painted mask as its runs."""
    if job.request.task == "inpaint":
        painted = isinstance(job.region, np.ndarray)
        box = box_from_mask(job.region) if painted else job.region
        return {"box": list(box), "mask": provenance.mask_runs(job.region) if painted else None}
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k in _OPTIONS[job.request.task]
        for v in [getattr(job.request, k)]
    }


def _references(document: TimelineDocument, rendered: Rendered) -> dict:
    """The variants as media references keyed ``seed_<n>``, each with its record."""
    rate = float(rendered.job.rate)
    span = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(rendered.frames, rate)
    )
    return {
        provenance.variant_key(meta["seed"]): otio.schema.ExternalReference(
            target_url=media_paths.media_url(path, document.base_dir),
            available_range=span,
            metadata={provenance.KEY: meta},
        )
        for path, meta in rendered.files
    }


def _result_clip(rendered: Rendered, references: dict) -> otio.schema.Clip:
    span = next(iter(references.values())).available_range
    clip = otio.schema.Clip(name=f"{rendered.job.name} {rendered.job.request.task}")
    clip.source_range = span
    provenance.attach(clip, references)
    return clip


def _scaled(progress, piece: int, pieces: int):
    if progress is None:
        return None
    return lambda i, n: progress(piece * n + i, pieces * n)
