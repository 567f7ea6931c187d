"""``write_video``: encode frames (and optional audio) to MP4 (H.264/AAC) or MOV (ProRes/PCM).

The frame rate stays an exact Fraction (30000/1001 is written as such), colours are encoded as
BT.709 limited range and tagged so, and the file appears only once complete
(see ``reelpoet.sdk.atomic_file``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media.params import check_audio, check_fps, check_frames, check_sample_rate
from reelpoet.sdk.media.recipes import Recipe, recipe_for
from reelpoet.sdk.media.resample import layout_name
from reelpoet.sdk.media.wav import to_int16

_BT709 = 1  # ITU-R BT.709 in FFmpeg's colour enums (AVCOL_SPC/PRI/TRC_BT709)
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG: 16..235, what players expect from H.264 and ProRes
_AUDIO_CHUNK = 1024  # samples per frame handed to the encoder (AAC's own frame size)


@dataclass(frozen=True)
class _Sound:
    samples: np.ndarray  # (N, C) float32
    rate: int


def _check_sound(audio: np.ndarray | None, sample_rate: int | None) -> _Sound | None:
    if audio is None:
        if sample_rate is not None:
            raise InvalidRequestError("sample_rate was given without audio; pass audio= too")
        return None
    if sample_rate is None:
        raise InvalidRequestError("audio was given without sample_rate; pass sample_rate= (Hz)")
    return _Sound(check_audio(audio), check_sample_rate(sample_rate))


def _check_even(frames: np.ndarray, recipe: Recipe) -> None:
    height, width = frames.shape[1:3]
    if recipe.even_sizes and (width % 2 or height % 2):
        raise InvalidRequestError(
            f"{width}x{height} cannot be written as H.264 4:2:0 (.mp4): width and height must "
            f"be even; crop or resize by one pixel, or write .mov (ProRes 4:2:2)"
        )


def _video_stream(
    out: av.container.OutputContainer, recipe: Recipe, fps: Fraction, size: tuple[int, int]
) -> av.video.stream.VideoStream:
    stream = out.add_stream(recipe.video_codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = recipe.pix_fmt
    stream.options = dict(recipe.video_options)
    ctx = stream.codec_context
    ctx.colorspace, ctx.color_primaries, ctx.color_trc = _BT709, _BT709, _BT709
    ctx.color_range = _LIMITED_RANGE
    return stream


def _audio_stream(
    out: av.container.OutputContainer, recipe: Recipe, sound: _Sound
) -> av.audio.stream.AudioStream:
    layout = layout_name(sound.samples.shape[1])
    stream = out.add_stream(recipe.audio_codec, rate=sound.rate, layout=layout)
    if recipe.audio_bit_rate:
        stream.bit_rate = recipe.audio_bit_rate
    return stream


def _video_frame(rgb: np.ndarray, recipe: Recipe, index: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format=recipe.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG"
    )
    frame.pts = index
    return frame


def _audio_frame(chunk: np.ndarray, recipe: Recipe, rate: int, pts: int) -> av.AudioFrame:
    layout = layout_name(chunk.shape[1])
    if recipe.audio_format == "s16":  # packed int16: (1, N * C)
        frame = av.AudioFrame.from_ndarray(to_int16(chunk).reshape(1, -1), "s16", layout)
    else:  # planar float: (C, N)
        data = np.ascontiguousarray(np.clip(chunk, -1.0, 1.0).T, np.float32)
        frame = av.AudioFrame.from_ndarray(data, recipe.audio_format, layout)
    frame.sample_rate, frame.pts = rate, pts
    return frame


def _send_audio(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    recipe: Recipe,
    sound: _Sound,
    upto: int,
    sent: int,
) -> int:
    """Encode samples ``sent..upto``; returns the new ``sent``."""
    upto = min(upto, sound.samples.shape[0])
    for start in range(sent, upto, _AUDIO_CHUNK):
        chunk = sound.samples[start : min(start + _AUDIO_CHUNK, upto)]
        out.mux(stream.encode(_audio_frame(chunk, recipe, sound.rate, start)))
    return max(sent, upto)


def _encode(
    tmp: Path, recipe: Recipe, frames: np.ndarray, fps: Fraction, sound: _Sound | None
) -> None:
    # faststart: the MP4 index goes before the data, so players can start before the download ends.
    options = {"movflags": "+faststart"} if recipe.container == "mp4" else {}
    with av.open(str(tmp), "w", format=recipe.container, options=options) as out:
        video = _video_stream(out, recipe, fps, (frames.shape[2], frames.shape[1]))
        audio = _audio_stream(out, recipe, sound) if sound else None
        sent = 0
        for index, rgb in enumerate(frames):
            out.mux(video.encode(_video_frame(rgb, recipe, index)))
            if audio is not None and sound is not None:  # interleave: audio up to this frame's end
                upto = round((index + 1) / fps * sound.rate)
                sent = _send_audio(out, audio, recipe, sound, upto, sent)
        out.mux(video.encode(None))
        if audio is not None and sound is not None:
            _send_audio(out, audio, recipe, sound, sound.samples.shape[0], sent)
            out.mux(audio.encode(None))


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    fps: float | Fraction,
    *,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    quality: str = "high",
) -> Path:
    """Write ``(T, H, W, 3)`` uint8 RGB frames at ``fps`` (kept exact) with optional audio.

    ``.mp4``: H.264 yuv420p + AAC (even width and height required). ``.mov``: ProRes 422 10-bit +
    16-bit PCM, for editing round trips. ``quality`` is "high", "medium" or "low". The file
    appears only when complete; on failure nothing is left and an existing file is untouched.
    """
    dest = Path(os.fspath(path))
    recipe = recipe_for(dest, quality)
    frames = check_frames(frames)
    _check_even(frames, recipe)
    rate = check_fps(fps)
    sound = _check_sound(audio, sample_rate)
    with atomic_output(dest) as tmp:
        _encode(tmp, recipe, frames, rate, sound)
    return dest
