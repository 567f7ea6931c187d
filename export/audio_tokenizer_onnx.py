"""Export the audio tokenizer to two ONNX graphs: encoder (samples -> integer codes) and decoder
(codes of the first L levels -> samples), each with dynamic batch and length, weights embedded.

    python -m reelpoet.export.audio_tokenizer_onnx --checkpoint runs/audio_tokenizer/checkpoint \
        --out DIR

writes DIR/audio_encoder.onnx, DIR/audio_decoder.onnx and DIR/audio_tokenizer.json (the config
plus what the runtime needs to stream: hop, the left context of each graph and the decoder's
lookahead, in frames).

Graph inputs: `samples` (B, N) float32 with N a multiple of the hop (the runtime pads) ->
`codes` (B, N / hop, K) int64; `codes` (B, T, L) int64 with 1 <= L <= K -> `samples`
(B, T * hop) float32 in [-1, 1].
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from reelpoet.export.onnx_graph import export_method
from reelpoet.models.audio_tokenizer import (
    AudioTokenizer,
    decoder_context_frames,
    decoder_lookahead_frames,
    encoder_context_frames,
)
from reelpoet.models.trained import load_audio_tokenizer
from reelpoet.sdk.atomic_file import atomic_output

ENCODER_FILE = "audio_encoder.onnx"
DECODER_FILE = "audio_decoder.onnx"
CONFIG_FILE = "audio_tokenizer.json"
MAX_BATCH = 4096
MAX_FRAMES = 2**20  # about 5.8 hours at 50 frames/s; the runtime sends ~10 s chunks anyway


def runtime_config(model: AudioTokenizer) -> dict:
    """The model config plus the numbers the runtime streams by."""
    cfg = model.cfg
    return {
        **cfg.to_dict(),
        "hop": cfg.hop,
        "encoder_context_frames": encoder_context_frames(cfg),
        "decoder_context_frames": decoder_context_frames(cfg),
        "decoder_lookahead_frames": decoder_lookahead_frames(cfg),
    }


def export_audio_tokenizer(model: AudioTokenizer, out_dir: Path) -> dict[str, Path]:
    """Write both graphs and the config into `out_dir`; return the paths by role."""
    model = model.eval()
    cfg = model.cfg
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", max=MAX_BATCH)
    frames = torch.export.Dim("frames", max=MAX_FRAMES)
    # Example sizes must not be 0 or 1: torch.export would specialise the graph to them.
    samples = torch.randn(2, 3 * cfg.hop) * 0.1
    codes = torch.randint(0, cfg.codebook_size, (2, 3, cfg.num_levels))
    decoder_dims = {0: batch, 1: frames}
    if cfg.num_levels > 1:  # fewer levels decode too (quantizer dropout trained for it)
        decoder_dims[2] = torch.export.Dim("levels", min=1, max=cfg.num_levels)
    paths = {
        "encoder": out_dir / ENCODER_FILE,
        "decoder": out_dir / DECODER_FILE,
        "config": out_dir / CONFIG_FILE,
    }
    encoder_dims = {0: batch, 1: cfg.hop * frames}
    export_method(model, "encode", samples, ("samples", "codes"), encoder_dims, paths["encoder"])
    export_method(model, "decode", codes, ("codes", "samples"), decoder_dims, paths["decoder"])
    with atomic_output(paths["config"]) as temp:
        temp.write_text(json.dumps(runtime_config(model), indent=1))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description="Export an audio tokenizer checkpoint to ONNX.")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    for role, path in export_audio_tokenizer(
        load_audio_tokenizer(args.checkpoint), args.out
    ).items():
        print(f"{role}: {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
