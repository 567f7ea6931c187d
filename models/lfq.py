"""Lookup-free quantization (LFQ), as in MAGVIT-v2: Yu et al., "Language Model Beats Diffusion --
Tokenizer is Key to Visual Generation", arXiv:2310.05737, section 3.1.

Each latent channel is quantized to its sign; the code of a position is the integer whose bits
are those signs (bit i set when channel i is positive). No codebook is looked up or learned, so
the vocabulary is 2^bits with no dead codes by construction; the entropy penalty makes the
encoder use them: low entropy per position (confident bits) and high entropy over the batch
(all codes used).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class LFQOutput(NamedTuple):
    quantized: (
        torch.Tensor
    )  # (..., bits) like the input, values in {-1, +1}, straight-through grads
    codes: torch.Tensor  # (...) int64 in [0, 2^bits)
    commit_loss: torch.Tensor  # scalar: pulls the encoder output towards its quantized value
    entropy_loss: torch.Tensor  # scalar: per-position entropy - diversity_weight * batch entropy
    batch_entropy_bits: torch.Tensor  # scalar, for logging: entropy of the mean code distribution


class LookupFreeQuantizer(nn.Module):
    """Quantizes the last dim of (..., bits) tensors to signs; codes are bit-packed ints."""

    def __init__(
        self,
        bits: int,
        entropy_group_bits: int = 12,
        temperature: float = 0.1,
        diversity_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if bits % min(bits, entropy_group_bits) != 0:
            raise ValueError(f"bits={bits} must be a multiple of entropy_group_bits")
        self.bits = bits
        # Entropy over 2^18 codes per position does not fit in memory; like open MAGVIT-v2 we
        # sum the entropies of independent groups of bits (exact when groups are independent).
        self.group_bits = min(bits, entropy_group_bits)
        self.temperature = temperature
        self.diversity_weight = diversity_weight
        self.register_buffer("bit_values", 2 ** torch.arange(bits), persistent=False)
        group_codes = torch.arange(2**self.group_bits)[:, None] >> torch.arange(self.group_bits)
        self.register_buffer("group_codebook", (group_codes & 1).float() * 2 - 1, persistent=False)

    def forward(self, z: torch.Tensor) -> LFQOutput:
        hard = torch.where(z > 0, 1.0, -1.0)
        quantized = z + (hard - z).detach()  # straight-through estimator
        codes = self.quantized_to_codes(hard)
        commit_loss = F.mse_loss(z, hard.detach())
        if self.training:
            entropy_loss, batch_entropy = self._entropy_terms(z)
        else:
            entropy_loss = batch_entropy = z.new_zeros(())
        return LFQOutput(quantized, codes, commit_loss, entropy_loss, batch_entropy)

    def _entropy_terms(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = z.reshape(-1, self.bits)  # (N, bits)
        groups = flat.view(flat.shape[0], -1, self.group_bits)  # (N, G, g)
        # -||z - c||^2 = 2 z.c + const over codes c, so the softmax needs only the dot product
        logits = 2 * groups @ self.group_codebook.T / self.temperature  # (N, G, 2^g)
        probs = logits.softmax(-1)
        per_position = -(probs * logits.log_softmax(-1)).sum(-1).mean()
        mean_probs = probs.mean(0)  # (G, 2^g)
        batch = -(mean_probs * torch.log(mean_probs.clamp_min(1e-9))).sum(-1).sum()
        return per_position - self.diversity_weight * batch, batch / torch.log(torch.tensor(2.0))

    def quantized_to_codes(self, hard: torch.Tensor) -> torch.Tensor:
        return ((hard > 0).long() * self.bit_values).sum(-1)

    def codes_to_quantized(self, codes: torch.Tensor) -> torch.Tensor:
        """(...) int codes -> (..., bits) values in {-1, +1}; the inverse of the code packing."""
        # Division rather than >> and &: the ONNX exporter has no bit-shift for tensors.
        bits = torch.remainder(
            torch.div(codes.unsqueeze(-1), self.bit_values, rounding_mode="floor"), 2
        )
        return bits.float() * 2 - 1
