"""The creator SDK: one method per task, real media in and out.

    from reelpoet.sdk.client import Client
    client = Client.local()                      # the default bundle, on onnxruntime
    result = client.text_to_video("a red ball bounces around, the camera pans left", seed=3)
    result.save("ball.mp4")
    longer = client.extend("shot.mp4", seconds=4.25, prompt="...")  # conformed to shot.mp4
    longer.save("shot_tail.mov")

Sources are a media path, a `Clip` (`reelpoet.sdk.media.read_video`), or an OpenTimelineIO
clip (its media reference and source range; `read_otio_clip(clip, media_root)` for media
relative to the timeline's folder). The model works on 64x64 frames at 8 fps:
sources are conformed to that (stretched, so the whole frame is seen and the way back is exact)
and results are conformed back to the source's frame rate and size. Pixels a task keeps (outside
an inpainting box or mask, the source inside an outpainted canvas) are the source's own,
untouched.

`Client.remote(url, token=...)` gives the same methods against a `reelpoet serve` server
(`reelpoet.sdk.remote_client`); `reelpoet.sdk.async_client.AsyncClient` has them as coroutines.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import Clip, conform, read_video, resize_frames, write_video, write_wav
from reelpoet.sdk.pipeline import Pipeline
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.task_inputs import Box, checked_mask, grid_mask, region_mask
from reelpoet.sdk.token_layout import Task

if TYPE_CHECKING:
    from reelpoet.sdk.remote_client import RemoteClient

Source = str | os.PathLike | Clip | object  # object: an opentimelineio.schema.Clip
ProgressCallback = Callable[[int, int], None]
MAX_SECONDS = 60.0  # longest generation one call makes (28 chained clips)
# The task methods, the same on Client, RemoteClient and AsyncClient (and the server's tasks).
TASK_METHODS = (
    "text_to_video",
    "text_to_image",
    "image_to_video",
    "extend",
    "inpaint",
    "outpaint",
    "stylize",
    "score",
    "text_to_audio",
    "rate",
)
SAMPLING_OPTIONS = ("seed", "temperature", "top_k", "top_p", "guidance_scale")
CALLBACK_OPTIONS = ("progress", "cancelled")  # local callables: never sent to a server


@dataclass(frozen=True)
class Result:
    """Generated media: frames (T, H, W, 3) uint8 at `fps` and/or audio (N,) float32 at
    `sample_rate`, and what made it: task, prompt, seed, sampling, bundle_id, bundle_sha256 (of
    the bundle's manifest.json), seconds_taken (and job_id from a server)."""

    frames: np.ndarray | None
    fps: Fraction | None
    audio: np.ndarray | None
    sample_rate: int | None
    metadata: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        if self.frames is not None:
            return float(len(self.frames) / self.fps)
        return len(self.audio) / self.sample_rate

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write .mp4 (H.264) or .mov (ProRes) for video, .wav for audio; atomically."""
        dest = Path(path)
        if dest.suffix.lower() == ".wav":
            if self.audio is None:
                raise InvalidRequestError("this result has no audio to write as .wav")
            return write_wav(dest, self.audio, self.sample_rate)
        if self.frames is None:
            raise InvalidRequestError("this result is audio only: save it as .wav")
        return write_video(
            dest, self.frames, self.fps, audio=self.audio, sample_rate=self.sample_rate
        )


class Client:
    """The task methods on a local pipeline (`Client.local`); `Client.remote` gives the same
    methods, with the same results for the same seed, against a server."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @classmethod
    def local(cls, bundle: str | os.PathLike[str] | None = None, threads: int | None = None):
        return cls(Pipeline.open(bundle, threads))

    @staticmethod
    def remote(
        url: str,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        outage_s: float = 120.0,
    ) -> RemoteClient:
        """The same methods against a `reelpoet serve` server at `url` (see RemoteClient)."""
        from reelpoet.sdk.remote_client import RemoteClient

        return RemoteClient(url, token=token, timeout=timeout, retries=retries, outage_s=outage_s)

    # -- generation from text or an image ---------------------------------------------------
    def text_to_video(self, prompt: str, seconds: float = 2.125, **options) -> Result:
        """A clip from a prompt; past one clip (2.125 s) it is extended clip by clip."""
        return self._timed(
            Task.TEXT_TO_VIDEO,
            prompt,
            options,
            lambda s, p: self._t2v(prompt, seconds, s, p, options.get("cancelled")),
        )

    def text_to_image(self, prompt: str, **options) -> Result:
        return self._from_prompt(
            Task.TEXT_TO_IMAGE, prompt, options, lambda o: self._video(o.frames)
        )

    def image_to_video(self, image, prompt: str = "", **options) -> Result:
        """A clip whose first frame is `image` ((H, W, 3) uint8 or a path to a picture/video)."""
        source = self._image(image)
        size = (source.shape[1], source.shape[0])

        def run(sampling, progress):
            small = resize_frames(source[None], (self.pipeline.size,) * 2, "stretch")
            out = self.pipeline.run(
                Task.IMAGE_TO_VIDEO,
                prompt,
                video=small,
                sampling=sampling,
                on_step=progress,
                cancelled=options.get("cancelled"),
            )
            return self._video(resize_frames(out.frames, size, "stretch"))

        return self._timed(Task.IMAGE_TO_VIDEO, prompt, options, run)

    # -- work on a source clip --------------------------------------------------------------
    def extend(
        self, source: Source, seconds: float, prompt: str = "", head: bool = False, **options
    ) -> Result:
        """New footage after the source's end (or before its start with head=True), at the
        source's rate and size. Only the new part is returned."""
        clip = self._source(source)
        seconds = check_seconds(seconds)

        def run(sampling, progress):
            small = self._to_model(clip)
            frames = small.frames[::-1] if head else small.frames
            short = self.pipeline.clip_frames - len(frames)
            if short > 0:  # a source under one clip: hold its far end to fill the window
                frames = np.concatenate([np.repeat(frames[:1], short, axis=0), frames])
            clips = math.ceil(seconds * self.pipeline.fps / self.pipeline.clip_frames)
            new = self.pipeline.extend(
                frames, clips, prompt, sampling, progress, options.get("cancelled")
            )
            new = new[: max(1, round(seconds * self.pipeline.fps))]
            return self._from_model(new[::-1] if head else new, clip, seconds)

        return self._timed(Task.CONTINUATION, prompt, options, run)

    def inpaint(self, source: Source, mask, prompt: str = "", **options) -> Result:
        """Regenerate a region of the clip, keeping every other pixel. `mask`: a rectangle
        (x0, y0, x1, y1) in source pixels over the whole clip; a bool or integer array, (H, W)
        for every frame or (T, H, W) one per frame (True or nonzero: regenerate); or the path
        of a picture the clip's size, or of a video with one such picture a frame of the clip
        (white: regenerate)."""
        clip = self._source(source)
        region = read_mask(mask, clip.width, clip.height, clip.num_frames)  # (1 or T, H, W)

        def run(sampling, progress):
            frames = self._to_model(clip).frames
            model_mask = self._model_mask(region, clip.fps, len(frames))
            windows = self._windowed(
                frames, Task.INPAINT, prompt, model_mask, sampling, progress, options
            )
            generated = self._from_model(windows, clip, clip.duration_s).frames
            return self._video(np.where(region[..., None], generated, clip.frames), clip.fps)

        return self._timed(Task.INPAINT, prompt, options, run)

    def outpaint(self, source: Source, aspect: float, prompt: str = "", **options) -> Result:
        """Widen (or heighten) the frame to `aspect` (width / height) with generated margins;
        the source sits in the middle, untouched."""
        clip = self._source(source)
        aspect = check_aspect(aspect)
        w, h = clip.width, clip.height
        out_w, out_h = (
            (max(w, round(h * aspect)), h) if aspect >= w / h else (w, max(h, round(w / aspect)))
        )
        out_w, out_h = out_w + out_w % 2, out_h + out_h % 2  # H.264 needs even sides
        x0, y0 = (out_w - w) // 2, (out_h - h) // 2
        keep = Box(x0, y0, x0 + w, y0 + h)

        def run(sampling, progress):
            canvas = np.full((clip.num_frames, out_h, out_w, 3), 128, np.uint8)
            canvas[:, y0 : y0 + h, x0 : x0 + w] = clip.frames
            wide = Clip(canvas, clip.fps, clip.start_s)
            model_box = self._model_box(keep, out_w, out_h)
            frames = self._to_model(wide).frames
            windows = self._windowed(
                frames, Task.OUTPAINT, prompt, model_box, sampling, progress, options
            )
            generated = self._from_model(windows, wide, clip.duration_s).frames
            generated[:, y0 : y0 + h, x0 : x0 + w] = clip.frames
            return self._video(generated, clip.fps)

        return self._timed(Task.OUTPAINT, prompt, options, run)

    def stylize(self, source: Source, prompt: str, **options) -> Result:
        """The source's shapes and motion in the style (colours) the prompt describes."""
        clip = self._source(source)

        def run(sampling, progress):
            frames = self._to_model(clip).frames
            windows = self._windowed(
                frames, Task.STYLIZE, prompt, None, sampling, progress, options
            )
            return self._from_model(windows, clip, clip.duration_s)

        return self._timed(Task.STYLIZE, prompt, options, run)

    def score(self, source: Source, prompt: str = "", **options) -> Result:
        """A soundtrack for the source clip (video-to-audio), as long as the clip."""
        clip = self._source(source)

        def run(sampling, progress):
            small = self._to_model(clip)
            pieces = []
            windows = list(self._windows(small.frames))
            for n, window in enumerate(windows):
                piece_progress = _scaled(progress, n, len(windows))
                out = self.pipeline.run(
                    Task.VIDEO_TO_AUDIO,
                    prompt,
                    video=window,
                    sampling=_nth(sampling, n),
                    on_step=piece_progress,
                    cancelled=options.get("cancelled"),
                )
                pieces.append(out.audio)
            samples = round(clip.duration_s * self.pipeline.sample_rate)
            return self._audio(np.concatenate(pieces)[:samples])

        return self._timed(Task.VIDEO_TO_AUDIO, prompt, options, run)

    def text_to_audio(self, prompt: str, **options) -> Result:
        return self._from_prompt(
            Task.TEXT_TO_AUDIO, prompt, options, lambda o: self._audio(o.audio)
        )

    def rate(self, source: Source, prompt: str = "", cancelled=None) -> float:
        """The LM's likelihood score of a clip for a prompt: mean log-probability per video
        token (nats, <= 0; higher is likelier), averaged over the clip's 2.125 s windows. Use it
        to rank takes or variants against one prompt."""
        if not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt must be a str, not {type(prompt).__name__}")
        windows = list(self._windows(self._to_model(self._source(source)).frames))
        scores = [self.pipeline.rate(w, prompt, cancelled) for w in windows]
        return float(np.mean(scores))

    # -- plumbing ---------------------------------------------------------------------------
    def _from_prompt(self, task: Task, prompt: str, options: dict, to_result) -> Result:
        """A task whose only input is the prompt: one pipeline run, its output as a Result."""

        def run(sampling, progress):
            out = self.pipeline.run(
                task,
                prompt,
                sampling=sampling,
                on_step=progress,
                cancelled=options.get("cancelled"),
            )
            return to_result(out)

        return self._timed(task, prompt, options, run)

    def _t2v(self, prompt: str, seconds: float, sampling, progress, cancelled) -> Result:
        seconds = check_seconds(seconds)
        first = self.pipeline.run(
            Task.TEXT_TO_VIDEO, prompt, sampling=sampling, on_step=progress, cancelled=cancelled
        )
        frames = first.frames
        more = math.ceil(seconds * self.pipeline.fps / self.pipeline.clip_frames) - 1
        if more > 0:
            extension = self.pipeline.extend(
                frames, more, prompt, _nth(sampling, 1), progress, cancelled
            )
            frames = np.concatenate([frames, extension])
        return self._video(frames[: max(1, round(seconds * self.pipeline.fps))])

    def _timed(self, task: Task, prompt: str, options: dict, run) -> Result:
        sampling = sampling_from(options)
        if not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt must be a str, not {type(prompt).__name__}")
        started = time.perf_counter()
        result = run(sampling, options.get("progress"))
        metadata = {
            "task": task.value,
            "prompt": prompt,
            "seed": sampling.seed,
            "sampling": sampling.__dict__,
            "bundle_id": self.pipeline.bundle_id,
            "bundle_sha256": self.pipeline.bundle_sha256,
            "seconds_taken": round(time.perf_counter() - started, 3),
        }
        return Result(result.frames, result.fps, result.audio, result.sample_rate, metadata)

    def _video(self, frames: np.ndarray, fps: Fraction | None = None) -> Result:
        return Result(frames, Fraction(fps or self.pipeline.fps), None, None)

    def _audio(self, audio: np.ndarray) -> Result:
        return Result(None, None, audio.astype(np.float32), self.pipeline.sample_rate)

    def _source(self, source: Source) -> Clip:
        return read_source(source)

    def _image(self, image) -> np.ndarray:
        if isinstance(image, (str, os.PathLike)):
            return read_picture(image)
        return checked_image(image)

    def _to_model(self, clip: Clip) -> Clip:
        return conform(clip, fps=self.pipeline.fps, size=(self.pipeline.size,) * 2, fit="stretch")

    def _from_model(self, frames: np.ndarray, like: Clip, seconds: float) -> Result:
        small = Clip(frames, Fraction(self.pipeline.fps), 0.0)
        back = conform(small, fps=like.fps, size=(like.width, like.height), fit="stretch")
        count = max(1, round(seconds * like.fps))
        return self._video(back.frames[:count], like.fps)

    def _model_box(self, box: Box, width: int, height: int) -> Box:
        """A source-pixel box in model pixels, grown to whole pixels (never smaller)."""
        s = self.pipeline.size
        return Box(
            math.floor(box.x0 * s / width),
            math.floor(box.y0 * s / height),
            math.ceil(box.x1 * s / width),
            math.ceil(box.y1 * s / height),
        )

    def _model_mask(self, region: np.ndarray, fps: Fraction, count: int) -> np.ndarray:
        """A (1 or T, H, W) source mask on the model's grid: (size, size) for one mask, else
        (count, size, size) for the `count` model frames of a clip at `fps`."""
        grid = grid_mask(region, self.pipeline.size)
        if len(grid) == 1:
            return grid[0]
        # Source frame j is shown from model frame floor(j * model fps / fps) on the way back;
        # a model frame takes the masks of the source frames it or a neighbour shows, so that
        # rounding in the conform can never leave a masked pixel without generated content.
        shown = np.array([int(j * Fraction(self.pipeline.fps) / fps) for j in range(len(grid))])
        return np.stack([grid[np.abs(shown - k) <= 1].any(axis=0) for k in range(count)])

    def _windows(self, frames: np.ndarray):
        """Consecutive model clips covering `frames`; the last is padded by holding its end."""
        n = self.pipeline.clip_frames
        for start in range(0, len(frames), n):
            piece = frames[start : start + n]
            yield np.concatenate([piece, np.repeat(piece[-1:], n - len(piece), axis=0)])

    def _windowed(
        self, frames: np.ndarray, task: Task, prompt, region, sampling, progress, options
    ) -> np.ndarray:
        """The task over consecutive model clips of `frames`; `region` (a Box, or a mask for
        every frame or one per model frame) goes with each."""
        windows = list(self._windows(frames))
        per_frame = isinstance(region, np.ndarray) and region.ndim == 3
        regions = list(self._windows(region)) if per_frame else [region] * len(windows)
        out = []
        for n, window in enumerate(windows):
            result = self.pipeline.run(
                task,
                prompt,
                video=window,
                box=regions[n],
                sampling=_nth(sampling, n),
                on_step=_scaled(progress, n, len(windows)),
                cancelled=options.get("cancelled"),
            )
            out.append(result.frames)
        return np.concatenate(out)[: len(frames)]


def bind_task_call(name: str, args: tuple, kwargs: dict) -> tuple[dict, dict]:
    """A task method's call as (its named arguments, its options): the options are the
    sampling settings and the callbacks (rate's `cancelled` included), so wrappers (remote,
    async) can handle the callbacks and pass the rest on by keyword."""
    signature = inspect.signature(getattr(Client, name))
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as exc:
        raise InvalidRequestError(f"{name}: {exc}") from exc
    named = {k: v for k, v in bound.arguments.items() if k not in ("self", "options")}
    options = dict(bound.arguments.get("options", {}))
    if "cancelled" in named:
        options["cancelled"] = named.pop("cancelled")
    return named, options


def add_task_methods(cls: type, make: Callable[[str], Callable]) -> type:
    """Give `cls` every task method, `make(name)` for each, with the Client method's name,
    docstring and signature (so help() and inspect show the real arguments)."""
    for name in TASK_METHODS:
        method = functools.update_wrapper(make(name), getattr(Client, name))
        method.__qualname__ = f"{cls.__name__}.{name}"
        setattr(cls, name, method)
    return cls


def read_source(source: Source) -> Clip:
    """A source (a media path, a Clip, or an OTIO clip) as a Clip. An OTIO clip whose media
    URL is relative must be read with `read_otio_clip(clip, media_root)` first."""
    if isinstance(source, Clip):
        return source
    if isinstance(source, (str, os.PathLike)):
        return read_video(source)
    if _is_otio_clip(source):
        return read_otio_clip(source)
    raise InvalidRequestError(
        f"a source is a media path, a reelpoet Clip or an OTIO clip, not {type(source).__name__}"
    )


def sampling_from(options: dict) -> SamplingConfig:
    """A call's sampling: temperature 0.9, top_k 256 and guidance 3 unless the options say
    otherwise; an InvalidRequestError for unknown options or values out of range."""
    unknown = set(options) - set(SAMPLING_OPTIONS) - set(CALLBACK_OPTIONS)
    if unknown:
        raise InvalidRequestError(f"unknown option(s): {', '.join(sorted(unknown))}")
    settings = {k: options[k] for k in SAMPLING_OPTIONS if k in options}
    return SamplingConfig(**{"guidance_scale": 3.0, "top_k": 256, "temperature": 0.9, **settings})


def check_seconds(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidRequestError(f"seconds must be a number, got {seconds!r}")
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidRequestError(f"seconds must be in (0, {MAX_SECONDS:g}], got {seconds!r}")
    return float(seconds)


def check_aspect(aspect: float) -> float:
    if isinstance(aspect, bool) or not isinstance(aspect, (int, float)):
        raise InvalidRequestError(f"aspect must be a number (width / height), got {aspect!r}")
    if not math.isfinite(aspect) or not 0.2 <= aspect <= 5:
        raise InvalidRequestError(f"aspect must be a width/height ratio in 0.2..5, got {aspect}")
    return float(aspect)


def checked_image(image) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise InvalidRequestError(
            f"an image is (H, W, 3) uint8 RGB, got {array.shape} {array.dtype}"
        )
    return array


def read_picture(path: str | os.PathLike[str]) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a still image (PNG, JPEG, TIFF...: Pillow), else the first
    frame of a video (PyAV, with its clear errors). PyAV alone refuses stills: they declare no
    duration."""
    still = _read_still(path)
    return read_video(path).frames[0] if still is None else still


def read_mask_file(path: str | os.PathLike[str]) -> np.ndarray:
    """A mask file as bool masks, white (mean >= 128) regenerating: (H, W) from a still picture,
    (T, H, W) from a video, one mask a frame (a matte rendered at the clip's rate). Thresholded,
    as pictures and lossy video blur edges."""
    still = _read_still(path)
    frames = read_video(path).frames if still is None else still[None]
    masks = frames.mean(axis=3) >= 128
    return masks[0] if still is not None else masks


def _read_still(path: str | os.PathLike[str]) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB of a still image (Pillow), or None when it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        return None
    except OSError as exc:
        raise InvalidRequestError(f"cannot read the picture {path}: {exc}") from exc


def read_mask(mask, width: int, height: int, frames: int | None = None) -> np.ndarray:
    """An inpainting mask (a box, an array, or a picture's or video's path) as (1 or T, H, W)
    bool at the source's size; see Client.inpaint."""
    if isinstance(mask, (str, os.PathLike)):
        mask = read_mask_file(mask)
    elif isinstance(mask, (tuple, list)) and len(mask) == 4 and all(_is_int(v) for v in mask):
        box = Box(*(int(v) for v in mask)).checked(width, height)
        return region_mask(box, (1, height, width))
    return checked_mask(mask, width, height, frames)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _nth(sampling: SamplingConfig, n: int) -> SamplingConfig:
    """The sampling of the n-th piece of a multi-piece job: its own draw, fixed by the seed."""
    return SamplingConfig(**{**sampling.__dict__, "seed": sampling.seed + n})


def _scaled(progress: ProgressCallback | None, piece: int, pieces: int):
    if progress is None:
        return None
    return lambda i, n: progress(piece * n + i, pieces * n)


def read_otio_clip(otio_clip, media_root: str | os.PathLike[str] | None = None) -> Clip:
    """The source range of an OTIO clip's media as a Clip, to pass to any task method (local
    or remote alike). A relative path or URL is relative to the timeline file the clip came
    from: give that file's folder as `media_root` (without it, a relative one is refused rather
    than read from the current directory). `file://` URLs are percent-decoded; other schemes
    (http, s3, a file URL naming another host) are refused: download the media first."""
    if not _is_otio_clip(otio_clip):
        raise InvalidRequestError(f"not an OTIO clip: {type(otio_clip).__name__}")
    reference = otio_clip.media_reference
    url = getattr(reference, "target_url", None)
    if not url:
        raise InvalidRequestError(f"OTIO clip {otio_clip.name!r} has no external media to read")
    path = _media_file(otio_clip.name, url, media_root)
    source_range = otio_clip.source_range or otio_clip.available_range()
    start = source_range.start_time.to_seconds()
    end = start + source_range.duration.to_seconds()
    available = reference.available_range
    if available is not None:  # media time is counted from the file's first frame
        offset = available.start_time.to_seconds()
        start, end = start - offset, end - offset
    return read_video(path, (start, end))


def _is_otio_clip(source) -> bool:
    return type(source).__name__ == "Clip" and hasattr(source, "media_reference")


def _media_file(name: str, url: str, media_root: str | os.PathLike[str] | None) -> Path:
    """The local file an OTIO media URL names: a path (POSIX or Windows) or a file:// URL on
    this host, relative ones from `media_root`."""
    parsed = urlsplit(url)
    if len(parsed.scheme) <= 1:  # no scheme, or a drive letter ("C:\\media\\a.mov")
        path = Path(url)
    elif parsed.scheme.lower() == "file" and parsed.netloc in ("", "localhost"):
        path = Path(url2pathname(parsed.path))  # decodes %20 and the like
    else:
        raise InvalidRequestError(
            f"OTIO clip {name!r}: its media {url!r} is not a local file; download it and point "
            "the clip at the copy"
        )
    if "\x00" in str(path):
        raise InvalidRequestError(f"OTIO clip {name!r}: its media path {url!r} holds a NUL byte")
    if path.is_absolute() or len(parsed.scheme) == 1:
        return path
    if media_root is None:
        raise InvalidRequestError(
            f"OTIO clip {name!r}: its media path {url!r} is relative to its timeline's folder; "
            "read it with read_otio_clip(clip, media_root=<that folder>)"
        )
    return Path(media_root) / path
