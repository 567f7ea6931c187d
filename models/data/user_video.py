"""Random fixed-length windows from a folder of the user's own video, for fine-tuning.

Files are decoded by `reelpoet.sdk.media`, the same code the runtime uses, so a model sees
training media exactly as it will see media at inference. Files that cannot be used are skipped
and listed with the reason, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError, MediaError
from reelpoet.sdk.media import Fit, probe, read_video

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mxf", ".mpg"})


@dataclass(frozen=True)
class WindowSpec:
    """What one training window is: the model's clip length, rate and size."""

    num_frames: int = 17  # 1 + 4k: the tokenizer codes frame 0 alone, then groups of 4
    fps: int = 8
    size: tuple[int, int] = (64, 64)  # (width, height)
    fit: Fit = "crop"

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.fps <= 0 or min(self.size) <= 0:
            raise InvalidRequestError(f"A window needs positive frames, fps and size: {self}")

    @property
    def duration_s(self) -> Fraction:
        return Fraction(self.num_frames, self.fps)


@dataclass(frozen=True)
class _UsableVideo:
    path: Path
    duration_s: float


@dataclass
class UserVideoFolder:
    """Every video file under `folder` long enough for one window; sample() draws windows."""

    folder: Path
    spec: WindowSpec = field(default_factory=WindowSpec)
    videos: list[_UsableVideo] = field(init=False)
    skipped: dict[Path, str] = field(init=False)  # file -> why it cannot be used

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if not self.folder.is_dir():
            raise InvalidRequestError(f"{self.folder} is not a folder of videos.")
        self.videos, self.skipped = [], {}
        for path in sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
            self._consider(path)
        if not self.videos:
            raise InvalidRequestError(
                f"No usable video in {self.folder}: each needs a video stream at least "
                f"{float(self.spec.duration_s):.3f} s long. Skipped: {self._skipped_summary()}"
            )

    def _consider(self, path: Path) -> None:
        try:
            info = probe(path)
        except MediaError as exc:
            self.skipped[path] = str(exc)
            return
        if info.video is None:
            self.skipped[path] = "no video stream"
        elif info.video.duration_s < self.spec.duration_s:
            self.skipped[path] = f"shorter ({info.video.duration_s:.3f} s) than one window"
        else:
            self.videos.append(_UsableVideo(path, info.video.duration_s))

    def _skipped_summary(self) -> str:
        return "; ".join(f"{p.name}: {why}" for p, why in self.skipped.items()) or "none"

    def __len__(self) -> int:
        return len(self.videos)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One window, (T, H, W, 3) uint8: a file drawn by its length, a start drawn uniformly."""
        durations = np.array([v.duration_s for v in self.videos])
        video = self.videos[rng.choice(len(self.videos), p=durations / durations.sum())]
        latest_start = video.duration_s - float(self.spec.duration_s)
        start = float(rng.uniform(0.0, latest_start))
        clip = read_video(
            video.path,
            (start, start + float(self.spec.duration_s)),
            fps=self.spec.fps,
            size=self.spec.size,
            fit=self.spec.fit,
        )
        if clip.num_frames < self.spec.num_frames:
            raise MediaError(f"{video.path} gave {clip.num_frames} frames at {start:.3f} s")
        return clip.frames[: self.spec.num_frames]
