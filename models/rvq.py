"""Residual vector quantization (RVQ) with EMA codebooks, dead-code restart and quantizer dropout,
as in SoundStream: Zeghidour et al., "SoundStream: An End-to-End Neural Audio Codec",
arXiv:2107.03312, section "Residual Vector Quantizer" (Algorithm 1, quantizer dropout).

Level k quantizes what levels 0..k-1 left over: r_0 = z, q_k = nearest(r_k), r_{k+1} = r_k - q_k,
and the quantized vector is q_0 + ... + q_{L-1} for the first L levels. Encoding can search
several paths through the levels (`beam_width` > 1: keep the best few partial sums at each
level, not only the nearest code's), which finds codes closer to the vector than level-by-level
nearest codes do; codebooks fitted for it (`fit(..., refine_rounds=N)`) re-estimate each level
given the codes of all the others. Codebooks are not trained
by gradient descent but follow the running mean of the vectors assigned to each code (EMA, as in
VQ-VAE-2 and SoundStream); a code that no vector picked while `dead_after` x V vectors went by
(one used at under 1/dead_after of the uniform rate) is restarted from a random vector of the
current batch, so the whole vocabulary stays in use. Counting vectors rather than steps keeps
that rule the same at any batch size.

Under DDP every rank must end a step with the same codebooks: assignment counts and sums are
all-reduced, and random choices (first-batch init, restarts) are made on rank 0 and broadcast.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

# Norm below which a vector counts as silence (only silence may take the zero code at level 0),
# unless the model's config says otherwise (`AudioTokenizerConfig.silence_norm`): about -150
# dBFS frame RMS through the default's compander. Models before session 9 were coded with it.
SILENCE_NORM = 1e-4
FORBIDDEN = 1e9  # an added squared error no real path comes near


class RVQOutput(NamedTuple):
    quantized: torch.Tensor  # (B, T, D) sum of the active levels, straight-through gradients
    codes: torch.Tensor  # (B, T, K) int64, every level (the inactive ones too, for logging)
    commit_loss: torch.Tensor  # scalar: mean ||r_k - sg(q_k)||^2 over active (example, level)
    codes_used: torch.Tensor  # (K,) fraction of each level's codes picked in this batch


def _synced(tensor: torch.Tensor, op: str) -> torch.Tensor:
    """Sum over ranks ("sum") or take rank 0's copy ("broadcast"); a no-op without DDP."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        if op == "sum":
            dist.all_reduce(tensor)
        else:
            dist.broadcast(tensor, src=0)
    return tensor


