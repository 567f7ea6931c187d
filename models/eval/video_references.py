"""Codecs without a network, for the video tokenizer to beat, on held-out world clips.

    python -m reelpoet.models.eval.video_references [--count 32] [--fit-clips 600]

- principal components: every frame's 8x8 patches (192 values) projected on their top K
  principal directions and back, unquantized (K = 12: as many numbers as a token has bits);
- k-means VQ at the tokenizer's rate: 4096 codewords (12 bits) for each latent position's block,
  one codebook for frame 0's 8x8 patches and one for the 4x8x8 blocks of frames 1-16, fitted on
  world clips of training seeds (in the top 64 principal directions of the blocks). This is the
  tokenizer's token layout with no context at all: each block alone;
- sign codes: 12 bits that are the signs of 12 linear projections of the block (what LFQ over a
  linear encoder is), the projections the top principal directions turned by iterative
  quantization (ITQ: Gong & Lazebnik 2011) to lose the least to the signs; each code decodes to
  the mean block of its cell (a lookup table);
- predictive VQ, the one context a causal decoder surely has: each 4-frame block is coded
  either alone (2048 codewords) or as a change from the last decoded frame held still (2048
  codewords fitted on such changes), whichever is closer; the choice is the code's top bit.

`--real` scores the real clips of `../shared/data/media` too, as `video_tokenizer_eval` cuts them.

`--checkpoint DIR` adds a trained tokenizer's rows: decoded from its encoder's continuous
output (the sign quantizer left out) and through its codes.

PSNR over all frames, mean over clips, as `video_tokenizer_eval` scores.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from reelpoet.models.eval.video_tokenizer_eval import DEFAULT_MEDIA_DIR, real_windows
from reelpoet.models.rvq import ResidualVectorQuantizer
from reelpoet.models.train.tokenizer_clips import FIRST_TRAINING_SEED
from reelpoet.models.trained import load_video_tokenizer
from reelpoet.models.video_tokenizer import (
    SPATIAL_STRIDE,
    TEMPORAL_STRIDE,
    VideoTokenizerConfig,
)
from reelpoet.models.world import WorldConfig, make_sample

Coder = Callable[[torch.Tensor], torch.Tensor]  # (N, D) blocks -> (N, D) blocks


def to_blocks(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (H/8 * W/8, T * 8 * 8 * 3) floats in [0, 1]: one row a position."""
    t, h, w, _ = frames.shape
    s = SPATIAL_STRIDE
    x = torch.from_numpy(frames).float() / 255
    x = x.reshape(t, h // s, s, w // s, s, 3).permute(1, 3, 0, 2, 4, 5)  # positions first
    return x.reshape(-1, t * s * s * 3)


def from_blocks(blocks: torch.Tensor, t: int, h: int, w: int) -> torch.Tensor:
    s = SPATIAL_STRIDE
    x = blocks.reshape(h // s, w // s, t, s, s, 3).permute(2, 0, 3, 1, 4, 5)
    return x.reshape(t, h, w, 3)


def principal_coder(training: torch.Tensor, components: int) -> Coder:
    mean = training.mean(0)
    directions = torch.linalg.svd(training - mean, full_matrices=False)[2][:components]
    return lambda x: (x - mean) @ directions.T @ directions + mean


def sign_coder(training: torch.Tensor, bits: int = 12, rounds: int = 50, starts: int = 4) -> Coder:
    """Signs of `bits` ITQ-rotated principal projections; a code decodes to its cell's mean.
    ITQ has local optima: the best of `starts` random starting rotations is kept."""
    data = training.double()
    mean = data.mean(0)
    directions = torch.linalg.svd(data[::4] - mean, full_matrices=False)[2][:bits]
    projected = (data - mean) @ directions.T
    generator = torch.Generator().manual_seed(0)
    best, best_loss = None, float("inf")
    for _ in range(starts):
        rotation = torch.linalg.qr(torch.randn(bits, bits, generator=generator).double())[0]
        for _ in range(rounds):  # Procrustes: the rotation closest to the current signs
            u, _, vt = torch.linalg.svd(projected.T @ torch.sign(projected @ rotation))
            rotation = u @ vt
        loss = float((torch.sign(projected @ rotation) - projected @ rotation).pow(2).sum())
        if loss < best_loss:
            best, best_loss = rotation, loss
    rotation = best
    projection, weights = directions.T @ rotation, 2 ** torch.arange(bits)

    def codes(x: torch.Tensor) -> torch.Tensor:
        return ((((x.double() - mean) @ projection) > 0).long() * weights).sum(1)

    fitted = codes(data)
    sums = torch.zeros(2**bits, data.shape[1], dtype=torch.float64).index_add_(0, fitted, data)
    counts = torch.bincount(fitted, minlength=2**bits).double()[:, None]
    table = torch.where(counts > 0, sums / counts.clamp_min(1), mean).float()
    return lambda x: table[codes(x)]


def codewords(training: torch.Tensor, count: int, dims: int = 64) -> torch.Tensor:
    """(count, D) k-means codewords of `training` (fitted in its top `dims` directions)."""
    mean = training.mean(0)
    directions = torch.linalg.svd(training[::4] - mean, full_matrices=False)[2][:dims]
    vq = ResidualVectorQuantizer(1, count, directions.shape[0])  # fewer on little data
    vq.fit((training - mean) @ directions.T, iterations=12)
    return vq.codebooks[0] @ directions + mean


def nearest(blocks: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    distances = (words * words).sum(1)[None] - 2 * blocks @ words.T
    return words[distances.argmin(1)]


def vq_coder(training: torch.Tensor, count: int = 4096, dims: int = 64) -> Coder:
    """Each block to its nearest of `count` k-means codewords (`codewords`). Nearest in the
    whole space is nearest in the fitted directions: the codewords lie in their span."""
    words = codewords(training, count, dims)
    return lambda x: nearest(x, words)


def held_still(frame: torch.Tensor) -> torch.Tensor:
    """The blocks of a decoded frame (H, W, 3) repeated over a latent's 4 frames."""
    frame = (frame.clamp(0, 1) * 255).round().byte().numpy()[None]
    return to_blocks(np.repeat(frame, TEMPORAL_STRIDE, axis=0))


def predictive_vq(
    clips: list[np.ndarray], first: Coder, half: int = 2048
) -> Callable[[np.ndarray], torch.Tensor]:
    """Frame 0 by `first`; then each 4-frame block alone or as a change from the last decoded
    frame held still, whichever is closer (closed loop: predictions are decoded frames)."""
    groups = range(1, clips[0].shape[0], TEMPORAL_STRIDE)
    alone = torch.cat([to_blocks(c[g : g + TEMPORAL_STRIDE]) for c in clips for g in groups])
    changes = torch.cat(
        [
            to_blocks(c[g : g + TEMPORAL_STRIDE])
            - to_blocks(np.repeat(c[g - 1 : g], TEMPORAL_STRIDE, axis=0))
            for c in clips
            for g in groups
        ]
    )
    intra, inter = codewords(alone, half), codewords(changes, half)

    def code(frames: np.ndarray) -> torch.Tensor:
        h, w = frames.shape[1:3]
        pieces = [from_blocks(first(to_blocks(frames[:1])), 1, h, w)]
        for g in range(1, frames.shape[0], TEMPORAL_STRIDE):
            blocks, still = to_blocks(frames[g : g + TEMPORAL_STRIDE]), held_still(pieces[-1][-1])
            a, b = nearest(blocks, intra), still + nearest(blocks - still, inter)
            a_closer = (a - blocks).pow(2).sum(1, keepdim=True) < (b - blocks).pow(2).sum(
                1, keepdim=True
            )
            pieces.append(from_blocks(torch.where(a_closer, a, b), TEMPORAL_STRIDE, h, w))
        return torch.cat(pieces)

    return code


def clip_psnr(
    frames: np.ndarray, code: Callable[[np.ndarray], torch.Tensor], valid: int | None = None
) -> float:
    """PSNR over the first `valid` frames (all by default) of `code(frames)`."""
    valid = valid or frames.shape[0]
    target = torch.from_numpy(frames[:valid]).float() / 255
    error = (code(frames)[:valid].clamp(0, 1) - target).pow(2).mean()
    return float(10 * torch.log10(1 / error))


def tokenizer_coders(folder: str) -> dict[str, Callable[[np.ndarray], torch.Tensor]]:
    model = load_video_tokenizer(Path(folder)).eval()

    def run(frames: np.ndarray, quantize: bool) -> torch.Tensor:
        pixels = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float() / 255
        with torch.no_grad():
            if quantize:
                out = model.decode(model.encode(pixels))
            else:
                out = model.decoder(model.encoder(pixels))
        return out[0].permute(0, 2, 3, 1)

    return {
        f"{folder}, from its continuous latents (no quantizer)": lambda f: run(f, False),
        f"{folder}, through its codes": lambda f: run(f, True),
    }


def blockwise(first: Coder, later: Coder) -> Callable[[np.ndarray], torch.Tensor]:
    """Frame 0's patches by `first`, each later 4-frame block by `later`: no context."""

    def code(frames: np.ndarray) -> torch.Tensor:
        h, w = frames.shape[1:3]
        pieces = [from_blocks(first(to_blocks(frames[:1])), 1, h, w)]
        for g in range(1, frames.shape[0], TEMPORAL_STRIDE):
            coded = later(to_blocks(frames[g : g + TEMPORAL_STRIDE]))
            pieces.append(from_blocks(coded, TEMPORAL_STRIDE, h, w))
        return torch.cat(pieces)

    return code


def per_frame(coder: Coder) -> Callable[[np.ndarray], torch.Tensor]:
    def code(frames: np.ndarray) -> torch.Tensor:
        h, w = frames.shape[1:3]
        return torch.cat([from_blocks(coder(to_blocks(f[None])), 1, h, w) for f in frames])

    return code


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=32, help="held-out clips (seeds 0..)")
    parser.add_argument("--fit-clips", type=int, default=600, help="training-seed clips")
    parser.add_argument("--checkpoint", help="a trained video tokenizer's folder")
    parser.add_argument("--real", action="store_true", help="score the real clips too")
    parser.add_argument("--media-dir", type=Path, default=DEFAULT_MEDIA_DIR)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    world = WorldConfig(width=64, height=64, num_frames=17)
    fitting = [make_sample(FIRST_TRAINING_SEED + i, world).frames for i in range(args.fit_clips)]
    groups = range(1, world.num_frames, TEMPORAL_STRIDE)
    frame_patches = torch.cat([to_blocks(c[i : i + 1]) for c in fitting for i in range(0, 17, 4)])
    first = torch.cat([to_blocks(c[:1]) for c in fitting])
    later = torch.cat([to_blocks(c[g : g + TEMPORAL_STRIDE]) for c in fitting for g in groups])
    first_vq = vq_coder(first)
    coders = {
        **{
            f"{k} principal components of each frame's 8x8 patches, unquantized": per_frame(
                principal_coder(frame_patches, k)
            )
            for k in (12, 24, 48)
        },
        "sign codes (12 ITQ projections, LFQ over a linear encoder), no context": blockwise(
            sign_coder(first), sign_coder(later)
        ),
        "k-means VQ, 4096 codewords a latent position (12 bits, no context)": blockwise(
            first_vq, vq_coder(later)
        ),
        "predictive VQ: each block alone or as a change from the last decoded frame (12 bits)": (
            predictive_vq(fitting, first_vq)
        ),
        **(tokenizer_coders(args.checkpoint) if args.checkpoint else {}),
    }
    sets = {"held-out world clips": [(c, world.num_frames) for c in _held_out(world, args.count)]}
    if args.real:
        cfg = VideoTokenizerConfig()
        sets["real clips"] = [(w.frames, w.valid) for w in real_windows(cfg, args.media_dir)]
    print("| reference | " + " | ".join(f"{name} PSNR (dB)" for name in sets) + " |")
    print("| --- |" + " ---: |" * len(sets))
    for name, code in coders.items():
        scores = [np.mean([clip_psnr(f, code, v) for f, v in clips]) for clips in sets.values()]
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in scores) + " |", flush=True)


def _held_out(world: WorldConfig, count: int) -> list[np.ndarray]:
    return [make_sample(seed, world).frames for seed in range(count)]


if __name__ == "__main__":
    main()
