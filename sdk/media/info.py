"""What ``probe`` reports about a media file."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream. ``frame_count`` comes from the container index when it has one,
    else it is estimated as ``round(duration_s * fps)`` (WebM/Matroska keep no count)."""

    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration_s: float
    codec: str


@dataclass(frozen=True)
class AudioInfo:
    """The first audio stream."""

    sample_rate: int
    channels: int
    duration_s: float
    codec: str


@dataclass(frozen=True)
class MediaInfo:
    """A media file: its duration and the first stream of each kind (``None`` if absent)."""

    path: Path
    duration_s: float
    video: VideoInfo | None
    audio: AudioInfo | None
