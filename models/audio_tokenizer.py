"""SoundStream-style audio tokenizer: a causal strided 1D CNN with residual vector quantization.

Zeghidour et al., "SoundStream: An End-to-End Neural Audio Codec", arXiv:2107.03312. The encoder
downsamples 16 kHz audio by 2 * 4 * 5 * 8 = 320 into 50 latent frames a second; RVQ codes each
frame with K levels; the decoder mirrors the encoder with transposed convolutions.

Length: the input is zero-padded at the end to a multiple of the hop (320 samples), so N samples
give ceil(N / 320) frames: a 2.125 s clip (34000 samples) is 107 frames, 4 levels each, 428
tokens. Decoding 107 frames gives 34240 samples; callers trim to the length they coded.

Causality (SoundStream, "Encoder architecture"): every convolution pads on the past side only
and a strided convolution's window ends at its last input sample, so frame t depends on samples
< 320 (t + 1) and decoded sample n on frames <= n // 320. This is what lets the runtime code a
long recording in chunks with a little left context and get the same codes as coding it whole.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from reelpoet.models.rvq import ResidualVectorQuantizer


@dataclass(frozen=True)
class AudioTokenizerConfig:
    sample_rate: int = 16000
    strides: tuple[int, ...] = (2, 4, 5, 8)  # product 320: 50 frames/s at 16 kHz
    # Channels of each stage, from the waveform side: stage i runs at widths[i] and its strided
    # convolution goes to widths[i + 1]. Narrow at high rates, where each channel costs the
    # most: measured on 1 CPU thread, a training step (16 x 1 s, forward + backward) took 1.8 s
    # with these widths, 4.0 s with (12, 24, 48, ...) and 7.2 s with SoundStream's doubling
    # from 16 (16, 32, 64, 96, 192). Both ONNX graphs together stay under 8 MB.
    widths: tuple[int, ...] = (8, 16, 48, 96, 192)
    dilations: tuple[int, ...] = (1, 3, 9)  # residual units per stage (SoundStream: 1, 3, 9)
    kernel_size: int = 7
    latent_dim: int = 32  # the RVQ vector size: 4 x 1024 x 32 codebooks are 0.5 MB of fp32
    num_levels: int = 4
    codebook_size: int = 1024
    ema_decay: float = 0.99  # the codebook EMA decay of VQ-VAE (van den Oord et al. 2017)
    # Restart a code once 2 x codebook_size vectors went by without picking it, about as eager
    # as EnCodec's released code (EMA cluster size < 2). In 105-step smoke runs of a small
    # model, each level used 0.2-1.8% of its codes per batch with 16 and 0.4-3.9% with 2: the
    # untrained encoder's latents drift faster than lazier restarts follow.
    dead_after: float = 2.0

    def __post_init__(self) -> None:
        # JSON gives lists; the frozen config keeps tuples so that it stays hashable.
        for name in ("strides", "widths", "dilations"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if len(self.widths) != len(self.strides) + 1:
            raise ValueError("widths needs one entry more than strides (the latent side)")
        if min(self.strides) < 1 or min(self.widths) < 1 or min(self.dilations) < 1:
            raise ValueError("strides, widths and dilations must be positive")
        if self.kernel_size < 1 or self.latent_dim < 1:
            raise ValueError("kernel_size and latent_dim must be positive")
        if self.num_levels < 1 or self.codebook_size < 2:
            raise ValueError("need at least 1 level and 2 codes a level")
        if not 0 < self.ema_decay < 1 or self.dead_after <= 0:
            raise ValueError("ema_decay must be in (0, 1) and dead_after > 0")

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        return math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def num_frames(self, num_samples: int) -> int:
        """Frames for `num_samples` samples: the input is padded to a multiple of the hop."""
        return -(-num_samples // self.hop)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "default": AudioTokenizerConfig(),
    # Wider and with a larger latent, for GPUs; the same 50 Hz x 4 x 1024 token layout.
    "base": AudioTokenizerConfig(widths=(32, 64, 128, 256, 512), latent_dim=64),
    # Tests and smoke runs: the same hop and code paths, a few thousand parameters.
    "tiny": AudioTokenizerConfig(
        widths=(4, 4, 8, 8, 16), dilations=(1, 3), latent_dim=8, codebook_size=64
    ),
}


class CausalConv(nn.Module):
    """Conv1d padded on the past side only, so that no output looks ahead of its own hop."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, stride=stride, dilation=dilation)
        # With this padding, output t covers inputs up to t * stride + stride - 1: the window
        # ends at the last sample of its own hop and never looks ahead.
        self.pad = (kernel - 1) * dilation - (stride - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N) -> (B, C', N / stride)
        return self.conv(F.pad(x, (self.pad, 0)))


class CausalUpsample(nn.Module):
    """ConvTranspose1d with kernel 2s, stride s; the last s outputs (the future) are dropped."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.ConvTranspose1d(cin, cout, 2 * stride, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C', T * stride)
        return self.conv(x)[..., : -self.stride]  # output n sees inputs <= n // stride


class ResidualUnit(nn.Module):
    """SoundStream's residual unit: ELU, dilated causal conv, ELU, 1x1 conv, plus the input."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.dilated = CausalConv(channels, channels, kernel, dilation=dilation)
        self.pointwise = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, N)
        return x + self.pointwise(F.elu(self.dilated(F.elu(x))))


