"""LM decode speed, all in one run on the same weights and threads, ratios printed:
(a) onnxruntime with the KV cache, fp32 and int8; (b) torch eager with the KV cache; (c) torch
eager recomputing the whole sequence every step; (d) Hugging Face `transformers` `generate` on
a Llama of the same width, depth, heads, feed-forward size and vocabulary (what a user would
reach for).

    python benchmarks/lm_decode.py [--checkpoint runs/lm/checkpoint] [--threads 2] [--tokens 64]

Every contestant generates the same number of tokens greedily after the same prefix (a
text-to-image prompt: 55 positions) at batch 1; tokens/s counts generated tokens over the whole
call (prefill included, as a user waits for it). Without --checkpoint a freshly initialised
default model is measured (speed does not depend on the weights' values).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from reelpoet.export.lm_onnx import export_lm, quantize_lm
from reelpoet.models.lm import PrefixLM, preset_config
from reelpoet.models.lm_sampler import generate
from reelpoet.models.trained import load_lm
from reelpoet.sdk.lm_engine import GenerationRequest, LMEngine
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.token_layout import Task, TokenLayout

GREEDY = SamplingConfig(temperature=0)


def tokens_per_second(run: Callable[[], object], tokens: int, repeats: int) -> float:
    run()  # warm-up: first calls allocate and pick kernels
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return repeats * tokens / (time.perf_counter() - start)


def best_torch_threads(run: Callable[[], object], tokens: int, repeats: int, threads: int):
    """torch at 1 thread and at `threads`, the faster counted: at batch 1 its per-op thread
    handoff can cost more than the second core gives (measured here: 98 vs 36 tokens/s)."""
    speeds = {}
    for count in sorted({1, threads}):
        torch.set_num_threads(count)
        speeds[count] = tokens_per_second(run, tokens, repeats)
    torch.set_num_threads(threads)
    best = max(speeds, key=speeds.get)
    return speeds[best], best


@torch.no_grad()
def recompute(model: PrefixLM, prefix: list[int], prefix_length: int, request, tokens: int):
    """Greedy decoding without a cache: the whole sequence through the model at every step."""
    ids = list(prefix)
    text = torch.from_numpy(request.text)[None]
    mask = torch.from_numpy(request.text_mask)[None]
    length = torch.tensor([prefix_length])
    for _ in range(tokens):
        logits, _ = model(torch.tensor([ids]), length, text, mask)
        ids.append(int(logits[0, -1].argmax()))
    return ids


def llama_like(model: PrefixLM):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = model.cfg
    config = LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.width,
        intermediate_size=cfg.mlp_hidden,
        num_hidden_layers=cfg.depth,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    layout = TokenLayout()
    model = (
        load_lm(args.checkpoint) if args.checkpoint else PrefixLM(preset_config("default", layout))
    )
    model.eval()
    task = Task.TEXT_TO_IMAGE
    tokens = layout.output_length(task)
    rng = np.random.default_rng(0)
    text = rng.normal(size=(layout.text_slots, 384)).astype(np.float32)
    mask = np.zeros(layout.text_slots, dtype=bool)
    mask[:14] = True
    text[~mask] = 0
    request = GenerationRequest(task, text, mask)
    sequence = layout.assemble(task)
    print(
        f"weights: {args.checkpoint or 'fresh default model'} "
        f"({model.parameter_count() / 1e6:.1f}M parameters); threads: {args.threads}; "
        f"batch 1; {len(sequence.tokens)}-position prefix, {tokens} generated tokens"
    )
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = export_lm(model, Path(folder))
        int8 = quantize_lm(paths["lm"], Path(folder) / "lm_int8.onnx")
        for name, graph in (("onnxruntime KV fp32", paths["lm"]), ("onnxruntime KV int8", int8)):
            engine = LMEngine.from_files(graph, paths["config"], layout, threads=args.threads)
            results[name] = tokens_per_second(
                lambda e=engine: e.generate(request, GREEDY), tokens, args.repeats
            )
    torch_threads = {}
    results["torch eager KV"], torch_threads["torch eager KV"] = best_torch_threads(
        lambda: generate(model, layout, request, GREEDY), tokens, args.repeats, args.threads
    )
    results["torch eager recompute"], torch_threads["torch eager recompute"] = best_torch_threads(
        lambda: recompute(model, sequence.tokens, sequence.prefix_length, request, tokens),
        tokens,
        1,
        args.threads,
    )
    llama = llama_like(model)
    ids = torch.tensor([sequence.tokens])

    def hf_generate():
        with torch.no_grad():
            llama.generate(
                ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, use_cache=True
            )

    hf = "transformers generate (Llama)"
    results[hf], torch_threads[hf] = best_torch_threads(
        hf_generate, tokens, args.repeats, args.threads
    )
    print("\ndecode tokens/s (CPU; torch-based rows at their faster thread count)")
    for name, value in results.items():
        note = f"  ({torch_threads[name]} thread)" if name in torch_threads else ""
        print(f"  {name:32s} {value:8.1f}{note}")
    ours = results["onnxruntime KV fp32"]
    print(
        f"\n  onnxruntime KV fp32 / torch eager KV      = {ours / results['torch eager KV']:.2f}x"
    )
    print(
        f"  onnxruntime KV fp32 / transformers generate = "
        f"{ours / results['transformers generate (Llama)']:.2f}x"
    )
    print(
        f"  onnxruntime KV int8 / fp32                = "
        f"{results['onnxruntime KV int8'] / ours:.2f}x"
    )
    print(
        f"  torch eager KV / recompute                = "
        f"{results['torch eager KV'] / results['torch eager recompute']:.2f}x"
    )


if __name__ == "__main__":
    main()
