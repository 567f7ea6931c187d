"""Choosing the next token from logits: one implementation (numpy, no torch) shared by the torch
reference sampler and the onnxruntime engine, so both mean the same thing by every setting and a
seed gives the same tokens from either when their logits agree.

Order of operations, per generated position: classifier-free guidance combines the conditional
and unconditional logits; only the codes of the modality being generated are kept (constrained
decoding); temperature divides; top-k, then top-p (nucleus) cut the candidates; one uniform
draw from the seeded generator picks among them by inverse CDF. Temperature 0 is greedy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 1.0  # 0: greedy (the most likely code)
    top_k: int = 0  # 0: no cut
    top_p: float = 1.0  # 1: no cut
    guidance_scale: float = 1.0  # classifier-free guidance; 1: conditional logits alone
    seed: int = 0

    def __post_init__(self) -> None:
        checks = (
            (
                math.isfinite(self.temperature) and 0 <= self.temperature <= 10,
                "temperature",
                "0..10",
            ),
            (isinstance(self.top_k, int) and self.top_k >= 0, "top_k", "an integer >= 0"),
            (math.isfinite(self.top_p) and 0 < self.top_p <= 1, "top_p", "in (0, 1]"),
            (
                math.isfinite(self.guidance_scale) and 0 <= self.guidance_scale <= 20,
                "guidance_scale",
                "0..20",
            ),
            (isinstance(self.seed, int) and 0 <= self.seed < 2**63, "seed", "an integer >= 0"),
        )
        for ok, name, allowed in checks:
            if not ok:
                raise InvalidRequestError(f"{name} must be {allowed}, got {getattr(self, name)!r}")

    @property
    def guided(self) -> bool:
        """Whether an unconditional stream must run beside the conditional one."""
        return self.guidance_scale != 1.0


def guide(conditional: np.ndarray, unconditional: np.ndarray, scale: float) -> np.ndarray:
    """Classifier-free guidance: move from the unconditional logits past the conditional ones."""
    return unconditional + scale * (conditional - unconditional)


def choose(
    logits: np.ndarray, allowed: range, config: SamplingConfig, rng: np.random.Generator
) -> int:
    """A token id from `allowed` (a contiguous id range), given one position's logits (V,)."""
    candidates = np.asarray(logits[allowed.start : allowed.stop], dtype=np.float64)
    if config.temperature == 0:
        return allowed.start + int(np.argmax(candidates))
    scaled = candidates / config.temperature
    order = np.argsort(-scaled, kind="stable")  # best first; ties keep the lower id first
    if config.top_k:
        order = order[: config.top_k]
    probs = np.exp(scaled[order] - scaled[order[0]])
    probs /= probs.sum()
    if config.top_p < 1:
        # The smallest set of best candidates whose mass reaches top_p (at least one).
        keep = int(np.searchsorted(np.cumsum(probs), config.top_p)) + 1
        order, probs = order[:keep], probs[:keep] / probs[:keep].sum()
    cumulative = np.cumsum(probs)
    pick = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return allowed.start + int(order[min(pick, len(order) - 1)])


def generator(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
