"""``probe``: what a media file contains, without decoding it."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from reelpoet.sdk.media.info import AudioInfo, MediaInfo, VideoInfo
from reelpoet.sdk.media.source import open_media, stream_duration_s, video_fps


def _video_info(container: av.container.InputContainer) -> VideoInfo | None:
    if not container.streams.video:
        return None
    stream = container.streams.video[0]
    fps = video_fps(stream)
    duration = stream_duration_s(container, stream)
    # Matroska/WebM keep no frame count; the estimate is exact for constant-rate video.
    frame_count = stream.frames or round(duration * fps)
    ctx = stream.codec_context
    return VideoInfo(ctx.width, ctx.height, fps, int(frame_count), float(duration), ctx.name)


def _audio_info(container: av.container.InputContainer) -> AudioInfo | None:
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    duration = float(stream_duration_s(container, stream))
    return AudioInfo(int(ctx.sample_rate), int(ctx.channels), duration, ctx.name)


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe ``path``: duration and the first video and audio streams (``None`` if absent).

    Raises MediaNotFoundError, UnsupportedMediaError (not media) or CorruptMediaError.
    """
    with open_media(path) as container:
        video = _video_info(container)
        audio = _audio_info(container)
        if container.duration:
            duration = float(Fraction(container.duration, av.time_base))
        else:
            duration = max((s.duration_s for s in (video, audio) if s is not None), default=0.0)
        return MediaInfo(
            path=Path(os.fspath(path)),
            duration_s=duration,
            video=video,
            audio=audio,
        )
