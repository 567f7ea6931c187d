"""The reference sampler in torch: a task's prefix in, the generated codes out, with a key/value
cache, classifier-free guidance as one batched call, and decoding constrained to the codes of
the modality being generated. Token choice is `reelpoet.sdk.sampling.choose`, the function the
onnxruntime engine uses too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from reelpoet.models.lm import PrefixLM
from reelpoet.sdk.lm_engine import GenerationRequest, allowed_ranges, tokens_to_codes
from reelpoet.sdk.sampling import SamplingConfig, choose, generator, guide
from reelpoet.sdk.token_layout import TokenLayout


@torch.no_grad()
def generate(
    model: PrefixLM,
    layout: TokenLayout,
    request: GenerationRequest,
    sampling: SamplingConfig,
    on_step: Callable[[int, int], None] | None = None,
) -> list[int]:
    """The task's output codes (tokenizer codes, not token ids)."""
    sequence = layout.assemble(request.task, video_in=request.video_in, audio_in=request.audio_in)
    streams = 2 if sampling.guided else 1
    tokens = torch.tensor([sequence.tokens] * streams)
    text = torch.from_numpy(np.asarray(request.text, dtype=np.float32))[None].repeat(streams, 1, 1)
    mask = torch.from_numpy(np.asarray(request.text_mask, dtype=bool))[None].repeat(streams, 1)
    if streams == 2:
        mask[1] = False  # the unconditional stream: same sequence, no text
    prefix = torch.tensor([sequence.prefix_length])
    rng = generator(sampling.seed)
    ranges = allowed_ranges(layout, request.task)
    logits, cache = model(tokens, prefix, text, mask)
    chosen: list[int] = []
    for i, allowed in enumerate(ranges):
        last = logits[:, -1].double().numpy()
        scores = guide(last[0], last[1], sampling.guidance_scale) if streams == 2 else last[0]
        chosen.append(choose(scores, allowed, sampling, rng))
        if on_step is not None:
            on_step(i + 1, len(ranges))
        if i + 1 < len(ranges):
            step = torch.tensor([[chosen[-1]]] * streams)
            logits, cache = model(step, prefix, past=cache)
    return tokens_to_codes(layout, request.task, chosen)
