"""Decoding video frames in presentation order from (at or before) a start time.

Seeks near the start instead of decoding from the beginning, and falls back to the beginning
when the demuxer lands after the start. Decode errors and streams that stop before their
declared end become CorruptMediaError; the loop always ends at end of file.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error

from reelpoet.sdk.errors import CorruptMediaError
from reelpoet.sdk.media.source import StreamClock
from reelpoet.sdk.media.timerange import SNAP_S, Span

TimedFrame = tuple[Fraction, av.VideoFrame]


def _decode(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    clock: StreamClock,
    fps: Fraction,
) -> Iterator[TimedFrame]:
    """Every frame from the current position to end of file, with its time in seconds."""
    last: Fraction | None = None
    for frame in container.decode(stream):
        # A few raw streams carry no pts; assume constant rate from the previous frame.
        if frame.pts is not None:
            t = clock.seconds(frame.pts)
        else:
            t = Fraction(0) if last is None else last + 1 / fps
        last = t
        yield t, frame


def _seek(container: av.container.InputContainer, stream: av.stream.Stream, pts: int) -> bool:
    """Seek to the keyframe at or before ``pts``; False if the demuxer cannot seek."""
    try:
        container.seek(pts, stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        return False
    return True


def _from_start(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    clock: StreamClock,
    start: Fraction,
    fps: Fraction,
) -> Iterator[TimedFrame]:
    """Frames beginning with one at or before ``start`` (or with the first frame)."""
    if start > SNAP_S and _seek(container, stream, clock.pts(start)):
        frames = _decode(container, stream, clock, fps)
        first = next(frames, None)
        # Backward seeks can still land late on files with a sparse or broken index.
        if first is not None and (first[0] <= start + SNAP_S or first[0] <= SNAP_S):
            yield first
            yield from frames
            return
        if not _seek(container, stream, clock.pts(Fraction(0))):
            raise CorruptMediaError(f"cannot return to the start of {container.name}")
    # Either back at the start, or no seek happened and decoding begins where the file opened.
    yield from _decode(container, stream, clock, fps)


def decode_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    clock: StreamClock,
    span: Span,
    fps: Fraction,
) -> Iterator[TimedFrame]:
    """Frames from one at or before ``span.start``; the caller stops once past ``span.end``.

    Reaching end of file well before ``span.end`` means the file was cut short.
    """
    last: Fraction | None = None
    try:
        for t, frame in _from_start(container, stream, clock, span.start, fps):
            last = t
            yield t, frame
    except av.error.FFmpegError as exc:
        at = "the start" if last is None else f"{float(last):.3f} s"
        raise CorruptMediaError(
            f"{Path(container.name).name} could not be decoded after {at} ({exc}); "
            f"the file seems truncated or damaged. Re-export or re-copy it."
        ) from exc
    slack = max(Fraction(3, 2) / fps, Fraction(1, 10))
    if clock.exact_end and (last is None or last + slack < span.end):
        got = "no frames" if last is None else f"frames up to {float(last):.3f} s"
        raise CorruptMediaError(
            f"{container.name} declares video up to {float(clock.end_s):.3f} s but has {got}; "
            f"the file seems truncated. Re-export or re-copy it."
        )