class ResidualVectorQuantizer(nn.Module):
    """Quantizes (B, T, D) vectors with K levels of V codes each; codes are (B, T, K) ints."""

    def __init__(
        self,
        num_levels: int,
        codebook_size: int,
        dim: int,
        decay: float = 0.99,
        dead_after: float = 2.0,
        eps: float = 1e-5,
        beam_width: int = 1,
        zero_code: bool = False,
        silence_norm: float = SILENCE_NORM,
    ) -> None:
        super().__init__()
        if beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got {beam_width}")
        self.num_levels, self.codebook_size, self.dim = num_levels, codebook_size, dim
        self.beam_width = beam_width
        # Code 0 of every level stays the zero vector: silence (a zero latent) then codes as
        # all zeros and decodes to exactly what the decoder makes of a zero latent. Only a
        # vector of norm below `silence_norm` may take code 0 at level 0, so a quiet sound is
        # never coded as silence (the decoder may gate what is coded as silence).
        self.zero_code, self.silence_norm = zero_code, silence_norm
        self.decay, self.dead_after, self.eps = decay, dead_after, eps
        self.register_buffer("codebooks", torch.randn(num_levels, codebook_size, dim))
        # EMA statistics: how many vectors each code got (cluster size) and their sum.
        self.register_buffer("cluster_size", torch.ones(num_levels, codebook_size))
        self.register_buffer("embed_sum", self.codebooks.clone())
        self.register_buffer("unused_vectors", torch.zeros(num_levels, codebook_size))
        self.register_buffer("initialized", torch.zeros(()))
        # Frozen codebooks keep their values in training: no EMA, no restarts (fine-tuning a
        # network around codebooks fitted after the fact, `refit_audio_codebooks`).
        self.frozen = False

    def forward(self, z: torch.Tensor, active_levels: torch.Tensor | None = None) -> RVQOutput:
        """z: (B, T, D); active_levels: (B,) ints in 1..K (quantizer dropout), None for all K."""
        b = z.shape[0]
        if active_levels is None:
            active_levels = torch.full((b,), self.num_levels, device=z.device)
        active = torch.arange(self.num_levels, device=z.device) < active_levels[:, None]  # (B, K)
        update = self.training and torch.is_grad_enabled() and not self.frozen
        if update and not self.initialized:
            self._init_from(z.detach())
        searched = self.encode(z.detach()) if self.beam_width > 1 else None  # (B, T, K)
        residual, quantized, codes, commit = z, torch.zeros_like(z), [], []
        for k in range(self.num_levels):
            if searched is None:
                cost = self._level_cost(z.detach(), k)
                level_codes = self._nearest(residual.detach(), self.codebooks[k], cost)  # (B, T)
            else:
                level_codes = searched[..., k]
            q = F.embedding(level_codes, self.codebooks[k])  # (B, T, D), no grad: EMA-trained
            commit.append((residual - q).pow(2).mean(dim=(1, 2)))  # (B,)
            if update:
                self._ema_update(k, residual.detach(), level_codes)
            quantized = quantized + q * active[:, k, None, None]
            residual = residual - q
            codes.append(level_codes)
        commit_loss = (torch.stack(commit, 1) * active).sum() / active.sum()
        codes_t = torch.stack(codes, -1)  # (B, T, K)
        used = torch.tensor(
            [codes_t[..., k].unique().numel() / self.codebook_size for k in range(self.num_levels)]
        )
        return RVQOutput(z + (quantized - z).detach(), codes_t, commit_loss, used)

    @staticmethod
    def _nearest(
        x: torch.Tensor, codebook: torch.Tensor, cost: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(..., D) vectors, (V, D) codebook -> (...) index of the nearest code (L2), after
        adding `cost` (broadcast to (..., V)) to the squared distances."""
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 does not change the argmin.
        scores = x @ codebook.T * 2 - codebook.pow(2).sum(-1)  # (..., V)
        if cost is not None:
            scores = scores - cost
        return scores.argmax(-1)

    def _level_cost(self, z: torch.Tensor, k: int) -> torch.Tensor | None:
        return self._first_level_cost(z) if k == 0 else None

    def _first_level_cost(self, z: torch.Tensor) -> torch.Tensor | None:
        """(..., V) extra squared error of each level-0 code for vectors z: with the zero code,
        code 0 costs `FORBIDDEN` for every vector that is not silence."""
        if not self.zero_code:
            return None
        audible = (z.norm(dim=-1, keepdim=True) >= self.silence_norm).to(z.dtype)  # (..., 1)
        first = F.one_hot(torch.zeros((), dtype=torch.long), self.codebook_size).to(z.dtype)
        return audible * first * FORBIDDEN

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, K) int64 codes, all levels."""
        if self.beam_width > 1:
            return beam_search(z, self.codebooks, self.beam_width, self._first_level_cost(z))
        residual, codes = z, []
        for k in range(self.num_levels):
            level_codes = self._nearest(residual, self.codebooks[k], self._level_cost(z, k))
            residual = residual - F.embedding(level_codes, self.codebooks[k])
            codes.append(level_codes)
        return torch.stack(codes, -1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T, L) codes of the first L <= K levels -> (B, T, D) sum of their vectors."""
        levels = torch.arange(codes.shape[-1], device=codes.device)  # (L,)
        flat = self.codebooks.reshape(-1, self.dim)  # (K * V, D): one gather for all levels
        return F.embedding(codes + levels * self.codebook_size, flat).sum(-2)

    @torch.no_grad()
    def _init_from(self, z: torch.Tensor) -> None:
        """Codebooks start as random vectors of the first batch's residuals (rank 0's)."""
        residual = z.reshape(-1, self.dim)  # (N, D)
        for k in range(self.num_levels):
            self.codebooks[k] = _synced(self._sample(residual, self.codebook_size), "broadcast")
            self._pin_zero(self.codebooks[k])
            residual = residual - F.embedding(
                self._nearest(residual, self.codebooks[k]), self.codebooks[k]
            )
        self.embed_sum.copy_(self.codebooks)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(1.0)

    @torch.no_grad()
    def fit(
        self, z: torch.Tensor, iterations: int = 20, seed: int = 0, refine_rounds: int = 0
    ) -> None:
        """Codebooks from k-means (Lloyd's algorithm) on (..., D) vectors, level by level on
        what the levels before leave. A better start than `_init_from`'s random vectors: on a
        trained model's latents of the training mix, k-means codebooks gave 5.7 dB held-out
        SI-SNR where its EMA-trained ones gave 5.2 (docs/audio_tokenizer.md, "Session 5").
        Then `refine_rounds` rounds of joint refinement (`refine`). Deterministic for a seed,
        so ranks given the same vectors end with the same codebooks."""
        self._greedy_kmeans(z, iterations, seed)
        for _ in range(refine_rounds):
            self.refine(z)
        self.embed_sum.copy_(self.codebooks)
        self.cluster_size.fill_(1.0)
        self.unused_vectors.zero_()
        self.initialized.fill_(1.0)

    @torch.no_grad()
    def refine(self, z: torch.Tensor) -> None:
        """One round of joint codebook refinement on (..., D) vectors: code them with this
        quantizer's search, then make each level's codewords the mean of what the vectors given
        them need once the other levels' codewords are taken away (least squares for fixed
        codes, level after level). Greedy k-means fits level k for what levels < k leave and
        never revisits it; this lets every level adapt to all the others, which lowers the
        error of the whole sum. A codeword no vector picked keeps its value."""
        vectors = z.reshape(-1, self.dim).float()
        codes = torch.cat([self.encode(chunk[None])[0] for chunk in vectors.split(4096)])
        total = self.decode(codes)  # (N, D)
        for k in range(self.num_levels):
            own = F.embedding(codes[:, k], self.codebooks[k])
            wanted = vectors - (total - own)  # what level k should add, given the others
            counts = torch.bincount(codes[:, k], minlength=self.codebook_size).float()
            sums = torch.zeros_like(self.codebooks[k]).index_add_(0, codes[:, k], wanted)
            self.codebooks[k] = torch.where(
                (counts > 0)[:, None], sums / counts.clamp_min(1)[:, None], self.codebooks[k]
            )
            self._pin_zero(self.codebooks[k])
            total = total - own + F.embedding(codes[:, k], self.codebooks[k])

    def _greedy_kmeans(self, z: torch.Tensor, iterations: int, seed: int) -> None:
        residual = z.reshape(-1, self.dim).float()
        if residual.shape[0] < self.codebook_size:
            raise ValueError(f"k-means needs at least {self.codebook_size} vectors")
        generator = torch.Generator().manual_seed(seed)
        for k in range(self.num_levels):
            codebook = residual[torch.randperm(len(residual), generator=generator)]
            codebook = self._pin_zero(codebook[: self.codebook_size].clone())
            cost = self._level_cost(residual, k)  # level 0: the vectors themselves
            for _ in range(iterations):
                codes = self._nearest(residual, codebook, cost)
                counts = torch.bincount(codes, minlength=self.codebook_size).float()
                sums = torch.zeros_like(codebook).index_add_(0, codes, residual)
                spare = residual[
                    torch.randint(len(residual), (self.codebook_size,), generator=generator)
                ]
                codebook = torch.where(  # an empty cluster restarts at a random vector
                    (counts > 0)[:, None], sums / counts.clamp_min(1)[:, None], spare
                )
                self._pin_zero(codebook)
            self.codebooks[k] = codebook
            residual = residual - F.embedding(self._nearest(residual, codebook, cost), codebook)

    def _pin_zero(self, codebook: torch.Tensor) -> torch.Tensor:
        """Set code 0 of a (V, D) codebook to zero in place when `zero_code` is on."""
        if self.zero_code:
            codebook[0] = 0.0
        return codebook

    @staticmethod
    def _sample(vectors: torch.Tensor, count: int) -> torch.Tensor:
        """`count` rows of (N, D) `vectors`, without repeats while there are enough rows."""
        if vectors.shape[0] >= count:
            return vectors[torch.randperm(vectors.shape[0], device=vectors.device)[:count]]
        picks = torch.randint(vectors.shape[0], (count,), device=vectors.device)
        # Repeated rows get a little noise so that no two codes are exactly equal.
        return vectors[picks] + 1e-3 * vectors.std() * torch.randn_like(vectors[picks])

    @torch.no_grad()
    def _ema_update(self, k: int, residual: torch.Tensor, codes: torch.Tensor) -> None:
        flat, flat_codes = residual.reshape(-1, self.dim), codes.reshape(-1)  # (N, D), (N,)
        counts = _synced(torch.bincount(flat_codes, minlength=self.codebook_size).float(), "sum")
        sums = torch.zeros_like(self.embed_sum[k]).index_add_(0, flat_codes, flat)  # (V, D)
        sums = _synced(sums, "sum")
        self.cluster_size[k].mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum[k].mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Laplace smoothing keeps a code that lost its vectors from dividing by ~0.
        total = self.cluster_size[k].sum()
        size = (self.cluster_size[k] + self.eps) / (total + self.codebook_size * self.eps) * total
        self.codebooks[k] = self.embed_sum[k] / size[:, None]
        self._pin_zero(self.codebooks[k])
        seen = counts.sum()  # vectors of this step, all ranks
        self.unused_vectors[k] = torch.where(counts > 0, 0.0, self.unused_vectors[k] + seen)
        self._restart_dead(k, flat)

    @torch.no_grad()
    def _restart_dead(self, k: int, vectors: torch.Tensor) -> None:
        """SoundStream's restart: a code unused for a while becomes a vector of this batch."""
        dead = self.unused_vectors[k] >= self.dead_after * self.codebook_size  # same on all ranks
        dead[0] &= not self.zero_code  # the zero code is kept for silence, used or not
        count = int(dead.sum())
        if count == 0:
            return
        fresh = _synced(self._sample(vectors, count), "broadcast")  # (count, D)
        self.codebooks[k, dead] = fresh
        self.embed_sum[k, dead] = fresh
        self.cluster_size[k, dead] = 1.0
        self.unused_vectors[k, dead] = 0.0


