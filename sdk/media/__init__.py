"""Media I/O for reelpoet: probe, read, resize, resample, conform and write video and audio.

Everything here is plain PyAV + numpy (no torch). Times are seconds measured from the first frame
of the video stream (or of the audio stream for audio-only files); ranges are ``[start, end)``.
Sizes are always ``(width, height)``. See ``docs/media.md`` for conventions and the error table.
"""

from __future__ import annotations

from reelpoet.sdk.media.clip import Clip
from reelpoet.sdk.media.conform import conform
from reelpoet.sdk.media.info import AudioInfo, MediaInfo, VideoInfo
from reelpoet.sdk.media.probe import probe
from reelpoet.sdk.media.read_audio import read_audio
from reelpoet.sdk.media.read_video import read_video
from reelpoet.sdk.media.resample import resample_audio
from reelpoet.sdk.media.resize import Fit, resize_frames
from reelpoet.sdk.media.timerange import TimeRangeLike
from reelpoet.sdk.media.wav import write_wav
from reelpoet.sdk.media.write import write_video

__all__ = [
    "AudioInfo",
    "Clip",
    "Fit",
    "MediaInfo",
    "TimeRangeLike",
    "VideoInfo",
    "conform",
    "probe",
    "read_audio",
    "read_video",
    "resample_audio",
    "resize_frames",
    "write_video",
    "write_wav",
]
