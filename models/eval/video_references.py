"""Codecs without a network, for the video tokenizer to beat, on held-out world clips.

    python -m reelpoet.models.eval.video_references [--count 32] [--fit-clips 600]

- principal components: every frame's 8x8 patches (192 values) projected on their top K
  principal directions and back, unquantized (K = 12: as many numbers as a token has bits);
- k-means VQ at the tokenizer's rate: 4096 codewords (12 bits) for each latent position's block,
  one codebook for frame 0's 8x8 patches and one for the 4x8x8 blocks of frames 1-16, fitted on
  world clips of training seeds (in the top 64 principal directions of the blocks). This is the
  tokenizer's token layout with no context at all: each block alone.

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

from reelpoet.models.rvq import ResidualVectorQuantizer
from reelpoet.models.train.tokenizer_clips import FIRST_TRAINING_SEED
from reelpoet.models.trained import load_video_tokenizer
from reelpoet.models.video_tokenizer import SPATIAL_STRIDE, TEMPORAL_STRIDE
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


def vq_coder(training: torch.Tensor, codewords: int = 4096, dims: int = 64) -> Coder:
    """k-means (`ResidualVectorQuantizer.fit` with one level) in the top `dims` directions."""
    mean = training.mean(0)
    directions = torch.linalg.svd(training[::4] - mean, full_matrices=False)[2][:dims]
    vq = ResidualVectorQuantizer(1, codewords, dims)
    vq.fit((training - mean) @ directions.T, iterations=12)
    return lambda x: vq.decode(vq.encode(((x - mean) @ directions.T)[None]))[0] @ directions + mean


def clip_psnr(frames: np.ndarray, code: Callable[[np.ndarray], torch.Tensor]) -> float:
    target = torch.from_numpy(frames).float() / 255
    error = (code(frames).clamp(0, 1) - target).pow(2).mean()
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=32, help="held-out clips (seeds 0..)")
    parser.add_argument("--fit-clips", type=int, default=600, help="training-seed clips")
    parser.add_argument("--checkpoint", help="a trained video tokenizer's folder")
    args = parser.parse_args(argv)
    world = WorldConfig(width=64, height=64, num_frames=17)
    fitting = [make_sample(FIRST_TRAINING_SEED + i, world).frames for i in range(args.fit_clips)]
    groups = range(1, world.num_frames, TEMPORAL_STRIDE)
    frame_patches = torch.cat([to_blocks(c[i : i + 1]) for c in fitting for i in range(0, 17, 4)])
    first = torch.cat([to_blocks(c[:1]) for c in fitting])
    later = torch.cat([to_blocks(c[g : g + TEMPORAL_STRIDE]) for c in fitting for g in groups])
    first_vq, later_vq = vq_coder(first), vq_coder(later)

    def vq(frames: np.ndarray) -> torch.Tensor:
        h, w = frames.shape[1:3]
        pieces = [from_blocks(first_vq(to_blocks(frames[:1])), 1, h, w)]
        for g in groups:
            coded = later_vq(to_blocks(frames[g : g + TEMPORAL_STRIDE]))
            pieces.append(from_blocks(coded, TEMPORAL_STRIDE, h, w))
        return torch.cat(pieces)

    def per_frame(coder: Coder) -> Callable[[np.ndarray], torch.Tensor]:
        def code(frames: np.ndarray) -> torch.Tensor:
            h, w = frames.shape[1:3]
            return torch.cat([from_blocks(coder(to_blocks(f[None])), 1, h, w) for f in frames])

        return code

    held_out = [make_sample(seed, world).frames for seed in range(args.count)]
    print("| reference | PSNR (dB) |\n| --- | ---: |")
    for k in (12, 24, 48):
        code = per_frame(principal_coder(frame_patches, k))
        psnr = np.mean([clip_psnr(c, code) for c in held_out])
        print(f"| {k} principal components of each frame's 8x8 patches, unquantized | {psnr:.2f} |")
    psnr = np.mean([clip_psnr(c, vq) for c in held_out])
    print(f"| k-means VQ, 4096 codewords a latent position (12 bits, no context) | {psnr:.2f} |")
    for name, code in (tokenizer_coders(args.checkpoint) if args.checkpoint else {}).items():
        print(f"| {name} | {np.mean([clip_psnr(c, code) for c in held_out]):.2f} |")


if __name__ == "__main__":
    main()
