"""Opening a media file for reading, and the clock of its streams.

All PyAV/OS errors raised while opening are mapped here to reelpoet's MediaError classes, so
the readers above never see a bare ``av.error``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

from reelpoet.sdk.errors import (
    CorruptMediaError,
    MediaError,
    MediaNotFoundError,
    UnsupportedMediaError,
)

# Leading bytes of the containers we expect. A file that starts like one of these but will not
# open is damaged (typically cut short), not merely unsupported.
_MAGIC = (
    (4, b"ftyp"),  # MP4 / MOV
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # WAV / AVI
    (0, b"ID3"),  # MP3 with tags
    (0, b"OggS"),
    (0, b"fLaC"),
)


def media_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path after checking it names a non-empty regular file."""
    p = Path(os.fspath(path))
    if not p.exists():
        raise MediaNotFoundError(f"media file not found: {p} (check the path and working folder)")
    if not p.is_file():
        raise UnsupportedMediaError(f"{p} is not a regular file (a folder?); pass a media file")
    if p.stat().st_size == 0:
        raise CorruptMediaError(
            f"{p} is empty (0 bytes); it was probably not written or copied completely"
        )
    return p


def _looks_like_media(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(16)
    return any(head[at : at + len(magic)] == magic for at, magic in _MAGIC)


def _open_error(path: Path, exc: Exception) -> MediaError:
    if isinstance(exc, PermissionError):
        return MediaError(f"cannot read {path}: permission denied")
    if isinstance(exc, av.error.InvalidDataError) and _looks_like_media(path):
        return CorruptMediaError(
            f"{path} looks like a media file but cannot be opened; it seems truncated or "
            f"damaged (for MP4/MOV the index may be missing). Re-export or re-copy it."
        )
    return UnsupportedMediaError(
        f"{path} is not a media file PyAV/FFmpeg can open ({exc}); "
        f"use a common format such as MP4, MOV, WebM, WAV or MP3"
    )


@contextmanager
def open_media(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading, mapping every failure to a MediaError; always closes it."""
    p = media_path(path)
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        raise _open_error(p, exc) from exc
    try:
        yield container
    finally:
        container.close()


@dataclass(frozen=True)
class StreamClock:
    """Maps a stream's integer pts to seconds from the media's origin (its first frame)."""

    time_base: Fraction
    origin_s: Fraction  # stream time, in seconds, of the media's first frame
    end_s: Fraction  # duration from the origin
    # True when end_s is the stream's own duration; False when only the container's (which may
    # be set by a longer audio track), so frames ending early there do not mean truncation.
    exact_end: bool = True

    def seconds(self, pts: int) -> Fraction:
        return pts * self.time_base - self.origin_s

    def pts(self, seconds: Fraction) -> int:
        return int((seconds + self.origin_s) / self.time_base)


def stream_start_s(stream: av.stream.Stream) -> Fraction:
    """Stream time of its first frame (nonzero for e.g. broadcast files); 0 if not declared."""
    if stream.start_time is None or stream.time_base is None:
        return Fraction(0)
    return stream.start_time * stream.time_base


def _tag_duration_s(stream: av.stream.Stream) -> Fraction | None:
    """Matroska/WebM muxers write each stream's length as a ``DURATION`` tag (HH:MM:SS.fff)."""
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    try:
        hours, minutes, seconds = str(tag).split(":")
        return (int(hours) * 60 + int(minutes)) * 60 + Fraction(seconds)
    except ValueError:
        return None


def own_duration_s(stream: av.stream.Stream) -> Fraction | None:
    """The duration the stream itself declares, if any."""
    if stream.duration and stream.time_base is not None:
        return stream.duration * stream.time_base
    return _tag_duration_s(stream)


def stream_duration_s(container: av.container.InputContainer, stream: av.stream.Stream) -> Fraction:
    """How long ``stream`` lasts from its own first frame, from the best declared value."""
    own = own_duration_s(stream)
    if own:
        return own
    if container.duration:
        container_start = Fraction(container.start_time or 0, av.time_base)
        total = Fraction(container.duration, av.time_base)
        return max(Fraction(0), total - (stream_start_s(stream) - container_start))
    raise UnsupportedMediaError(
        f"{container.name} declares no duration; remux it into MP4/MKV (e.g. ffmpeg -c copy)"
    )


def clock_for(
    container: av.container.InputContainer, stream: av.stream.Stream, origin_s: Fraction
) -> StreamClock:
    """The clock of ``stream`` measured from ``origin_s`` (stream time of the media's origin)."""
    assert stream.time_base is not None, "demuxed streams always have a time base"
    end = stream_duration_s(container, stream) + stream_start_s(stream) - origin_s
    exact = bool(own_duration_s(stream))
    return StreamClock(Fraction(stream.time_base), origin_s, end, exact)


def video_fps(stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's frame rate; guessed by FFmpeg when the container does not declare one."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise UnsupportedMediaError(f"video stream {stream.index} declares no frame rate")
    return Fraction(rate)
