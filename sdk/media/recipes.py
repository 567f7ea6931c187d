"""Which codecs ``write_video`` uses for each container extension and quality."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reelpoet.sdk.errors import InvalidRequestError

QUALITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Recipe:
    """Muxer, video and audio encoder settings for one output file."""

    container: str
    video_codec: str
    pix_fmt: str
    video_options: dict[str, str] = field(default_factory=dict)
    audio_codec: str = "aac"
    audio_format: str = "fltp"
    audio_bit_rate: int | None = None
    even_sizes: bool = False  # 4:2:0 subsamples chroma in both directions


def _mp4(quality: str) -> Recipe:
    crf = {"high": "16", "medium": "20", "low": "26"}[quality]
    bit_rate = {"high": 192_000, "medium": 128_000, "low": 96_000}[quality]
    # yuv420p H.264 High profile plays everywhere; faststart puts the index first for streaming.
    options = {"crf": crf, "preset": "medium"}
    return Recipe("mp4", "libx264", "yuv420p", options, "aac", "fltp", bit_rate, even_sizes=True)


def _mov(quality: str) -> Recipe:
    # ProRes 422 HQ / 422 / LT, 10-bit: the intermediate NLEs import without transcoding.
    profile = {"high": "3", "medium": "2", "low": "1"}[quality]
    options = {"profile": profile, "vendor": "apl0"}
    return Recipe("mov", "prores_ks", "yuv422p10le", options, "pcm_s16le", "s16")


def recipe_for(path: Path, quality: str) -> Recipe:
    """The recipe for ``path``'s extension; unknown extensions or qualities are refused."""
    if quality not in QUALITIES:
        raise InvalidRequestError(f"quality must be one of {QUALITIES}, got {quality!r}")
    ext = path.suffix.lower()
    if ext == ".mp4":
        return _mp4(quality)
    if ext == ".mov":
        return _mov(quality)
    raise InvalidRequestError(
        f"cannot write {path.name}: use .mp4 (H.264 + AAC, for delivery) or "
        f".mov (ProRes 422 + PCM, for editing)"
    )
