"""Export the prefix LM to one ONNX graph with a key/value cache, for prefill and decode alike.

    python -m reelpoet.export.lm_onnx --checkpoint runs/lm/checkpoint --out DIR

Inputs: `input_ids` (B, L) int64 at positions [P, P + L); `prefix_length` (B,) int64; `text`
(B, S, 384) float32 and `text_mask` (B, S) bool (a decode step passes one masked-off row:
no decoded position is a text slot); `past_key_values.{i}.key` / `.value` (B, H, P, D) float32
(P = 0 for the prefill). Outputs: `logits` (B, V) of the last position and
`present.{i}.key` / `.value` (B, H, P + L, D). One graph, so the bundle holds the weights once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import nn

from reelpoet.models.lm import PrefixLM
from reelpoet.models.trained import load_lm
from reelpoet.sdk.atomic_file import atomic_output

LM_FILE = "lm.onnx"
LM_INT8_FILE = "lm_int8.onnx"
LM_CONFIG_FILE = "lm.json"
MAX_BATCH = 64


def cache_names(depth: int, prefix: str) -> list[str]:
    """past_key_values.{i}.key/value or present.{i}.key/value, layer by layer."""
    return [f"{prefix}.{i}.{kind}" for i in range(depth) for kind in ("key", "value")]


class _CachedStep(nn.Module):
    """PrefixLM.forward with the cache flattened into graph inputs and outputs."""

    def __init__(self, model: PrefixLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, prefix_length, text, text_mask, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        last = torch.full_like(input_ids[:, :1], input_ids.shape[1] - 1)
        logits, present = self.model(
            input_ids, prefix_length, text, text_mask, past=past, hidden_positions=last
        )
        return (logits[:, 0], *[t for layer in present for t in layer])


def export_lm(model: PrefixLM, out_dir: Path) -> dict[str, Path]:
    model = model.eval()
    cfg = model.cfg
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", max=MAX_BATCH)
    length = torch.export.Dim("length", max=cfg.max_positions)
    past_length = torch.export.Dim("past_length", max=cfg.max_positions)
    slots = torch.export.Dim("slots", max=cfg.text_slots)
    # Example sizes must not be 0 or 1 (torch.export would specialise the graph to them).
    b, n, p = 2, 3, 5
    past = [torch.randn(b, cfg.heads, p, cfg.head_dim) for _ in range(2 * cfg.depth)]
    example = (
        torch.randint(0, cfg.vocab_size, (b, n)),
        torch.tensor([4, 9]),
        torch.randn(b, cfg.text_slots, cfg.text_width),
        torch.ones(b, cfg.text_slots, dtype=torch.bool),
        *past,
    )
    dims = (
        {0: batch, 1: length},
        {0: batch},
        {0: batch, 1: slots},
        {0: batch, 1: slots},
        # torch.export matches `*past_flat` to one nested entry
        tuple({0: batch, 2: past_length} for _ in past),
    )
    past_names = cache_names(cfg.depth, "past_key_values")
    inputs = ["input_ids", "prefix_length", "text", "text_mask", *past_names]
    outputs = ["logits", *cache_names(cfg.depth, "present")]
    paths = {"lm": out_dir / LM_FILE, "config": out_dir / LM_CONFIG_FILE}
    with atomic_output(paths["lm"]) as temp:
        torch.onnx.export(
            _CachedStep(model).eval(),
            example,
            temp,
            dynamo=True,
            external_data=False,
            input_names=inputs,
            output_names=outputs,
            dynamic_shapes=dims,
            verbose=False,
        )
    with atomic_output(paths["config"]) as temp:
        temp.write_text(json.dumps(cfg.to_dict(), indent=1))
    return paths


def quantize_lm(fp32_path: Path, int8_path: Path) -> Path:
    """int8 dynamic quantization (onnxruntime): weights of the matrix products and the token
    embedding table stored as int8 with per-channel scales, activations quantized on the fly.
    Its quality against fp32 is measured by the LM evaluation (docs/lm.md)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with atomic_output(int8_path) as temp:
        quantize_dynamic(
            fp32_path,
            temp,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Gather"],
        )
    return int8_path


def main() -> None:
    parser = argparse.ArgumentParser(description="Export an LM checkpoint to ONNX (KV cache).")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--int8", action="store_true", help="also write lm_int8.onnx")
    args = parser.parse_args()
    paths = export_lm(load_lm(args.checkpoint), args.out)
    if args.int8:
        paths["lm_int8"] = quantize_lm(paths["lm"], args.out / LM_INT8_FILE)
    for role, path in paths.items():
        print(f"{role}: {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
