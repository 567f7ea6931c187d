"""Training clips for the video tokenizer: a mix of the procedural world, Ken Burns camera moves
over real photographs (real textures, the part of real footage the world lacks), synthetic
graphics (test cards, titles, timecode in colours the world lacks) and optionally windows from a
folder of user video. Every batch is a pure function of (seed, rank, step), so a
resumed run sees the same data it would have seen without the interruption."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reelpoet.models.train.graphics_clips import graphics_clip
from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.models.world.photos import PHOTO_NAMES, crop_resized, photo_size

# World seeds below this are never drawn for training: evaluation takes its held-out clips there.
FIRST_TRAINING_SEED = 2**20


@dataclass(frozen=True)
class ClipMix:
    """Where training clips come from and at what size; the fractions of each source."""

    size: int = 64  # rendered size; crops are taken from it
    num_frames: int = 17
    crop: int = 32  # the network is fully convolutional: train on crops, run at `size`
    photo_fraction: float = 0.35
    graphics_fraction: float = 0.0  # test cards, titles, timecode (graphics_clips.py)
    user_video_fraction: float = 0.0
    user_video_folder: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.crop <= self.size:
            raise ValueError(f"crop {self.crop} must be in 1..size ({self.size})")
        if self.photo_fraction + self.graphics_fraction + self.user_video_fraction > 1:
            raise ValueError("photo, graphics and user video fractions must sum to at most 1")
        if self.user_video_fraction > 0 and not self.user_video_folder:
            raise ValueError("user_video_fraction needs user_video_folder")


def ken_burns_clip(rng: np.random.Generator, size: int, num_frames: int) -> np.ndarray:
    """A pan and zoom over a random photo: (T, size, size, 3) uint8."""
    name = PHOTO_NAMES[rng.integers(len(PHOTO_NAMES))]
    width, height = photo_size(name)
    side_limit = min(width, height)
    # Window sides from 1x to the whole photo: close-ups give fine texture, wide views detail.
    sides = np.exp(rng.uniform(np.log(size), np.log(side_limit), size=2))
    corners = [rng.uniform(0, [width - s, height - s]) for s in sides]
    frames = []
    for u in np.linspace(0.0, 1.0, num_frames):
        side = sides[0] + (sides[1] - sides[0]) * u
        x0, y0 = corners[0] + (corners[1] - corners[0]) * u
        frames.append(crop_resized(name, (x0, y0, x0 + side, y0 + side), (size, size)))
    return (np.stack(frames) * 255).round().astype(np.uint8)


class TokenizerClips:
    """Draws batches (B, T, 3, crop, crop) float32 in [0, 1] from the mix."""

    def __init__(self, mix: ClipMix, seed: int) -> None:
        self.mix = mix
        self.seed = seed
        self.world = WorldConfig(width=mix.size, height=mix.size, num_frames=mix.num_frames)
        self.user_videos = None
        if mix.user_video_fraction > 0:
            # Imported here: reading user video needs PyAV and OpenTimelineIO, which a training
            # machine without user video (a lent GPU box) need not have.
            from reelpoet.models.data.user_video import UserVideoFolder, WindowSpec

            spec = WindowSpec(num_frames=mix.num_frames, size=(mix.size, mix.size))
            self.user_videos = UserVideoFolder(Path(mix.user_video_folder), spec)

    def _one_clip(self, rng: np.random.Generator) -> np.ndarray:
        draw = rng.uniform()
        if draw < self.mix.user_video_fraction:
            return self.user_videos.sample(rng)
        draw -= self.mix.user_video_fraction
        if draw < self.mix.photo_fraction:
            return ken_burns_clip(rng, self.mix.size, self.mix.num_frames)
        if draw < self.mix.photo_fraction + self.mix.graphics_fraction:
            return graphics_clip(rng, self.mix.size, self.mix.num_frames)
        return make_sample(int(rng.integers(FIRST_TRAINING_SEED, 2**62)), self.world).frames

    def _random_crop(self, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        crop, size = self.mix.crop, self.mix.size
        y, x = rng.integers(0, size - crop + 1, size=2)
        return clip[:, y : y + crop, x : x + crop]

    def batch(self, batch_size: int, rank: int, step: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, rank, step])
        clips = [self._random_crop(self._one_clip(rng), rng) for _ in range(batch_size)]
        if rng.uniform() < 0.5:  # mirror half the batches: free variety for photos and world
            clips = [c[:, :, ::-1] for c in clips]
        stacked = np.stack(clips)  # (B, T, h, w, 3)
        return torch.from_numpy(stacked).permute(0, 1, 4, 2, 3).float().div_(255.0)