def beam_search(
    z: torch.Tensor, codebooks: torch.Tensor, width: int, first_cost: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, T, D) vectors, (K, V, D) codebooks -> (B, T, K) codes whose sum of codewords is
    near z: at each level every kept partial sum is extended by every code and the `width`
    extensions with the least squared error stay (level-by-level nearest codes are width 1).
    `first_cost` ((B, T, V) or broadcastable) is added to the level-0 errors. Plain tensor
    ops (TopK, Gather), so it exports to ONNX."""
    num_levels, size, dim = codebooks.shape
    flat = z.reshape(-1, dim)  # (N, D)
    norms = codebooks.pow(2).sum(-1)  # (K, V)
    sums = torch.zeros_like(flat)[:, None]  # (N, kept, D): the kept paths' quantized sums
    paths, kept = None, 1  # paths: (N, kept, levels so far) codes
    for k in range(num_levels):
        residual = flat[:, None] - sums  # (N, kept, D)
        # ||r - c||^2 = ||r||^2 - 2 r.c + ||c||^2, for every kept path and every code
        error = residual.pow(2).sum(-1, keepdim=True) - 2 * residual @ codebooks[k].T + norms[k]
        if k == 0 and first_cost is not None:
            error = error + first_cost.reshape(-1, 1, first_cost.shape[-1])
        keep = min(width, kept * size)
        error = error.flatten(1).double()  # (N, kept * V)
        # Equal errors (duplicate codewords: silent frames make them) go to the lower index
        # in onnxruntime's TopK and anywhere in torch's; ranking by a key that grows with the
        # index (in float64, where the step is below float32's resolution of the errors)
        # makes both pick the same.
        order = torch.arange(error.shape[1], dtype=error.dtype, device=error.device)
        key = error + (error.abs() * 1e-12 + 1e-30) * order
        best = key.topk(keep, dim=1, largest=False).indices  # (N, keep), best first
        parent, code = torch.div(best, size, rounding_mode="floor"), best % size
        sums = sums.gather(1, parent[..., None].expand(-1, -1, dim)) + codebooks[k][code]
        if paths is None:
            paths = code[..., None]
        else:
            paths = torch.cat(
                [paths.gather(1, parent[..., None].expand(-1, -1, k)), code[..., None]], -1
            )
        kept = keep
    return paths[:, 0].reshape(*z.shape[:-1], num_levels)
