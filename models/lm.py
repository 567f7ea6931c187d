"""The multimodal prefix LM: a decoder-only transformer over the token layout's one vocabulary.

RMSNorm, rotary positions (RoPE), SwiGLU feed-forward. Prefix LM: attention is bidirectional
over the conditioning prefix (task, text, inputs, the output's begin token) and causal over what
is generated; the loss is on generated tokens only. Text comes in as embeddings: the text slots
of the sequence (fixed positions, `TokenLayout.text_start`) hold the TEXT_SLOT token, whose
embedding is replaced by the projected text-encoder output wherever the text mask is set, so an
unconditional stream (mask all False) is the same sequence with the slot embedding everywhere.

One forward serves training (whole sequences, a prefix length each) and generation (a chunk of
new positions after a key/value cache): `attention_allowed` states the rule once for both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reelpoet.sdk.token_layout import TokenLayout

TEXT_WIDTH = 384  # all-MiniLM-L6-v2's hidden size


@dataclass(frozen=True)
class LMConfig:
    vocab_size: int
    width: int = 256
    depth: int = 8
    heads: int = 4
    mlp_hidden: int = 704  # SwiGLU hidden size (about 8/3 x width)
    max_positions: int = 1024  # RoPE table length: longest sequence the model can run
    text_width: int = TEXT_WIDTH
    text_start: int = 3  # first text slot: <bos> <task> <bot_i> [slots]
    text_slots: int = 48
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError("width must split into heads of an even size (RoPE rotates pairs)")

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_layout(cls, layout: TokenLayout, **sizes) -> LMConfig:
        return cls(vocab_size=layout.vocab_size, text_slots=layout.text_slots, **sizes)


# Width/depth per preset; the vocabulary comes from the token layout (`LMConfig.from_layout`).
PRESETS: dict[str, dict] = {
    # About 10.6M parameters (6.3M in the blocks, 4.2M in the embedding and head): a 20.6M
    # model (width 384) ran at about 170 tokens/s training on one contended core here.
    "default": dict(width=256, depth=8, heads=4, mlp_hidden=704),
    "base": dict(width=1024, depth=24, heads=16, mlp_hidden=2816, max_positions=4096),
    "tiny": dict(width=32, depth=2, heads=2, mlp_hidden=64),
}


def preset_config(name: str, layout: TokenLayout) -> LMConfig:
    if name not in PRESETS:
        raise ValueError(f"LM preset must be one of {sorted(PRESETS)}, not {name!r}")
    return LMConfig.from_layout(layout, **PRESETS[name])


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg: LMConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's rotation angles, (max_positions, head_dim / 2)."""
    half = cfg.head_dim // 2
    inverse_freq = cfg.rope_base ** (-torch.arange(half, dtype=torch.float64) / half)
    angles = torch.arange(cfg.max_positions, dtype=torch.float64)[:, None] * inverse_freq
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of each head's channels; x (B, H, L, D),
    cos/sin (L, D/2) for the positions x holds."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)


def attention_allowed(
    query_positions: torch.Tensor, key_positions: torch.Tensor, prefix_length: torch.Tensor
) -> torch.Tensor:
    """(B, 1, Lq, Lk) bool: a query sees a key at or before it, and every key of the prefix.

    query_positions (Lq,), key_positions (Lk,), prefix_length (B,).
    """
    causal = key_positions[None, :] <= query_positions[:, None]  # (Lq, Lk)
    in_prefix = key_positions[None, :] < prefix_length[:, None]  # (B, Lk)
    return (causal[None] | in_prefix[:, None, :])[:, None]


class Attention(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.heads, self.head_dim = cfg.heads, cfg.head_dim
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width, bias=False)
        self.out = nn.Linear(cfg.width, cfg.width, bias=False)

    def forward(self, x, cos, sin, allowed, past: tuple[torch.Tensor, torch.Tensor] | None):
        b, length, _ = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past is not None:
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return self.out(y.transpose(1, 2).reshape(b, length, -1)), (k, v)


class SwiGLU(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.gate_up = nn.Linear(cfg.width, 2 * cfg.mlp_hidden, bias=False)
        self.down = nn.Linear(cfg.mlp_hidden, cfg.width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.width, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.width, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x, cos, sin, allowed, past):
        y, present = self.attention(self.attention_norm(x), cos, sin, allowed, past)
        x = x + y
        return x + self.mlp(self.mlp_norm(x)), present


KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), (B, H, L, D) each


class PrefixLM(nn.Module):
    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width)
        self.text_projection = nn.Linear(cfg.text_width, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = RMSNorm(cfg.width, cfg.norm_eps)
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2's scaling: residual branches start small so deep stacks start near identity.
        for block in self.blocks:
            for proj in (block.attention.out, block.mlp.down):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * cfg.depth))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def embed_inputs(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        text: torch.Tensor | None,
        text_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Token embeddings, with each text slot's replaced by its projected text embedding
        where the text mask is set.

        The slot a position holds comes from the position itself, not from a branch on
        prefill vs decode, so one exported graph serves both (a decode step passes any text,
        e.g. one masked-off row, and no position of it is a slot)."""
        x = self.embed(tokens)
        if text is None:
            return x
        slots = text.shape[1]
        slot = positions - self.cfg.text_start  # (L,)
        inside = (slot >= 0) & (slot < slots)
        slot = slot.clamp(0, slots - 1)
        use = (text_mask[:, slot] & inside[None])[..., None]  # (B, L, 1)
        return torch.where(use, self.text_projection(text[:, slot]), x)

    def forward(
        self,
        tokens: torch.Tensor,  # (B, L) token ids at positions [offset, offset + L)
        prefix_length: torch.Tensor,  # (B,) or (1,): positions below it are the prefix
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        past: KVCache | None = None,
        hidden_positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits (B, L, V), or only at `hidden_positions` (B, N) indices; and the new cache."""
        offset = 0 if past is None else past[0][0].shape[2]
        length = tokens.shape[1]
        if offset + length > self.cfg.max_positions:
            raise ValueError(
                f"sequence of {offset + length} positions exceeds the model's "
                f"{self.cfg.max_positions}"
            )
        positions = torch.arange(offset, offset + length, device=tokens.device)
        x = self.embed_inputs(tokens, positions, text, text_mask)
        keys = torch.arange(offset + length, device=tokens.device)
        allowed = attention_allowed(positions, keys, prefix_length)
        cos, sin = self.rope_cos[positions], self.rope_sin[positions]
        present: KVCache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, cos, sin, allowed, None if past is None else past[i])
            present.append(layer_cache)
        if hidden_positions is not None:
            x = torch.gather(x, 1, hidden_positions[..., None].expand(-1, -1, x.shape[-1]))
        return self.head(self.norm(x)), present

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
