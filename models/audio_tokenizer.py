"""Audio tokenizer: a causal 1D CNN codec with residual vector quantization, in two designs.

Both follow SoundStream (Zeghidour et al., "SoundStream: An End-to-End Neural Audio Codec",
arXiv:2107.03312): an encoder takes 16 kHz audio to 50 latent frames a second (hop 320), RVQ
codes each frame with K levels, a decoder maps the codes back to samples.

- "filterbank" (the default): one strided conv of kernel 2 x 320 and stride 320 is a learnable
  filterbank over the current and the previous hop, initialised as an MDCT (Princen and Bradley
  1986, time-domain aliasing cancellation), so analysis + synthesis start as a perfect
  reconstruction; all other layers are residual units at 50 Hz. The decoder ends in the inverse
  basis, a transposed conv that overlap-adds 2-hop windows.
- "soundstream": SoundStream's stack of strided stages (2, 4, 5, 8) with residual units at every
  rate, kept to compare with; measured in docs/audio_tokenizer.md, it learned too slowly on CPU.

Length: the input is zero-padded at the end to a multiple of the hop (320 samples), so N samples
give ceil(N / 320) frames: a 2.125 s clip (34000 samples) is 107 frames, 4 levels each, 428
tokens. Decoding 107 frames gives 34240 samples; callers trim to the length they coded.

Causality. Every convolution pads on the past side only and a strided convolution's window ends
at its last input sample, so frame t depends on samples < 320 (t + 1) in both designs. Decoded
sample n depends on frames <= n // 320 in "soundstream" and on frames <= n // 320 + 1 in
"filterbank": an overlap-added hop needs the window of the next frame too (one frame, 20 ms, of
decoder lookahead, `decoder_lookahead_frames`). This is what lets the runtime code a long
recording in chunks with a little left context (and that lookahead) and get the same codes and
samples as coding it whole.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from reelpoet.models.rvq import ResidualVectorQuantizer

DESIGNS = ("filterbank", "soundstream")
# The filterbank's analysis rows are scaled up by this and its synthesis rows down, so that the
# 50 Hz stack sees coefficients of about unit size: training clips have RMS 0.006-0.4 and the
# orthonormal MDCT keeps that scale, far below PyTorch's default biases.
FILTERBANK_GAIN = 10.0


@dataclass(frozen=True)
class AudioTokenizerConfig:
    sample_rate: int = 16000
    # "filterbank": one analysis stage of stride 320 (the hop) then everything at 50 Hz; 5-10x
    # faster to train per step than "soundstream" on one CPU thread and it learns in tens of
    # steps what SoundStream's stack had not learned in hundreds (docs/audio_tokenizer.md).
    design: str = "filterbank"
    strides: tuple[int, ...] = (320,)  # product 320: 50 frames/s at 16 kHz
    # filterbank: (filterbank channels, width of the 50 Hz residual stack). 320 channels are
    # the MDCT of a hop, a critically sampled basis; see the measurements for wider ones.
    # soundstream: channels of each stage, from the waveform side: stage i runs at widths[i]
    # and its strided convolution goes to widths[i + 1].
    # 160, not 192: with one 40 ms window a frame the filterbank's analysis and synthesis
    # kernels are 2 x 0.8 MB, and the 8 MB budget of both graphs needs the stack narrower.
    widths: tuple[int, ...] = (320, 160)
    dilations: tuple[int, ...] = (1, 2, 4)  # residual units (per stage for "soundstream")
    kernel_size: int = 3  # 3 frames at 50 Hz reach 40 ms back; SoundStream used 7 samples
    # filterbank only: a linear 1x1 map from the filterbank to the latent (and back) beside
    # the residual stack. Started as the principal components of training audio's coefficients
    # (`init_linear_path`), the untrained codec is already a transform coder: on 32 held-out
    # world soundtracks, 32 principal components keep SI-SNR 10.0 dB and k-means RVQ on them
    # 7.0 dB, where the stack alone, trained for 12,500 steps, reached 4.4 dB unquantized.
    linear_path: bool = True
    # filterbank only: MDCTs per frame. With 2, each 20 ms frame holds two MDCTs of 20 ms
    # windows (hop / 2 apart) instead of one of 40 ms, stacked as channels: a quantization
    # error spreads over at most 20 ms around an attack (pre-echo) instead of 40 ms. 1 (the
    # 40 ms window's better frequency resolution) codes world soundtracks better: a transform
    # coder fitted on the same 1,000 clips scored 8.33 dB SI-SNR with 1 and 7.90 with 2.
    subframes: int = 1
    # The RVQ vector size: 4 x 1024 x 64 codebooks are 1 MB of fp32. 64, not 32: on held-out
    # world soundtracks 64 principal components keep 15.5 dB SI-SNR, 32 keep 10.0.
    latent_dim: int = 64
    num_levels: int = 4
    codebook_size: int = 1024
    # Encoding keeps the 8 best partial sums at each RVQ level (`rvq.beam_search`) instead of
    # the nearest code alone; with codebooks refined for it (`ResidualVectorQuantizer.refine`)
    # a principal-component transform coder went from 6.95 to 7.91 dB SI-SNR on held-out world
    # soundtracks (docs/audio_tokenizer.md, "Session 6"). 1: level-by-level nearest codes.
    beam_width: int = 8
    # The RVQ codes each latent vector z after a compander on its norm, r -> (r + knee)^e -
    # knee^e (linear below `compand_knee`, a power law above; the decoder inverts it), so the
    # quantization error grows with the signal instead of being the same for every frame: a
    # quiet recording (crunching.mp3 at -46 dBFS RMS) otherwise decodes to codebook noise louder
    # than itself, which more levels make worse. 1.0: no compander (the latent is coded as is).
    # 0.5 and a knee at norm 0.002 (about -80 dBFS frame RMS): measured on the transform coder
    # (docs/audio_tokenizer.md, "Session 6"), the same held-out world SI-SNR as no compander
    # (8.38 dB) and crunching.mp3's log-mel gain from 1 to 4 levels 33% where it was -24%.
    compand_exponent: float = 0.5
    compand_knee: float = 0.002
    # Code 0 of every RVQ level is the zero vector (kept there in training): digital silence
    # codes as zeros and decodes as the decoder's silence, not as a sum of codewords near 0.
    zero_code: bool = True
    # filterbank only: a decoded hop is silent where a window over it decoded from an exactly
    # zero latent (all zero codes: the encoder found silence there). Without it the window
    # beside a sound leaks its uncancelled time-domain alias into the silence, and more levels
    # leak more: on smpte-2997.mp4's track (beeps between digital silence) the log-mel distance
    # of the silent frames next to a beep rose from 0.19 with 1 level to 0.22 with 4.
    silence_gate: bool = True
    # Compressed latents of smaller norm code as silence (all zero codes): about -110 dBFS of
    # noise, -115 of a tone, through the default compander (-100 dBFS noise is 0.022). Until
    # session 9 it was 1e-4 (about -150 dBFS): the fading tails of smpte-2997.mp4's beeps then
    # took the smallest level-0 codeword and decoded some 50 dB louder than they are, a log-mel
    # distance of 1.11 where coding them as silence gives 0.62 (docs/audio_tokenizer.md,
    # "Session 9"). World soundtracks keep their codes (1 frame of 34,240 in 320 clips moved).
    silence_norm: float = 0.01
    # filterbank only: hops up to this many frames after / before a frame coded as silence
    # decode through the linear path alone, without the residual stack. The stack learned
    # sound that rarely stops (noise filling, reverberant tails) and spreads it into the
    # silence beside a sound: smpte's beeps decode at log-mel 0.62 with it there, 0.50 without
    # (docs/audio_tokenizer.md, "Session 9"). "before" reads frames ahead: the decoder's
    # lookahead becomes max(1, transform_before_silence) frames.
    transform_after_silence: int = 2
    transform_before_silence: int = 2
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
        if self.design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, got {self.design!r}")
        if len(self.widths) != len(self.strides) + 1:
            raise ValueError("widths needs one entry more than strides (the latent side)")
        if self.design == "filterbank" and len(self.strides) != 1:
            raise ValueError("the filterbank design has one stride: the hop, e.g. (320,)")
        if min(self.strides) < 1 or min(self.widths) < 1 or min(self.dilations) < 1:
            raise ValueError("strides, widths and dilations must be positive")
        beside_silence = self.transform_after_silence or self.transform_before_silence
        filterbank_only = (
            self.linear_path or self.subframes != 1 or self.silence_gate or beside_silence
        )
        if filterbank_only and self.design != "filterbank":
            raise ValueError(
                "linear_path, subframes, silence_gate and transform_*_silence belong to the "
                "filterbank design"
            )
        if min(self.transform_after_silence, self.transform_before_silence) < 0:
            raise ValueError("transform_after_silence and transform_before_silence must be >= 0")
        if beside_silence and not (self.linear_path and self.silence_gate):
            raise ValueError(
                "transform_*_silence decode through the linear path beside the silence gate: "
                "they need linear_path and silence_gate"
            )
        if not self.silence_norm >= 0:  # NaN too
            raise ValueError(f"silence_norm must not be negative, got {self.silence_norm}")
        if self.subframes < 1 or self.hop % self.subframes or self.widths[0] % self.subframes:
            raise ValueError("subframes must divide the hop and the filterbank width")
        if self.kernel_size < 1 or self.latent_dim < 1:
            raise ValueError("kernel_size and latent_dim must be positive")
        if self.beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got {self.beam_width}")
        if not 0 < self.compand_exponent <= 1 or self.compand_knee <= 0:
            raise ValueError("compand_exponent must be in (0, 1] and compand_knee positive")
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

    @classmethod
    def from_dict(cls, config: dict) -> AudioTokenizerConfig:
        """From `to_dict` (or a JSON copy of it); configs written before the `design` field
        existed are SoundStream's, whose fields they carry; configs written before a later
        field existed get the value their models were trained with."""
        fields = {k: v for k, v in config.items() if k in cls.__dataclass_fields__}
        written_before = {"design": "soundstream", "linear_path": False, "subframes": 1}
        before_search = {
            "beam_width": 1,
            "compand_exponent": 1.0,
            "zero_code": False,
            "silence_gate": False,
        }
        before_session_9 = {
            "silence_norm": 1e-4,
            "transform_after_silence": 0,
            "transform_before_silence": 0,
        }
        return cls(**{**written_before, **before_search, **before_session_9, **fields})


PRESETS = {
    "default": AudioTokenizerConfig(),
    # Wider and with a larger latent, for GPUs; the same 50 Hz x 4 x 1024 token layout.
    "base": AudioTokenizerConfig(widths=(640, 768), dilations=(1, 2, 4, 8, 1, 2), latent_dim=64),
    # Tests and smoke runs: the same hop and code paths, a few thousand parameters.
    "tiny": AudioTokenizerConfig(widths=(16, 16), dilations=(1, 2), latent_dim=8, codebook_size=64),
    # The previous default, SoundStream's strided stack (1.46 M parameters), for comparison.
    "soundstream": AudioTokenizerConfig(
        design="soundstream",
        linear_path=False,
        subframes=1,
        beam_width=1,
        zero_code=False,
        silence_gate=False,
        transform_after_silence=0,
        transform_before_silence=0,
        strides=(2, 4, 5, 8),
        widths=(8, 16, 48, 96, 192),
        dilations=(1, 3, 9),
        kernel_size=7,
        latent_dim=32,
    ),
    "soundstream_tiny": AudioTokenizerConfig(
        design="soundstream",
        linear_path=False,
        subframes=1,
        beam_width=1,
        zero_code=False,
        silence_gate=False,
        transform_after_silence=0,
        transform_before_silence=0,
        strides=(2, 4, 5, 8),
        widths=(4, 4, 8, 8, 16),
        dilations=(1, 3),
        kernel_size=7,
        latent_dim=8,
        codebook_size=64,
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


def mdct_basis(hop: int, channels: int) -> torch.Tensor:
    """(channels, 2 hop) sine-windowed MDCT basis, orthonormal scale: analysis with it and
    overlap-added synthesis with the same rows reconstruct exactly (TDAC). Channels beyond the
    hop get the MDST rows of the lowest bins (the same windows' quadrature phase)."""
    n = torch.arange(2 * hop, dtype=torch.float64)
    k = torch.arange(channels, dtype=torch.float64)[:, None] % hop
    phase = math.pi / hop * (n + 0.5 + hop / 2) * (k + 0.5)  # (C, 2 hop)
    window = torch.sin(math.pi * (n + 0.5) / (2 * hop))
    rows = torch.where(torch.arange(channels)[:, None] < hop, phase.cos(), phase.sin())
    return (math.sqrt(2 / hop) * window * rows).float()


def frames_from_windows(windows: torch.Tensor, subframes: int) -> torch.Tensor:
    """(B, C, T * S) per-window coefficients -> (B, S * C, T): frame t stacks windows
    tS .. tS + S - 1 as channels."""
    b, c, n = windows.shape
    stacked = windows.reshape(b, c, n // subframes, subframes).permute(0, 3, 1, 2)  # (B, S, C, T)
    return stacked.reshape(b, subframes * c, n // subframes)


def windows_from_frames(frames: torch.Tensor, subframes: int) -> torch.Tensor:
    """The inverse of `frames_from_windows`: (B, S * C, T) -> (B, C, T * S)."""
    b, sc, t = frames.shape
    split = frames.reshape(b, subframes, sc // subframes, t).permute(0, 2, 3, 1)  # (B, C, T, S)
    return split.reshape(b, sc // subframes, t * subframes)


class FilterbankEncoder(nn.Module):
    """Analysis filterbank (MDCT windows of 2 sub-hops, `subframes` a frame stacked as channels),
    then a linear path and residual units at the frame rate, added."""

    def __init__(self, cfg: AudioTokenizerConfig) -> None:
        super().__init__()
        bank, width = cfg.widths
        self.subframes = cfg.subframes
        sub_hop, per_window = cfg.hop // cfg.subframes, bank // cfg.subframes
        self.analysis = CausalConv(1, per_window, 2 * sub_hop, stride=sub_hop)
        with torch.no_grad():  # window j sees sub-hops j - 1 and j: the MDCT's window
            basis = mdct_basis(sub_hop, per_window)
            self.analysis.conv.weight.copy_(FILTERBANK_GAIN * basis[:, None])
            self.analysis.conv.bias.zero_()
        layers = [nn.Conv1d(bank, width, 1), *_units(cfg, width), nn.ELU()]
        self.net = nn.Sequential(*layers, CausalConv(width, cfg.latent_dim, cfg.kernel_size))
        self.linear = nn.Conv1d(bank, cfg.latent_dim, 1, bias=False) if cfg.linear_path else None

    def coefficients(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) samples -> (B, bank, N / hop) filterbank coefficients, a frame's windows
        stacked as channels (window 0's first)."""
        return frames_from_windows(self.analysis(samples[:, None]), self.subframes)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) samples, N a multiple of the hop -> (B, N / hop, latent_dim)."""
        coefficients = self.coefficients(samples)
        latents = self.net(coefficients)
        if self.linear is not None:
            latents = latents + self.linear(coefficients)
        return latents.transpose(1, 2)


class FilterbankDecoder(nn.Module):
    """Residual units at the frame rate, then the synthesis filterbank (overlap-add)."""

    def __init__(self, cfg: AudioTokenizerConfig) -> None:
        super().__init__()
        bank, width = cfg.widths
        layers = [CausalConv(cfg.latent_dim, width, cfg.kernel_size), *_units(cfg, width)]
        out = nn.Conv1d(width, bank, 1)
        with torch.no_grad():  # start near silence, as the strided decoder does (see there)
            out.weight.mul_(0.1)
            out.bias.zero_()
        self.net = nn.Sequential(*layers, nn.ELU(), out)
        self.linear = nn.Conv1d(cfg.latent_dim, bank, 1, bias=False) if cfg.linear_path else None
        self.subframes, self.silence_gate = cfg.subframes, cfg.silence_gate
        self.after_silence = cfg.transform_after_silence
        self.before_silence = cfg.transform_before_silence
        self.hop = cfg.hop
        sub_hop, per_window = cfg.hop // cfg.subframes, bank // cfg.subframes
        self.sub_hop = sub_hop
        self.synthesis = nn.ConvTranspose1d(per_window, 1, 2 * sub_hop, stride=sub_hop)
        with torch.no_grad():  # the inverse MDCT; the MDST rows start silent
            basis = mdct_basis(sub_hop, per_window)
            basis[sub_hop:] = 0
            self.synthesis.weight.copy_(basis[:, None] / FILTERBANK_GAIN)
            self.synthesis.bias.zero_()

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, T, latent_dim) -> (B, T * hop) samples (unclamped)."""
        latents = latents.transpose(1, 2)
        stack = self.net(latents)  # (B, bank, T)
        linear = self.linear(latents) if self.linear is not None else None
        samples = self._synthesize(stack if linear is None else stack + linear)
        if self.after_silence or self.before_silence:
            beside = self._beside_silence(latents)
            samples = samples + (self._synthesize(linear) - samples) * beside
        return samples * self._sound_mask(latents) if self.silence_gate else samples

    def _synthesize(self, coefficients: torch.Tensor) -> torch.Tensor:
        """(B, bank, T) coefficients -> (B, T * hop) samples. Window j covers sub-hops j - 1
        and j (as in the encoder): the first sub-hop, which would precede the input, is
        dropped. The last one misses its next window's half."""
        windows = windows_from_frames(coefficients, self.subframes)
        return self.synthesis(windows)[:, 0, self.sub_hop :]

    def _beside_silence(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim, T) -> (B, T * hop) 1 on hops up to `after_silence` frames after or
        `before_silence` frames before a zero latent (none before the start or after the
        end), else 0. Hop i reads frames i - after_silence .. i + before_silence."""
        silent = (latents == 0).all(1).to(latents.dtype)  # (B, T)
        near = torch.zeros_like(silent)
        for d in range(1, self.after_silence + 1):  # a silent frame d before hop i
            near = torch.maximum(near, F.pad(silent[:, :-d], (d, 0)))
        for d in range(1, self.before_silence + 1):  # a silent frame d after hop i
            near = torch.maximum(near, F.pad(silent[:, d:], (0, d)))
        return near.repeat_interleave(self.hop, dim=1)

    def _sound_mask(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim, T) -> (B, T * hop) 0 where a window over the sample decoded from a
        zero latent, else 1. Decoded sub-hop i is windows i and i + 1 overlapped; a frame's
        latent stands for its `subframes` windows, which span its own sub-hops and the one
        before. Reads frames <= n // hop + 1 for sample n, the decoder's lookahead already."""
        sound = (latents != 0).any(1).to(latents.dtype)  # (B, T)
        windows = sound.repeat_interleave(self.subframes, dim=1)  # (B, T * S)
        # sub-hop i is kept only if windows i and i + 1 both carry sound (none after the end)
        kept = windows * F.pad(windows[:, 1:], (0, 1), value=1.0)
        return kept.repeat_interleave(self.sub_hop, dim=1)


class StridedEncoder(nn.Module):
    """SoundStream's encoder: residual units and a strided conv per stage."""

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


class StridedDecoder(nn.Module):
    """SoundStream's decoder: the encoder mirrored with transposed convs."""

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
        filterbank = cfg.design == "filterbank"
        self.encoder = FilterbankEncoder(cfg) if filterbank else StridedEncoder(cfg)
        self.quantizer = ResidualVectorQuantizer(
            cfg.num_levels,
            cfg.codebook_size,
            cfg.latent_dim,
            cfg.ema_decay,
            cfg.dead_after,
            beam_width=cfg.beam_width,
            zero_code=cfg.zero_code,
            silence_norm=cfg.silence_norm,
        )
        self.decoder = FilterbankDecoder(cfg) if filterbank else StridedDecoder(cfg)

    def pad(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, hop * ceil(N / hop)): zeros at the end, the documented frame count."""
        return F.pad(samples, (0, -samples.shape[-1] % self.cfg.hop))

    def forward(
        self, samples: torch.Tensor, active_levels: torch.Tensor | None = None
    ) -> TokenizerOutput:
        """(B, N) samples -> reconstruction of the padded input; `active_levels` (B,) in 1..K
        decodes each example from its first levels only (quantizer dropout)."""
        q = self.quantizer(self.latents(samples), active_levels)
        return TokenizerOutput(
            self.decoder(self.expand(q.quantized)), q.codes, q.commit_loss, q.codes_used
        )

    def latents(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) samples -> (B, T, D) what the quantizer codes (the compressed latents)."""
        return self.compress(self.encoder(self.pad(samples)))

    def compress(self, z: torch.Tensor) -> torch.Tensor:
        """The compander on each vector's norm (see `compand_exponent`); identity at 1.0."""
        e, knee = self.cfg.compand_exponent, self.cfg.compand_knee
        if e == 1.0:
            return z
        norm = z.norm(dim=-1, keepdim=True)
        return z * (((norm + knee) ** e - knee**e) / norm.clamp_min(1e-12))

    def expand(self, y: torch.Tensor) -> torch.Tensor:
        """The inverse of `compress`: y's norm s -> (s + knee^e)^(1/e) - knee."""
        e, knee = self.cfg.compand_exponent, self.cfg.compand_knee
        if e == 1.0:
            return y
        norm = y.norm(dim=-1, keepdim=True)
        return y * (((norm + knee**e) ** (1 / e) - knee) / norm.clamp_min(1e-12))

    @torch.no_grad()
    def encode(self, samples: torch.Tensor) -> torch.Tensor:
        """(B, N) float samples in [-1, 1] -> (B, ceil(N / hop), K) int64 codes."""
        return self.quantizer.encode(self.latents(samples))

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T, L) codes of the first L <= K levels -> (B, T * hop) samples in [-1, 1]."""
        return self.decoder(self.expand(self.quantizer.decode(codes))).clamp(-1, 1)


@torch.no_grad()
def init_linear_path(model: AudioTokenizer, batches: list[torch.Tensor]) -> None:
    """Make an untrained filterbank model a transform coder: the linear path projects on the
    top `latent_dim` principal directions of the filterbank coefficients of `batches` ((B, N)
    samples each) and back, and the residual stacks' last layers start at zero, so encoder
    and decoder are exactly that projection until training moves them."""
    cfg = model.cfg
    if cfg.design != "filterbank" or not cfg.linear_path:
        raise ValueError("init_linear_path needs a filterbank design with linear_path")
    coefficients = torch.cat(
        [model.encoder.coefficients(model.pad(b)).transpose(1, 2).flatten(0, 1) for b in batches]
    )  # (frames, bank)
    # Uncentred: the coefficients of audio have mean ~0, and the codec must keep silence at 0.
    _, _, directions = torch.linalg.svd(coefficients.double(), full_matrices=False)
    basis = directions[: cfg.latent_dim].float()  # (latent, bank), orthonormal rows
    model.encoder.linear.weight.copy_(basis[:, :, None])
    model.decoder.linear.weight.copy_(basis.T[:, :, None])
    for last in (model.encoder.net[-1].conv, model.decoder.net[-1]):
        last.weight.zero_()
        last.bias.zero_()


def _frame_stack_past(cfg: AudioTokenizerConfig) -> int:
    """Frames before its own that one output of a filterbank design's 50 Hz stack reads: the
    residual units and the latent-side conv, kernel k each (the bank-side convs are 1x1)."""
    return (cfg.kernel_size - 1) * (1 + sum(cfg.dilations))


def encoder_context_frames(cfg: AudioTokenizerConfig) -> int:
    """Frames of left context after which a frame's code no longer depends on earlier audio.

    The encoder's receptive field reaches R - 1 samples into the past, R = 1 + sum over convs of
    (kernel - 1) * dilation * (product of the strides before it); coding a chunk with
    ceil(R / hop) frames of real audio before it gives the codes of coding the whole recording.
    """
    if cfg.design == "filterbank":
        return _frame_stack_past(cfg) + 1  # + the analysis window's previous hop
    past, rate = cfg.kernel_size - 1, 1  # the stem; rate: input samples per step of a stage
    for stride in cfg.strides:
        past += (cfg.kernel_size - 1) * sum(cfg.dilations) * rate
        past += (2 * stride - 1) * rate  # the strided conv: kernel 2s ends at its last input
        rate *= stride
    past += 2 * rate  # the kernel-3 latent conv
    return -(-past // cfg.hop)


def decoder_context_frames(cfg: AudioTokenizerConfig) -> int:
    """Frames of left context after which decoded samples no longer depend on earlier codes."""
    if cfg.design == "filterbank":
        # hop t reads frames t and t + 1 (sub-hop i is windows i and i + 1 overlap-added),
        # each this far back, and frames back to t - transform_after_silence for the choice
        # of path beside silence
        return max(_frame_stack_past(cfg), cfg.transform_after_silence)
    past = float(cfg.kernel_size - 1)  # the first conv runs at the frame rate
    per_frame = 1  # steps of the current stage per frame
    for stride in reversed(cfg.strides):
        past += 1 / per_frame  # a transposed conv (kernel 2s) also reads the previous step
        per_frame *= stride
        past += (cfg.kernel_size - 1) * sum(cfg.dilations) / per_frame
    past += (cfg.kernel_size - 1) / per_frame  # the output conv
    return math.ceil(past)


def decoder_lookahead_frames(cfg: AudioTokenizerConfig) -> int:
    """Frames after a hop's own that its decoded samples depend on: the next frame's window
    overlaps it in the filterbank design, and the choice of path reads
    `transform_before_silence` frames ahead; SoundStream's decoder is strictly causal."""
    return max(1, cfg.transform_before_silence) if cfg.design == "filterbank" else 0


def interleave(codes: torch.Tensor) -> torch.Tensor:
    """(B, T, K) codes -> (B, T * K) tokens, frame-major: frame t gives levels 0..K-1."""
    return codes.reshape(codes.shape[0], -1)


def deinterleave(tokens: torch.Tensor, num_levels: int) -> torch.Tensor:
    """(B, T * K) tokens -> (B, T, K) codes; the inverse of `interleave`."""
    return tokens.reshape(tokens.shape[0], -1, num_levels)
