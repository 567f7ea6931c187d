"""Evaluate a trained video tokenizer: PSNR, SSIM and code use on (a) held-out procedural clips,
(b) every real clip in ../shared/data/media as 17-frame windows at 8 fps, centre-cropped and
resized to the model size, (c) single images (first frames of both, coded as 1-frame clips).

    python -m reelpoet.models.eval.video_tokenizer_eval --checkpoint runs/vt_video/checkpoint
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reelpoet.models.eval.image_metrics import code_usage, psnr, ssim
from reelpoet.models.trained import load_video_tokenizer
from reelpoet.models.video_tokenizer import VideoTokenizer, VideoTokenizerConfig
from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.sdk.media import read_video

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MEDIA_DIR = REPO.parent / "shared" / "data" / "media"
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")

# (B, T, H, W, 3) uint8 -> (codes (B, t, h, w), reconstruction like the input)
RoundTrip = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Window:
    source: str
    frames: np.ndarray  # (T, H, W, 3) uint8, padded by holding the last frame if the clip is short
    valid: int  # how many leading frames are real (only those are scored)


def torch_round_trip(model: VideoTokenizer, batch_size: int = 8) -> RoundTrip:
    def run(clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes, recons = [], []
        for chunk in np.array_split(clips, max(1, len(clips) // batch_size)):
            pixels = torch.from_numpy(chunk).permute(0, 1, 4, 2, 3).float() / 255
            c = model.encode(pixels)
            out = model.decode(c).permute(0, 1, 3, 4, 2).mul(255).round().byte()
            codes.append(c.numpy())
            recons.append(out.numpy())
        return np.concatenate(codes), np.concatenate(recons)

    return run


def procedural_windows(cfg: VideoTokenizerConfig, count: int) -> Iterator[Window]:
    world = WorldConfig(width=cfg.image_size, height=cfg.image_size, num_frames=cfg.num_frames)
    for seed in range(count):  # seeds below FIRST_TRAINING_SEED: never trained on
        yield Window(f"world:{seed}", make_sample(seed, world).frames, cfg.num_frames)


def real_windows(cfg: VideoTokenizerConfig, media_dir: Path) -> Iterator[Window]:
    size = (cfg.image_size, cfg.image_size)
    for path in sorted(p for p in media_dir.iterdir() if p.suffix in VIDEO_SUFFIXES):
        frames = read_video(path, fps=8, size=size, fit="crop").frames
        for start in range(0, len(frames), cfg.num_frames):
            piece = frames[start : start + cfg.num_frames]
            valid = len(piece)
            pad = np.repeat(piece[-1:], cfg.num_frames - valid, axis=0)
            yield Window(f"{path.name}@{start / 8:.3f}s", np.concatenate([piece, pad]), valid)


def score(windows: list[Window], round_trip: RoundTrip, vocabulary: int) -> dict:
    codes, recons = round_trip(np.stack([w.frames for w in windows]))
    per_clip = [
        (psnr(w.frames[: w.valid], r[: w.valid]), ssim(w.frames[: w.valid], r[: w.valid]))
        for w, r in zip(windows, recons, strict=True)
    ]
    used, entropy = code_usage(codes, vocabulary)
    return {
        "clips": len(windows),
        "psnr": float(np.mean([p for p, _ in per_clip])),
        "ssim": float(np.mean([s for _, s in per_clip])),
        "codes_used": used,
        "code_entropy_bits": entropy,
    }


def evaluate(
    round_trip: RoundTrip, cfg: VideoTokenizerConfig, media_dir: Path, procedural_count: int = 256
) -> dict[str, dict]:
    vocabulary = 2**cfg.codebook_bits
    procedural = list(procedural_windows(cfg, procedural_count))
    real = list(real_windows(cfg, media_dir))
    images = [Window(f"{w.source}:frame0", w.frames[:1], 1) for w in [*procedural, *real]]
    return {
        "procedural (held out)": score(procedural, round_trip, vocabulary),
        "real clips": score(real, round_trip, vocabulary),
        "single images": score(images, round_trip, vocabulary),
    }


def format_table(results: dict[str, dict]) -> str:
    lines = [
        "| set | clips | PSNR (dB) | SSIM | codes used | code entropy (bits) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['clips']} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
            f"{r['codes_used']:.1%} | {r['code_entropy_bits']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate a video tokenizer checkpoint.")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--media-dir", type=Path, default=DEFAULT_MEDIA_DIR)
    parser.add_argument("--procedural-count", type=int, default=256)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    model = load_video_tokenizer(args.checkpoint)
    results = evaluate(torch_round_trip(model), model.cfg, args.media_dir, args.procedural_count)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
