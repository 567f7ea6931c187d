"""The creator SDK: one method per task, real media in and out.

    from reelpoet.sdk.client import Client
    client = Client.local()                      # the default bundle, on onnxruntime
    result = client.text_to_video("a red ball bounces around, the camera pans left", seed=3)
    result.save("ball.mp4")
    longer = client.extend("shot.mp4", seconds=4.25, prompt="...")  # conformed to shot.mp4
    longer.save("shot_tail.mov")

Sources are a media path, a `Clip` (`reelpoet.sdk.media.read_video`), or an OpenTimelineIO
clip (its media reference and source range). The model works on 64x64 frames at 8 fps:
sources are conformed to that (stretched, so the whole frame is seen and the way back is exact)
and results are conformed back to the source's frame rate and size. Pixels a task keeps (outside
an inpainting box, the source inside an outpainted canvas) are the source's own, untouched.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import Clip, conform, read_video, resize_frames, write_video, write_wav
from reelpoet.sdk.pipeline import Pipeline
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.task_inputs import Box
from reelpoet.sdk.token_layout import Task

Source = str | os.PathLike | Clip | object  # object: an opentimelineio.schema.Clip
ProgressCallback = Callable[[int, int], None]
MAX_SECONDS = 60.0  # longest generation one call makes (28 chained clips)


@dataclass(frozen=True)
class Result:
    """Generated media: frames (T, H, W, 3) uint8 at `fps` and/or audio (N,) float32 at
    `sample_rate`, and what made it (task, prompt, seed, bundle id, timings)."""

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
    """The same methods run locally (`Client.local`) or, from the server issue on, remotely."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @classmethod
    def local(cls, bundle: str | os.PathLike[str] | None = None, threads: int | None = None):
        return cls(Pipeline.open(bundle, threads))

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
        seconds = self._seconds(seconds)

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

    def inpaint(
        self, source: Source, box: tuple[int, int, int, int], prompt: str = "", **options
    ) -> Result:
        """Regenerate the rectangle `box` = (x0, y0, x1, y1) source pixels over the whole clip."""
        clip = self._source(source)
        region = Box(*box).checked(clip.width, clip.height)

        def run(sampling, progress):
            model_box = self._model_box(region, clip.width, clip.height)
            windows = self._windowed(
                clip, Task.INPAINT, prompt, model_box, sampling, progress, options
            )
            generated = self._from_model(windows, clip, clip.duration_s).frames
            kept = np.ones(clip.frames.shape[:3], dtype=bool)
            kept[:, region.y0 : region.y1, region.x0 : region.x1] = False
            return self._video(np.where(kept[..., None], clip.frames, generated), clip.fps)

        return self._timed(Task.INPAINT, prompt, options, run)

    def outpaint(self, source: Source, aspect: float, prompt: str = "", **options) -> Result:
        """Widen (or heighten) the frame to `aspect` (width / height) with generated margins;
        the source sits in the middle, untouched."""
        clip = self._source(source)
        if not math.isfinite(aspect) or not 0.2 <= aspect <= 5:
            raise InvalidRequestError(
                f"aspect must be a width/height ratio in 0.2..5, got {aspect}"
            )
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
            windows = self._windowed(
                wide, Task.OUTPAINT, prompt, model_box, sampling, progress, options
            )
            generated = self._from_model(windows, wide, clip.duration_s).frames
            generated[:, y0 : y0 + h, x0 : x0 + w] = clip.frames
            return self._video(generated, clip.fps)

        return self._timed(Task.OUTPAINT, prompt, options, run)

    def stylize(self, source: Source, prompt: str, **options) -> Result:
        """The source's shapes and motion in the style (colours) the prompt describes."""
        clip = self._source(source)

        def run(sampling, progress):
            windows = self._windowed(clip, Task.STYLIZE, prompt, None, sampling, progress, options)
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
        seconds = self._seconds(seconds)
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
        unknown = set(options) - {
            "seed",
            "temperature",
            "top_k",
            "top_p",
            "guidance_scale",
            "progress",
            "cancelled",
        }
        if unknown:
            raise InvalidRequestError(f"unknown option(s): {', '.join(sorted(unknown))}")
        if not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt must be a str, not {type(prompt).__name__}")
        settings = {
            k: options[k]
            for k in ("seed", "temperature", "top_k", "top_p", "guidance_scale")
            if k in options
        }
        sampling = SamplingConfig(
            **{"guidance_scale": 3.0, "top_k": 256, "temperature": 0.9, **settings}
        )
        started = time.perf_counter()
        result = run(sampling, options.get("progress"))
        metadata = {
            "task": task.value,
            "prompt": prompt,
            "seed": sampling.seed,
            "sampling": sampling.__dict__,
            "bundle_id": self.pipeline.bundle_id,
            "seconds_taken": round(time.perf_counter() - started, 3),
        }
        return Result(result.frames, result.fps, result.audio, result.sample_rate, metadata)

    def _video(self, frames: np.ndarray, fps: Fraction | None = None) -> Result:
        return Result(frames, Fraction(fps or self.pipeline.fps), None, None)

    def _audio(self, audio: np.ndarray) -> Result:
        return Result(None, None, audio.astype(np.float32), self.pipeline.sample_rate)

    @staticmethod
    def _seconds(seconds: float) -> float:
        if not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_SECONDS:
            raise InvalidRequestError(f"seconds must be in (0, {MAX_SECONDS:g}], got {seconds!r}")
        return float(seconds)

    def _source(self, source: Source) -> Clip:
        if isinstance(source, Clip):
            return source
        if isinstance(source, (str, os.PathLike)):
            return read_video(source)
        if type(source).__name__ == "Clip" and hasattr(source, "media_reference"):
            return _read_otio_clip(source)
        raise InvalidRequestError(
            "a source is a media path, a reelpoet Clip or an OTIO clip, "
            f"not {type(source).__name__}"
        )

    def _image(self, image) -> np.ndarray:
        if isinstance(image, (str, os.PathLike)):
            return read_video(image).frames[0]
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise InvalidRequestError(
                f"an image is (H, W, 3) uint8 RGB, got {array.shape} {array.dtype}"
            )
        return array

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

    def _windows(self, frames: np.ndarray):
        """Consecutive model clips covering `frames`; the last is padded by holding its end."""
        n = self.pipeline.clip_frames
        for start in range(0, len(frames), n):
            piece = frames[start : start + n]
            yield np.concatenate([piece, np.repeat(piece[-1:], n - len(piece), axis=0)])

    def _windowed(
        self, clip: Clip, task: Task, prompt, box, sampling, progress, options
    ) -> np.ndarray:
        frames = self._to_model(clip).frames
        windows = list(self._windows(frames))
        out = []
        for n, window in enumerate(windows):
            result = self.pipeline.run(
                task,
                prompt,
                video=window,
                box=box,
                sampling=_nth(sampling, n),
                on_step=_scaled(progress, n, len(windows)),
                cancelled=options.get("cancelled"),
            )
            out.append(result.frames)
        return np.concatenate(out)[: len(frames)]


def _nth(sampling: SamplingConfig, n: int) -> SamplingConfig:
    """The sampling of the n-th piece of a multi-piece job: its own draw, fixed by the seed."""
    return SamplingConfig(**{**sampling.__dict__, "seed": sampling.seed + n})


def _scaled(progress: ProgressCallback | None, piece: int, pieces: int):
    if progress is None:
        return None
    return lambda i, n: progress(piece * n + i, pieces * n)


def _read_otio_clip(otio_clip) -> Clip:
    """The source range of an OTIO clip's external media, as a Clip."""
    reference = otio_clip.media_reference
    url = getattr(reference, "target_url", None)
    if not url:
        raise InvalidRequestError(f"OTIO clip {otio_clip.name!r} has no external media to read")
    path = url[len("file://") :] if url.startswith("file://") else url
    source_range = otio_clip.source_range or otio_clip.available_range()
    start = source_range.start_time.to_seconds()
    end = start + source_range.duration.to_seconds()
    available = reference.available_range
    if available is not None:  # media time is counted from the file's first frame
        offset = available.start_time.to_seconds()
        start, end = start - offset, end - offset
    return read_video(path, (start, end))
