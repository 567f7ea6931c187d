"""``read_video``: frame-accurate reads of a time range, at the source or a chosen frame rate."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from fractions import Fraction

import av
import numpy as np

from reelpoet.sdk.errors import InvalidRequestError, InvalidTimeRangeError, UnsupportedMediaError
from reelpoet.sdk.media.clip import Clip
from reelpoet.sdk.media.decode_video import TimedFrame, decode_frames
from reelpoet.sdk.media.frame_buffer import FrameBuffer
from reelpoet.sdk.media.params import (
    Fit,
    check_channels,
    check_fps,
    check_sample_rate,
    check_size_and_fit,
)
from reelpoet.sdk.media.read_audio import AudioRequest, decode_audio
from reelpoet.sdk.media.resize import place_frame, placement
from reelpoet.sdk.media.source import clock_for, open_media, stream_start_s, video_fps
from reelpoet.sdk.media.timerange import SNAP_S, Span, TimeRangeLike, resolve_range

Convert = Callable[[av.VideoFrame], np.ndarray]

# Refuse reads whose frames alone would need more memory than this (e.g. a whole film at 4K).
MAX_CLIP_BYTES = 16 * 1024**3


def _source_frames(
    frames: Iterable[TimedFrame], span: Span, out: FrameBuffer, convert: Convert
) -> Fraction | None:
    """Append the frames with ``span.start <= t < span.end``; return the time of the first."""
    first: Fraction | None = None
    for t, frame in frames:
        if t >= span.end - SNAP_S:
            break
        if t >= span.start - SNAP_S:
            first = t if first is None else first
            out.append(convert(frame))
    return first


def output_count(span: Span, fps: Fraction) -> int:
    """How many ``t_k = start + k / fps`` fall before ``span.end`` (snapping the end)."""
    return max(0, math.ceil((span.duration - SNAP_S) * fps))


def _held_frames(
    frames: Iterable[TimedFrame], span: Span, fps: Fraction, out: FrameBuffer, convert: Convert
) -> None:
    """For each ``t_k``, append the frame on screen then: the latest with ``t <= t_k``, or the
    first frame while ``t_k`` precedes it."""
    count = output_count(span, fps)
    held: av.VideoFrame | None = None
    held_rgb: np.ndarray | None = None
    for t, frame in frames:
        held = frame if held is None else held  # before the first frame, the first one shows
        while len(out) < count and t > span.start + len(out) / fps + SNAP_S:
            if held_rgb is None:  # converted once, however many outputs show it
                held_rgb = convert(held)
            out.append(held_rgb)
        if len(out) == count:
            break
        if frame is not held:
            held, held_rgb = frame, None
    if len(out) < count and held is not None:  # end of file: the last frame stays on screen
        last = held_rgb if held_rgb is not None else convert(held)
        while len(out) < count:
            out.append(last)


def _converter(src: tuple[int, int], sized: tuple[tuple[int, int], Fit] | None) -> Convert:
    if sized is None:
        return lambda frame: frame.to_ndarray(format="rgb24")
    where = placement(src, sized[0], sized[1])
    return lambda frame: place_frame(frame, where)


def _check_memory(span: Span, fps: Fraction, size: tuple[int, int]) -> None:
    frames = output_count(span, fps) + 1
    need = frames * size[0] * size[1] * 3
    if need > MAX_CLIP_BYTES:
        raise InvalidRequestError(
            f"reading {frames} frames at {size[0]}x{size[1]} would need {need / 1024**3:.0f} GiB; "
            f"read a shorter time_range, a lower fps or a smaller size (limit "
            f"{MAX_CLIP_BYTES / 1024**3:.0f} GiB)"
        )


def _audio(
    container: av.container.InputContainer, start: Fraction, duration: Fraction, rate: int, ch: int
) -> np.ndarray:
    """The clip's sound; silence of the right length when the file has no audio stream."""
    req = AudioRequest(start, round(duration * rate), rate, ch)
    if not container.streams.audio:
        return np.zeros((req.length, ch), np.float32)
    stream = container.streams.audio[0]
    origin = stream_start_s(container.streams.video[0])
    return decode_audio(container, stream, clock_for(container, stream, origin), req)


def _video_stream(container: av.container.InputContainer, path: object):
    if not container.streams.video:
        raise UnsupportedMediaError(
            f"{path} has no video stream (audio only?); use read_audio for sound"
        )
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame threads: several times faster on large H.264
    return stream


def _frames(
    decoded: Iterable[TimedFrame],
    span: Span,
    out_fps: Fraction | None,
    buffer: FrameBuffer,
    convert: Convert,
) -> Fraction:
    """Fill ``buffer`` from ``decoded``; return the source time of the first frame."""
    if out_fps is not None:
        _held_frames(decoded, span, out_fps, buffer, convert)
        return span.start
    first = _source_frames(decoded, span, buffer, convert)
    return first if first is not None else span.start


def read_video(
    path: str | os.PathLike[str],
    time_range: TimeRangeLike | None = None,
    *,
    fps: float | Fraction | None = None,
    size: tuple[int, int] | None = None,
    fit: Fit | None = None,
    audio_rate: int | None = None,
    audio_channels: int = 1,
) -> Clip:
    """Read the frames of ``time_range`` (``[start, end)`` s from the first frame; None = all).

    ``fps=None`` returns exactly the source frames with ``start <= pts < end``; with ``fps`` frame
    k shows what is on screen at ``start + k / fps``. ``size=(w, h)`` needs an explicit ``fit``.
    ``audio_rate`` (Hz) also reads the sound, aligned to the frames; None reads no audio.
    """
    out_fps = None if fps is None else check_fps(fps)
    sized = check_size_and_fit(size, fit)
    if audio_rate is not None:
        audio_rate = check_sample_rate(audio_rate, "audio_rate")
        audio_channels = check_channels(audio_channels)
    with open_media(path) as container:
        stream = _video_stream(container, path)
        clock = clock_for(container, stream, stream_start_s(stream))
        span = resolve_range(time_range, clock.end_s, path)
        rate = out_fps or video_fps(stream)
        src_size = (stream.codec_context.width, stream.codec_context.height)
        _check_memory(span, rate, sized[0] if sized else src_size)
        decoded = decode_frames(container, stream, clock, span, video_fps(stream))
        frames = FrameBuffer(output_count(span, rate) + 1)
        start = _frames(decoded, span, out_fps, frames, _converter(src_size, sized))
        if not frames:
            raise InvalidTimeRangeError(
                f"[{float(span.start)}, {float(span.end)}) s of {path} contains no frame; "
                f"frames are {float(1 / video_fps(stream)):.4f} s apart"
            )
        audio = None
        if audio_rate is not None:
            audio = _audio(container, start, len(frames) / rate, audio_rate, audio_channels)
    return Clip(frames.array(), rate, float(start), audio, audio_rate)
