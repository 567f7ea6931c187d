"""MAGVIT-v2-style video tokenizer: a causal (2+1)D CNN with lookup-free quantization.

Yu et al., "Language Model Beats Diffusion -- Tokenizer is Key to Visual Generation",
arXiv:2310.05737. A clip of 1 + 4k frames becomes 1 + k latent frames at 1/8 of the size: the
first frame is coded on its own, so an image is a 1-frame clip and text-to-image shares the
tokenizer with video.

Layout inside the network: (B, T, C, H, W), so every spatial op is a 2D op on (B*T, C, H, W)
(fast on CPU and simple in ONNX) and every temporal op mixes frames at equal positions.
Causality: temporal convolutions see only the past (padding on the past side), normalisation is
per frame, and the 4x temporal downsampling groups frames (4j-3 .. 4j) after padding frame 0 with
three copies of itself, so latent j depends on frames <= 4j only.

Image-first training (MAGVIT-v2's recipe, and ours on 2 CPU cores): the past taps of every
temporal convolution start at zero and the four temporal-upsampling slots start equal, so a model
trained on 1-frame clips is, unchanged, a video model that codes each frame alone; fine-tuning on
video then teaches it to use time. No separate inflation step is needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from reelpoet.models.lfq import LookupFreeQuantizer

SPATIAL_STRIDE = 8  # a 4x4 space-to-depth stem, then one 2x downsampling
TEMPORAL_STRIDE = 4


@dataclass(frozen=True)
class VideoTokenizerConfig:
    image_size: int = 64  # training/run size; the network is fully convolutional
    num_frames: int = 17  # 1 + 4k: 17 frames at 8 fps = 2.125 s
    codebook_bits: int = 12  # LFQ: one latent channel per bit, 2^12 codes
    hi_channels: int = 64  # width at 1/4 resolution (after the space-to-depth stem)
    lo_channels: int = 128  # width at 1/8 resolution, where the latents live
    hi_blocks: int = 1  # residual blocks at 1/4 resolution, each side
    lo_blocks: int = 2  # blocks at 1/8 resolution over all frames, each side
    latent_blocks: int = 1  # blocks at 1/8 resolution over latent frames, each side
    norm_groups: int = 16
    entropy_group_bits: int = 12  # exact entropy up to 2^12 codes; grouped above (base)

    def __post_init__(self) -> None:
        if self.image_size % SPATIAL_STRIDE or self.image_size <= 0:
            raise ValueError(f"image_size must be a positive multiple of {SPATIAL_STRIDE}")
        if (self.num_frames - 1) % TEMPORAL_STRIDE:
            raise ValueError(f"num_frames must be 1 + {TEMPORAL_STRIDE}k, got {self.num_frames}")
        if not 1 <= self.codebook_bits <= 24:
            raise ValueError("codebook_bits must be in 1..24")

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(latent frames, height, width) of one clip: 5x8x8 = 320 tokens for the default."""
        side = self.image_size // SPATIAL_STRIDE
        return (1 + (self.num_frames - 1) // TEMPORAL_STRIDE, side, side)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "default": VideoTokenizerConfig(),
    # VideoPoet's own token layout: 128x128, 5x16x16 = 1280 tokens, 2^18 codes; for GPUs.
    "base": VideoTokenizerConfig(
        image_size=128,
        codebook_bits=18,
        hi_channels=128,
        lo_channels=256,
        hi_blocks=2,
        lo_blocks=2,
        latent_blocks=2,
        entropy_group_bits=9,
    ),
    # Seconds-long smoke runs and tests: the same code paths at a fraction of the cost.
    "tiny": VideoTokenizerConfig(
        image_size=32,
        num_frames=5,
        codebook_bits=6,
        hi_channels=16,
        lo_channels=32,
        hi_blocks=1,
        lo_blocks=1,
        latent_blocks=1,
        norm_groups=8,
    ),
}


