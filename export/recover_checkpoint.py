"""Rebuild torch checkpoints from a bundle's ONNX graphs, so training can go on from what shipped.

    python -m reelpoet.export.recover_checkpoint --bundle sdk/bundles/default --out runs/shipped

Why: training checkpoints live in an ignored folder (`runs/`) that a fresh machine does not
have; the bundle in git is the one copy that always survives. Its graphs hold every weight:

- tokenizers: initializers keep the parameter names (`model.<name>`, with a `__fp16` suffix
  where `fp16_weights.py` stored them as float16), so recovery is exact up to that rounding;
- the LM: the int8 graph's weight matrices are anonymous (`val_N_quantized`, transposed by the
  exporter). The same architecture is exported again from fresh random weights, whose values
  name each `val_N` (a parameter's values, or their transpose, are unique), and the int8
  weights are dequantized into those parameters: an approximation (the int8 rounding) that a
  few hundred steps of training absorb.

Each output folder is a checkpoint (`model.safetensors` + `state.json`, no optimizer state)
whose state is the bundle's provenance record for that model plus `recovered_from`; start a
run from it with `--init-from`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from reelpoet.export.fp16_weights import FP16_SUFFIX
from reelpoet.models.audio_tokenizer import AudioTokenizer, AudioTokenizerConfig
from reelpoet.models.lm import LMConfig, PrefixLM
from reelpoet.models.train.checkpoint import save_weights
from reelpoet.models.video_tokenizer import VideoTokenizer, VideoTokenizerConfig


class RecoveryError(RuntimeError):
    """The bundle's graphs do not hold the weights of the model its manifest describes."""


@dataclass(frozen=True)
class Recipe:
    """How one trained network is rebuilt from its config and exported (to find its weights)."""

    build: Callable[[dict], torch.nn.Module]
    export: Callable[[torch.nn.Module, Path], dict[str, Path]]
    # The manifest's model entries that hold its weights -> the keys of `export`'s paths.
    graphs: dict[str, str]
    # State entries that the graphs need not hold, and how to set them once the rest is loaded.
    finish: Callable[[torch.nn.Module], list[str]] = lambda model: []


def _export_lm(model, out_dir):
    from reelpoet.export.lm_onnx import export_lm

    return export_lm(model, out_dir)


def _export_video(model, out_dir):
    from reelpoet.export.video_tokenizer_onnx import export_video_tokenizer

    return export_video_tokenizer(model, out_dir)


def _export_audio(model, out_dir):
    from reelpoet.export.audio_tokenizer_onnx import export_audio_tokenizer

    return export_audio_tokenizer(model, out_dir)


def _restart_rvq_statistics(model: AudioTokenizer) -> list[str]:
    """The RVQ's EMA statistics are training state no graph needs: restart them as the
    quantizer's own initialisation does (each code its own running mean, count 1)."""
    quantizer = model.quantizer
    quantizer.embed_sum.copy_(quantizer.codebooks)
    quantizer.cluster_size.fill_(1.0)
    quantizer.unused_vectors.zero_()
    quantizer.initialized.fill_(1.0)
    names = ("cluster_size", "embed_sum", "unused_vectors", "initialized")
    return [f"quantizer.{name}" for name in names]


RECIPES = {
    "video_tokenizer": Recipe(
        lambda config: VideoTokenizer(VideoTokenizerConfig(**config)),
        _export_video,
        {"video_encoder": "encoder", "video_decoder": "decoder"},
    ),
    "audio_tokenizer": Recipe(
        lambda config: AudioTokenizer(AudioTokenizerConfig.from_dict(config)),
        _export_audio,
        {"audio_encoder": "encoder", "audio_decoder": "decoder"},
        _restart_rvq_statistics,
    ),
    "lm": Recipe(lambda config: PrefixLM(LMConfig(**config)), _export_lm, {"lm": "lm"}),
}


def _initializers(path: Path) -> dict[str, np.ndarray]:
    graph = onnx.load(str(path)).graph
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _key(value: np.ndarray) -> bytes:
    return np.ascontiguousarray(value, dtype=np.float32).tobytes()


Location = tuple[str, str, bool]  # graph (manifest name), initializer name, transposed


