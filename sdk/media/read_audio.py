"""Reading audio, alone (``read_audio``) or as the sound of a video clip (``decode_audio``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import numpy as np

from reelpoet.sdk.errors import CorruptMediaError, UnsupportedMediaError
from reelpoet.sdk.media.params import check_channels, check_sample_rate
from reelpoet.sdk.media.resample import convert_frames, fit_length
from reelpoet.sdk.media.source import StreamClock, clock_for, open_media, stream_start_s
from reelpoet.sdk.media.timerange import SNAP_S, TimeRangeLike, resolve_range

# Seek this far before the wanted start: AAC/MP3 need a frame or two of pre-roll to decode
# cleanly after a seek, and demuxers without a precise index land only roughly.
_PREROLL_S = Fraction(1, 2)


@dataclass(frozen=True)
class AudioRequest:
    """``length`` samples at ``rate`` Hz and ``channels`` channels starting at ``start`` s."""

    start: Fraction
    length: int
    rate: int
    channels: int

    @property
    def end(self) -> Fraction:
        return self.start + Fraction(self.length, self.rate)


def _frames_from(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, seek_pts: int
) -> Iterator[av.AudioFrame]:
    try:
        container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        container.seek(0, stream=stream, backward=True)
    yield from container.decode(stream)


def _decoded(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    clock: StreamClock,
    req: AudioRequest,
) -> tuple[Fraction, np.ndarray]:
    """Resampled audio from a frame at or before ``req.start``, and the time of its sample 0."""
    for attempt_start in (max(Fraction(0), req.start - _PREROLL_S), Fraction(0)):
        t0: Fraction | None = None
        kept: list[av.AudioFrame] = []
        for frame in _frames_from(container, stream, clock.pts(attempt_start)):
            t = clock.seconds(frame.pts) if frame.pts is not None else None
            if t0 is None:
                t0 = t if t is not None else attempt_start
            if t is not None and t >= req.end:
                break
            kept.append(frame)
        # A late landing (t0 after start, not because the audio itself starts late): retry
        # from the beginning, unless this already was the beginning.
        if t0 is None or t0 <= req.start + SNAP_S or attempt_start == 0:
            break
    samples = convert_frames(kept, req.rate, req.channels)
    return (t0 if t0 is not None else req.start), samples


def decode_audio(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    clock: StreamClock,
    req: AudioRequest,
) -> np.ndarray:
    """Exactly ``req.length`` samples, sample 0 at ``req.start``; silence where there is none."""
    try:
        t0, samples = _decoded(container, stream, clock, req)
    except av.error.FFmpegError as exc:
        raise CorruptMediaError(
            f"the audio of {container.name} could not be decoded ({exc}); "
            f"the file seems truncated or damaged"
        ) from exc
    offset = round((req.start - t0) * req.rate)
    if offset >= 0:
        samples = samples[offset:]
    else:  # the audio track starts after the requested start
        samples = np.concatenate([np.zeros((-offset, req.channels), np.float32), samples])
    return fit_length(samples, req.length)


def media_origin_s(container: av.container.InputContainer) -> Fraction:
    """Stream time of the media's first frame: the video's if there is video, else the audio's."""
    streams = container.streams.video or container.streams.audio
    return stream_start_s(streams[0]) if streams else Fraction(0)


def read_audio(
    path: str | os.PathLike[str],
    time_range: TimeRangeLike | None = None,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read audio from any file PyAV opens (WAV, MP3, the sound of a video) as ``(N, C)`` float32.

    ``sample_rate``/``channels`` default to the file's. Times are seconds from the media's first
    frame (the video's, for a video file), and the result has ``round(duration * rate)`` samples.
    """
    rate = None if sample_rate is None else check_sample_rate(sample_rate)
    n_channels = None if channels is None else check_channels(channels)
    with open_media(path) as container:
        if not container.streams.audio:
            raise UnsupportedMediaError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        clock = clock_for(container, stream, media_origin_s(container))
        span = resolve_range(time_range, clock.end_s, path)
        rate = rate or int(stream.codec_context.sample_rate)
        n_channels = n_channels or min(int(stream.codec_context.channels), 8)
        req = AudioRequest(span.start, round(span.duration * rate), rate, n_channels)
        return decode_audio(container, stream, clock, req), rate