def frames_to_2d(x: torch.Tensor) -> torch.Tensor:
    b, t, c, h, w = x.shape
    return x.reshape(b * t, c, h, w)


def frames_from_2d(x: torch.Tensor, batch: int) -> torch.Tensor:
    bt, c, h, w = x.shape
    return x.reshape(batch, bt // batch, c, h, w)


class CausalTemporalConv(nn.Module):
    """y_t = W0 x_{t-2} + W1 x_{t-1} + W2 x_t as one 1x1 conv over the stacked frames; zero past."""

    def __init__(self, channels: int, taps: int = 3) -> None:
        super().__init__()
        self.taps = taps
        self.mix = nn.Conv2d(channels * taps, channels, 1)
        with torch.no_grad():  # past taps start at zero: an image model is a video model
            self.mix.weight[:, : channels * (taps - 1)].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C, H, W)
        t = x.shape[1]
        padded = F.pad(x, (0, 0, 0, 0, 0, 0, self.taps - 1, 0))  # past side only
        stacked = torch.cat([padded[:, i : i + t] for i in range(self.taps)], dim=2)
        return frames_from_2d(self.mix(frames_to_2d(stacked)), x.shape[0])


class Block(nn.Module):
    """A spatial residual block on each frame, then a causal temporal residual mix."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.spatial = nn.Sequential(
            nn.GroupNorm(groups, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(groups, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.temporal_norm = nn.GroupNorm(groups, channels)
        self.temporal = CausalTemporalConv(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C, H, W)
        b = x.shape[0]
        flat = frames_to_2d(x)
        flat = flat + self.spatial(flat)
        mixed = self.temporal(frames_from_2d(F.silu(self.temporal_norm(flat)), b))
        return frames_from_2d(flat, b) + mixed


def run_blocks(blocks: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    for block in blocks:
        x = block(x)
    return x


class Encoder(nn.Module):
    def __init__(self, cfg: VideoTokenizerConfig) -> None:
        super().__init__()
        hi, lo, g = cfg.hi_channels, cfg.lo_channels, cfg.norm_groups
        self.stem = nn.Conv2d(3 * 16, hi, 3, padding=1)  # after 4x4 space-to-depth
        self.hi_blocks = nn.ModuleList(Block(hi, g) for _ in range(cfg.hi_blocks))
        self.down = nn.Conv2d(hi * 4, lo, 1)  # after 2x2 space-to-depth: a strided 2x2 conv
        self.lo_blocks = nn.ModuleList(Block(lo, g) for _ in range(cfg.lo_blocks))
        self.time_down = nn.Conv2d(lo * TEMPORAL_STRIDE, lo, 1)
        self.latent_blocks = nn.ModuleList(Block(lo, g) for _ in range(cfg.latent_blocks))
        self.out = nn.Sequential(
            nn.GroupNorm(g, lo), nn.SiLU(), nn.Conv2d(lo, cfg.codebook_bits, 1)
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) in [0, 1] -> (B, t, bits, H/8, W/8) pre-quantization latents."""
        b = pixels.shape[0]
        x = F.pixel_unshuffle(frames_to_2d(pixels * 2 - 1), 4)  # (BT, 48, H/4, W/4)
        x = run_blocks(self.hi_blocks, frames_from_2d(self.stem(x), b))
        x = self.down(F.pixel_unshuffle(frames_to_2d(x), 2))  # (BT, lo, H/8, W/8)
        x = run_blocks(self.lo_blocks, frames_from_2d(x, b))
        x = self._downsample_time(x)  # (B, t, lo, H/8, W/8)
        x = run_blocks(self.latent_blocks, x)
        return frames_from_2d(self.out(frames_to_2d(x)), b)

    def _downsample_time(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c, h, w = x.shape
        first = x[:, :1].expand(b, TEMPORAL_STRIDE - 1, c, h, w)
        grouped = torch.cat([first, x], dim=1).reshape(b, -1, TEMPORAL_STRIDE * c, h, w)
        return frames_from_2d(self.time_down(frames_to_2d(grouped)), b)


class Decoder(nn.Module):
    def __init__(self, cfg: VideoTokenizerConfig) -> None:
        super().__init__()
        hi, lo, g = cfg.hi_channels, cfg.lo_channels, cfg.norm_groups
        self.inp = nn.Conv2d(cfg.codebook_bits, lo, 3, padding=1)
        self.latent_blocks = nn.ModuleList(Block(lo, g) for _ in range(cfg.latent_blocks))
        self.time_up = nn.Conv2d(lo, lo * TEMPORAL_STRIDE, 1)
        with torch.no_grad():  # all four slots start as the one an image trains (the last)
            slots = self.time_up.weight.view(TEMPORAL_STRIDE, lo, lo, 1, 1)
            slots.copy_(slots[-1:].expand_as(slots).clone())
            biases = self.time_up.bias.view(TEMPORAL_STRIDE, lo)
            biases.copy_(biases[-1:].expand_as(biases).clone())
        self.lo_blocks = nn.ModuleList(Block(lo, g) for _ in range(cfg.lo_blocks))
        self.up = nn.Conv2d(lo, hi * 4, 3, padding=1)  # then 2x2 depth-to-space
        self.hi_blocks = nn.ModuleList(Block(hi, g) for _ in range(cfg.hi_blocks))
        self.out = nn.Sequential(
            nn.GroupNorm(g, hi), nn.SiLU(), nn.Conv2d(hi, 3 * 16, 3, padding=1)
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, t, bits, h, w) -> (B, 1 + 4(t-1), 3, 8h, 8w) pixels, roughly in [0, 1]."""
        b = latents.shape[0]
        x = run_blocks(self.latent_blocks, frames_from_2d(self.inp(frames_to_2d(latents)), b))
        x = self._upsample_time(x)
        x = run_blocks(self.lo_blocks, x)
        x = F.pixel_shuffle(self.up(frames_to_2d(x)), 2)  # (BT, hi, H/4, W/4)
        x = run_blocks(self.hi_blocks, frames_from_2d(x, b))
        x = F.pixel_shuffle(self.out(frames_to_2d(x)), 4)  # (BT, 3, H, W)
        return frames_from_2d(x, b) * 0.5 + 0.5

    def _upsample_time(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        slots = self.time_up(frames_to_2d(x)).reshape(b, t * TEMPORAL_STRIDE, c, h, w)
        return slots[:, TEMPORAL_STRIDE - 1 :]  # latent 0 stands for frame 0 alone


class TokenizerOutput(NamedTuple):
    reconstruction: torch.Tensor  # (B, T, 3, H, W)
    codes: torch.Tensor  # (B, t, h, w) int64
    commit_loss: torch.Tensor
    entropy_loss: torch.Tensor
    batch_entropy_bits: torch.Tensor


class VideoTokenizer(nn.Module):
    def __init__(self, cfg: VideoTokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = LookupFreeQuantizer(cfg.codebook_bits, cfg.entropy_group_bits)
        self.decoder = Decoder(cfg)

    def forward(self, pixels: torch.Tensor) -> TokenizerOutput:
        z = self.encoder(pixels).permute(0, 1, 3, 4, 2)  # (B, t, h, w, bits)
        q = self.quantizer(z)
        recon = self.decoder(q.quantized.permute(0, 1, 4, 2, 3))
        return TokenizerOutput(recon, q.codes, q.commit_loss, q.entropy_loss, q.batch_entropy_bits)

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) floats in [0, 1] -> (B, t, h, w) int64 codes."""
        z = self.encoder(pixels).permute(0, 1, 3, 4, 2)
        return self.quantizer.quantized_to_codes(torch.where(z > 0, 1.0, -1.0))

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, t, h, w) int codes -> (B, T, 3, H, W) pixels clamped to [0, 1]."""
        latents = self.quantizer.codes_to_quantized(codes).permute(0, 1, 4, 2, 3)
        return self.decoder(latents).clamp(0, 1)