def _locate(recipe: Recipe, model: torch.nn.Module) -> dict[str, Location]:
    """Where the exporter puts each state entry. Found by
    exporting `model` with every entry set to random values, which do not repeat, and matching
    values (exporters rename, transpose and reshape weights, but keep their numbers)."""
    generator = torch.Generator().manual_seed(0)
    parameters = {name for name, _ in model.named_parameters()}
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            # Scalar buffers are flags (the RVQ's `initialized`): left as they are.
            if tensor.is_floating_point() and (name in parameters or tensor.numel() > 1):
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
    with tempfile.TemporaryDirectory() as tmp:
        paths = recipe.export(model.eval(), Path(tmp))
        fresh: dict[bytes, tuple[str, str]] = {}
        for graph, export_key in recipe.graphs.items():
            for name, value in _initializers(paths[export_key]).items():
                if value.dtype == np.float32:
                    fresh.setdefault(_key(value), (graph, name))
    located = {}
    for name, tensor in model.state_dict().items():
        value = tensor.detach().numpy()
        if _key(value) in fresh:
            located[name] = (*fresh[_key(value)], False)
        elif value.ndim == 2 and _key(value.T) in fresh:
            located[name] = (*fresh[_key(value.T)], True)
    return located


def _dequantized(initializers: dict[str, np.ndarray], name: str) -> np.ndarray:
    """onnxruntime's dynamic quantization: q, scale, zero point (per column, or one for all)."""
    q = initializers[f"{name}_quantized"].astype(np.float32)
    scale = initializers[f"{name}_scale"].astype(np.float32)
    zero = initializers[f"{name}_zero_point"].astype(np.float32)
    return (q - zero) * scale  # per-channel scales run along the last (output) axis


def _shipped_value(shipped: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    if name in shipped:
        return shipped[name].astype(np.float32)
    if name + FP16_SUFFIX in shipped:  # stored by fp16_weights.py
        return shipped[name + FP16_SUFFIX].astype(np.float32)
    if f"{name}_quantized" in shipped:  # int8 (lm_onnx.quantize_lm)
        return _dequantized(shipped, name)
    return None


def recover_model(which: str, graphs: dict[str, Path], config: dict) -> torch.nn.Module:
    """The torch network `which` with the weights of the shipped `graphs` (manifest name ->
    file)."""
    recipe = RECIPES[which]
    located = _locate(recipe, recipe.build(config))
    shipped = {graph: _initializers(graphs[graph]) for graph in recipe.graphs}
    model = recipe.build(config)
    state = model.state_dict()
    recovered = set()
    with torch.no_grad():
        for name, (graph, graph_name, transposed) in located.items():
            value = _shipped_value(shipped[graph], graph_name)
            if value is None and name.endswith(".bias"):
                # The exporter drops an all-zero bias (the conv then has no bias input): the
                # filterbank's and a fitted transform coder's are zero until trained.
                value = np.zeros(state[name].shape, np.float32)
            if value is None:
                raise RecoveryError(f"{which}: the shipped graphs have no {graph_name} ({name})")
            value = value.T if transposed else value
            if value.size != state[name].numel():
                wanted = state[name].numel()
                raise RecoveryError(f"{which}: {name} has {value.size} values, not {wanted}")
            state[name].copy_(torch.from_numpy(np.ascontiguousarray(value)).view_as(state[name]))
            recovered.add(name)
        set_apart = set(recipe.finish(model))
    # Every parameter must come from the graphs; a buffer no graph reads (a rotary table, the
    # RVQ's statistics) keeps its constructed value or what `finish` set.
    missing = [n for n, _ in model.named_parameters() if n not in recovered | set_apart]
    if missing:
        raise RecoveryError(f"{which}: no weight in the graphs for {', '.join(missing[:5])}")
    return model


def recover_bundle(bundle: Path, out: Path, models=tuple(RECIPES)) -> dict[str, Path]:
    """Write `out/<model>` checkpoints for the bundle's trained networks; return their folders."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    written = {}
    for which in models:
        record = dict(manifest.get("provenance", {}).get(which) or {})
        if "model_config" not in record:
            raise RecoveryError(f"{bundle}: the manifest records no model_config for {which}")
        graphs = {g: bundle / manifest["models"][g]["file"] for g in RECIPES[which].graphs}
        model = recover_model(which, graphs, record["model_config"])
        files = [path.name for path in graphs.values()]
        record["recovered_from"] = {"bundle_id": manifest["bundle_id"], "graphs": files}
        written[which] = save_weights(out / which, model, record)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild torch checkpoints from a bundle.")
    parser.add_argument("--bundle", type=Path, default=Path("sdk/bundles/default"))
    parser.add_argument("--out", type=Path, default=Path("runs/shipped"))
    parser.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    args = parser.parse_args()
    for which, folder in recover_bundle(args.bundle, args.out, args.models).items():
        print(f"{which}: {folder}")


if __name__ == "__main__":
    main()