def _units(cfg: AudioTokenizerConfig, channels: int) -> list[nn.Module]:
    return [ResidualUnit(channels, cfg.kernel_size, d) for d in cfg.dilations]


class Encoder(nn.Module):
    def __init__(self, cfg: AudioTokenizerConfig) -> None:
        super().__init__()
        w = cfg.widths
        layers: list[nn.Module] = [CausalConv(1, w[0], cfg.kernel_size)]
        for i, stride in enumerate(cfg.strides):
            layers += _units(cfg, w[i])
            layers += [nn.ELU(), CausalConv(w[i], w[i + 1], 2 * stride, stride=stride)]
        layers += [nn.ELU(), CausalConv(w[-1], cfg.latent_dim, 3)]
        self.net = nn.Sequential(*layers)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) samples, N a multiple of the hop -> (B, N / hop, latent_dim)."""
        return self.net(samples[:, None]).transpose(1, 2)


class Decoder(nn.Module):
    def __init__(self, cfg: AudioTokenizerConfig) -> None:
        super().__init__()
        w = cfg.widths
        layers: list[nn.Module] = [CausalConv(cfg.latent_dim, w[-1], cfg.kernel_size)]
        for i in reversed(range(len(cfg.strides))):
            layers += [nn.ELU(), CausalUpsample(w[i + 1], w[i], cfg.strides[i])]
            layers += _units(cfg, w[i])
        out = CausalConv(w[0], 1, cfg.kernel_size)
        with torch.no_grad():  # start near silence: PyTorch's default init gave mean |y| 0.26,
            out.conv.weight.mul_(0.1)  # louder than most training clips, so the first steps
            out.conv.bias.zero_()  # were spent learning to be quiet
        self.net = nn.Sequential(*layers, nn.ELU(), out)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, T, latent_dim) -> (B, T * hop) samples (unclamped)."""
        return self.net(latents.transpose(1, 2))[:, 0]


class TokenizerOutput(NamedTuple):
    reconstruction: torch.Tensor  # (B, N) like the (padded) input
    codes: torch.Tensor  # (B, T, K) int64
    commit_loss: torch.Tensor
    codes_used: torch.Tensor  # (K,) fraction of each level's vocabulary used by this batch


class AudioTokenizer(nn.Module):
    def __init__(self, cfg: AudioTokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = ResidualVectorQuantizer(
            cfg.num_levels, cfg.codebook_size, cfg.latent_dim, cfg.ema_decay, cfg.dead_after
        )
        self.decoder = Decoder(cfg)

    def pad(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, hop * ceil(N / hop)): zeros at the end, the documented frame count."""
        return F.pad(samples, (0, -samples.shape[-1] % self.cfg.hop))

    def forward(
        self, samples: torch.Tensor, active_levels: torch.Tensor | None = None
    ) -> TokenizerOutput:
        """(B, N) samples -> reconstruction of the padded input; `active_levels` (B,) in 1..K
        decodes each example from its first levels only (quantizer dropout)."""
        z = self.encoder(self.pad(samples))  # (B, T, D)
        q = self.quantizer(z, active_levels)
        return TokenizerOutput(self.decoder(q.quantized), q.codes, q.commit_loss, q.codes_used)

    @torch.no_grad()
    def encode(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) float samples in [-1, 1] -> (B, ceil(N / hop), K) int64 codes."""
        return self.quantizer.encode(self.encoder(self.pad(samples)))

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T, L) codes of the first L <= K levels -> (B, T * hop) samples in [-1, 1]."""
        return self.decoder(self.quantizer.decode(codes)).clamp(-1, 1)


def encoder_context_frames(cfg: AudioTokenizerConfig) -> int:
    """Frames of left context after which a frame's code no longer depends on earlier audio.

    The encoder's receptive field reaches R - 1 samples into the past, R = 1 + sum over convs of
    (kernel - 1) * dilation * (product of the strides before it); coding a chunk with
    ceil(R / hop) frames of real audio before it gives the codes of coding the whole recording.
    """
    past, rate = cfg.kernel_size - 1, 1  # the stem; rate: input samples per step of a stage
    for stride in cfg.strides:
        past += (cfg.kernel_size - 1) * sum(cfg.dilations) * rate
        past += (2 * stride - 1) * rate  # the strided conv: kernel 2s ends at its last input
        rate *= stride
    past += 2 * rate  # the kernel-3 latent conv
    return -(-past // cfg.hop)


def decoder_context_frames(cfg: AudioTokenizerConfig) -> int:
    """Frames of left context after which decoded samples no longer depend on earlier codes."""
    past = float(cfg.kernel_size - 1)  # the first conv runs at the frame rate
    per_frame = 1  # steps of the current stage per frame
    for stride in reversed(cfg.strides):
        past += 1 / per_frame  # a transposed conv (kernel 2s) also reads the previous step
        per_frame *= stride
        past += (cfg.kernel_size - 1) * sum(cfg.dilations) / per_frame
    past += (cfg.kernel_size - 1) / per_frame  # the output conv
    return math.ceil(past)


def interleave(codes: torch.Tensor) -> torch.Tensor:
    """(B, T, K) codes -> (B, T * K) tokens, frame-major: frame t gives levels 0..K-1."""
    return codes.reshape(codes.shape[0], -1)


def deinterleave(tokens: torch.Tensor, num_levels: int) -> torch.Tensor:
    """(B, T * K) tokens -> (B, T, K) codes; the inverse of `interleave`."""
    return tokens.reshape(tokens.shape[0], -1, num_levels)
