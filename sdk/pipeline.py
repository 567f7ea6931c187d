"""Every task end to end at the model's own size, on onnxruntime: prompt and media arrays in,
frames and audio out. The SDK's Client conforms real media to this size and back.

    pipeline = Pipeline.open()  # the default bundle, verified
    frames = pipeline.run(Task.TEXT_TO_VIDEO, "a red ball moves left").frames  # (17, 64, 64, 3)

Sizes come from the bundle: frames are `size` x `size` RGB uint8 at `fps`, a clip is
`clip_frames` frames; audio is mono float32 at `sample_rate`, a clip's worth is `clip_samples`.
Task inputs are made by `reelpoet.sdk.task_inputs`, the code the training cache uses. Regions
a task must keep (outside an inpainting box or mask, inside an outpainting box) are copied back
from the input, so kept pixels come back bit for bit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelpoet.sdk.audio_codec import AudioCodec, AudioCodecSpec
from reelpoet.sdk.bundle import Bundle, load_bundle
from reelpoet.sdk.bundle_location import MANIFEST_NAME
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.lm_engine import GenerationRequest, LMEngine, LMSpec, ProgressCallback
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.task_inputs import Box, Region, blank_inside, blank_outside, luma, region_mask
from reelpoet.sdk.text_encoder import TextEncoder, TextEncoderSpec
from reelpoet.sdk.token_layout import TASK_SHAPES, Task
from reelpoet.sdk.video_codec import VideoCodec, VideoCodecSpec

# Model names a bundle's manifest gives its graphs.
TEXT_ENCODER, LM = "text_encoder", "lm"
VIDEO_ENCODER, VIDEO_DECODER = "video_encoder", "video_decoder"
AUDIO_ENCODER, AUDIO_DECODER = "audio_encoder", "audio_decoder"


@dataclass(frozen=True)
class Output:
    frames: np.ndarray | None  # (T, size, size, 3) uint8
    audio: np.ndarray | None  # (clip_samples,) float32 in [-1, 1]


class Pipeline:
    def __init__(
        self,
        text: TextEncoder,
        video: VideoCodec,
        audio: AudioCodec,
        lm: LMEngine,
        fps: int = 8,
        bundle_id: str = "",
        bundle_sha256: str = "",
    ) -> None:
        self.text, self.video, self.audio, self.lm = text, video, audio, lm
        self.layout = lm.layout
        self.size = video.spec.image_size
        self.fps = fps
        latent_frames = self.layout.video_tokens_per_clip // self.layout.video_tokens_per_image
        self.clip_frames = 1 + 4 * (latent_frames - 1)
        self.sample_rate = audio.spec.sample_rate
        self.clip_samples = round(self.clip_frames / fps * self.sample_rate)
        self.bundle_id = bundle_id
        self.bundle_sha256 = bundle_sha256  # of manifest.json: names the exact weights

    @classmethod
    def open(cls, bundle: str | os.PathLike[str] | None = None, threads: int | None = None):
        """Load and verify a bundle (the default one when None) and open its graphs."""
        loaded = load_bundle(bundle)
        return cls.from_bundle(loaded, threads)

    @classmethod
    def from_bundle(cls, bundle: Bundle, threads: int | None = None) -> Pipeline:
        def path(name: str) -> Path:
            return bundle.file(bundle.model(name).file)

        text_config = bundle.model(TEXT_ENCODER).config
        TextEncoderSpec.from_config(text_config)  # refuses a graph made for another prefix
        text = TextEncoder(path(TEXT_ENCODER), bundle.file(text_config["tokenizer"]), threads)
        video_spec = VideoCodecSpec.from_config(bundle.model(VIDEO_ENCODER).config)
        video = VideoCodec(path(VIDEO_ENCODER), path(VIDEO_DECODER), video_spec, threads)
        audio_spec = AudioCodecSpec.from_config(bundle.model(AUDIO_ENCODER).config)
        audio = AudioCodec(path(AUDIO_ENCODER), path(AUDIO_DECODER), audio_spec, threads)
        lm_spec = LMSpec.from_config(bundle.model(LM).config)
        lm = LMEngine(path(LM), lm_spec, bundle.token_layout, threads)
        fps = int(bundle.model(VIDEO_ENCODER).config.get("fps", 8))
        manifest_sha256 = _manifest_sha256(bundle)
        return cls(text, video, audio, lm, fps, bundle.manifest.bundle_id, manifest_sha256)

    # -- one task ---------------------------------------------------------------------------
    def run(
        self,
        task: Task,
        prompt: str = "",
        video: np.ndarray | None = None,
        audio: np.ndarray | None = None,
        box: Region | None = None,
        sampling: SamplingConfig = SamplingConfig(),  # noqa: B008 (frozen)
        on_step: ProgressCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Output:
        """One clip of the task. `video`: (T, size, size, 3) uint8 frames (an image is one
        frame); `audio`: (clip_samples,) mono; `box`: the region to regenerate (inpainting: a Box,
        or a bool mask of (size, size) or (T, size, size)) or to keep (outpainting: a Box)."""
        task = Task(task)
        inputs = self._inputs(task, video, audio, box)
        text, mask = self.text.encode([prompt])
        request = GenerationRequest(task, text[0], mask[0], **inputs)
        codes = self.lm.generate(request, sampling, on_step, cancelled)
        if TASK_SHAPES[task].output == "audio":
            return Output(None, self._decode_audio(codes))
        frames = self._decode_video(codes)
        if task in (Task.INPAINT, Task.OUTPAINT):
            frames = _composite(frames, self._clip(video), box, inside=task == Task.INPAINT)
        return Output(frames, None)

    def extend(
        self,
        video: np.ndarray,
        clips: int,
        prompt: str = "",
        sampling: SamplingConfig = SamplingConfig(),  # noqa: B008
        on_step: ProgressCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """`clips` more clips after `video` (at least one clip long), each conditioned on the
        clip before it; returns only the new frames, (clips * clip_frames, size, size, 3)."""
        if not 1 <= clips <= 64:
            raise InvalidRequestError(f"clips must be in 1..64, got {clips}")
        current = self._frames(video, at_least=self.clip_frames)[-self.clip_frames :]
        steps = self.layout.output_length(Task.CONTINUATION)
        pieces = []
        for n in range(clips):
            progress = None
            if on_step is not None:
                progress = lambda i, _, n=n: on_step(n * steps + i, clips * steps)  # noqa: E731
            seed = sampling.seed + n  # each piece its own draw, all fixed by the one seed
            piece_sampling = SamplingConfig(**{**sampling.__dict__, "seed": seed})
            out = self.run(
                Task.CONTINUATION, prompt, current, None, None, piece_sampling, progress, cancelled
            )
            pieces.append(out.frames)
            current = out.frames
        return np.concatenate(pieces)

    def rate(self, video: np.ndarray, prompt: str = "", cancelled=None) -> float:
        """The LM's score of one clip: mean log-probability (nats per token) of its video codes
        as a text-to-video output for `prompt` (higher: the model finds it likelier)."""
        codes = self.video.encode(self._clip(video)).reshape(-1).tolist()
        text, mask = self.text.encode([prompt])
        request = GenerationRequest(Task.TEXT_TO_VIDEO, text[0], mask[0])
        return self.lm.log_likelihood(request, codes, cancelled)

    # -- inputs and outputs -----------------------------------------------------------------
    def _inputs(self, task: Task, video, audio, box) -> dict:
        shape = TASK_SHAPES[task]
        if not shape.video_in and video is not None:
            raise InvalidRequestError(f"{task.value} takes no video input")
        if not shape.audio_in and audio is not None:
            raise InvalidRequestError(f"{task.value} takes no audio input")
        if (task in (Task.INPAINT, Task.OUTPAINT)) != (box is not None):
            raise InvalidRequestError("a box is needed by inpaint and outpaint, and only by them")
        if shape.audio_in:
            return {"audio_in": self._audio_codes(audio)}
        if not shape.video_in:
            return {}
        if task == Task.IMAGE_TO_VIDEO:
            image = self._frames(video, at_least=1)[:1]
            return {"video_in": self.video.encode(image).reshape(-1).tolist()}
        clip = self._clip(video).astype(np.float32) / 255
        if task == Task.INPAINT:
            clip = blank_inside(clip, self._region(box))
        elif task == Task.OUTPAINT:
            clip = blank_outside(clip, box.checked(self.size, self.size))
        elif task == Task.STYLIZE:
            clip = luma(clip)
        return {"video_in": self.video.encode(clip).reshape(-1).tolist()}

    def _region(self, region: Region) -> Region:
        if isinstance(region, Box):
            return region.checked(self.size, self.size)
        mask = np.asarray(region)
        if mask.dtype != bool or mask.shape not in (
            (self.size,) * 2,
            (self.clip_frames,) + (self.size,) * 2,
        ):
            raise InvalidRequestError(
                f"an inpainting mask is bool ({self.size}, {self.size}) or "
                f"({self.clip_frames}, {self.size}, {self.size}), got {mask.dtype} {mask.shape}"
            )
        return mask

    def _frames(self, video, at_least: int) -> np.ndarray:
        if video is None:
            raise InvalidRequestError("this task needs video input")
        frames = np.asarray(video)
        if frames.ndim == 3:
            frames = frames[None]  # one image
        if frames.ndim != 4 or frames.shape[1:] != (self.size, self.size, 3):
            raise InvalidRequestError(
                f"video must be (T, {self.size}, {self.size}, 3) frames, got {frames.shape}"
            )
        if frames.dtype != np.uint8:
            raise InvalidRequestError(f"video frames must be uint8, not {frames.dtype}")
        if len(frames) < at_least:
            raise InvalidRequestError(
                f"this task needs at least {at_least} frames ({at_least / self.fps:.3g} s at "
                f"{self.fps} fps), got {len(frames)}"
            )
        return frames

    def _clip(self, video) -> np.ndarray:
        frames = self._frames(video, at_least=self.clip_frames)
        if len(frames) != self.clip_frames:
            raise InvalidRequestError(
                f"this task takes one clip of exactly {self.clip_frames} frames, got {len(frames)}"
            )
        return frames

    def _audio_codes(self, audio) -> list[int]:
        if audio is None:
            raise InvalidRequestError("this task needs audio input")
        samples = np.asarray(audio, dtype=np.float32)
        if samples.shape != (self.clip_samples,):
            raise InvalidRequestError(
                f"audio must be one clip of {self.clip_samples} mono samples at "
                f"{self.sample_rate} Hz, got shape {samples.shape}"
            )
        return self.audio.encode(samples, self.sample_rate).reshape(-1).tolist()

    def _decode_video(self, codes: list[int]) -> np.ndarray:
        side = self.size // 8
        return self.video.decode(np.asarray(codes, dtype=np.int64).reshape(-1, side, side))

    def _decode_audio(self, codes: list[int]) -> np.ndarray:
        levels = self.layout.audio_levels
        grid = np.asarray(codes, dtype=np.int64).reshape(-1, levels)
        return self.audio.decode(grid, num_samples=self.clip_samples)


def _manifest_sha256(bundle: Bundle) -> str:
    """sha256 of the bundle's manifest.json: one digest that pins every file's sha256 (the
    bundle id keeps only 8 hex digits of a content hash). Results carry it as provenance."""
    return hashlib.sha256((bundle.root / MANIFEST_NAME).read_bytes()).hexdigest()


def _composite(
    generated: np.ndarray, source: np.ndarray, region: Region, inside: bool
) -> np.ndarray:
    """The generated frames where the task filled, the source's pixels where it kept."""
    mask = region_mask(region, generated.shape[:3])
    fill = mask if inside else ~mask
    return np.where(fill[..., None], generated, source)
