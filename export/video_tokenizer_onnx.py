"""Export the video tokenizer to two ONNX graphs: encoder (pixels -> integer codes) and decoder
(codes -> pixels), each with dynamic batch and clip length (1 + 4k frames), weights embedded.

    python -m reelpoet.export.video_tokenizer_onnx --checkpoint runs/vt_video/checkpoint --out DIR

writes DIR/video_encoder.onnx, DIR/video_decoder.onnx and DIR/video_tokenizer.json (the config
the runtime needs to validate inputs).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reelpoet.export.onnx_graph import export_method
from reelpoet.models.trained import load_video_tokenizer
from reelpoet.models.video_tokenizer import TEMPORAL_STRIDE, VideoTokenizer
from reelpoet.sdk.atomic_file import atomic_output

ENCODER_FILE = "video_encoder.onnx"
DECODER_FILE = "video_decoder.onnx"
CONFIG_FILE = "video_tokenizer.json"
MAX_BATCH = 4096
MAX_LATENT_FRAMES = 256  # clips up to 1 + 4 * 255 frames, about two minutes at 8 fps


def export_video_tokenizer(model: VideoTokenizer, out_dir: Path) -> dict[str, Path]:
    """Write both graphs and the config into `out_dir`; return the paths by role."""
    model = model.eval()
    cfg = model.cfg
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", max=MAX_BATCH)
    k = torch.export.Dim("k", max=MAX_LATENT_FRAMES - 1)
    side, latent_side = cfg.image_size, cfg.image_size // 8
    # Example sizes must not be 0 or 1: torch.export would specialise the graph to them.
    example_k = 2
    pixels = torch.rand(2, TEMPORAL_STRIDE * example_k + 1, 3, side, side)
    codes = torch.randint(0, 2**cfg.codebook_bits, (2, example_k + 1, latent_side, latent_side))
    paths = {
        "encoder": out_dir / ENCODER_FILE,
        "decoder": out_dir / DECODER_FILE,
        "config": out_dir / CONFIG_FILE,
    }
    encoder_dims = {0: batch, 1: TEMPORAL_STRIDE * k + 1}
    export_method(model, "encode", pixels, ("pixels", "codes"), encoder_dims, paths["encoder"])
    export_method(
        model, "decode", codes, ("codes", "pixels"), {0: batch, 1: k + 1}, paths["decoder"]
    )
    with atomic_output(paths["config"]) as temp:
        temp.write_text(json.dumps(cfg.to_dict(), indent=1))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description="Export a video tokenizer checkpoint to ONNX.")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for role, path in export_video_tokenizer(
        load_video_tokenizer(args.checkpoint), args.out
    ).items():
        print(f"{role}: {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
