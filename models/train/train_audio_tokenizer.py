"""Train the audio tokenizer, on one CPU or under torchrun (DDP; gloo on CPU, NCCL on GPU).

    python -m reelpoet.models.train.speech_corpus --out runs/audio_corpus/speech   # once
    OMP_NUM_THREADS=1 python -m reelpoet.models.train.train_audio_tokenizer \
        --run-dir runs/audio_tokenizer_v2 --steps 40000 --batch-size 16 --crop-seconds 0.5 --lr 1e-3
    torchrun --nproc_per_node 2 -m reelpoet.models.train.train_audio_tokenizer --run-dir ...

Losses: the multi-scale mel reconstruction loss plus the RVQ commitment loss (SoundStream,
arXiv:2107.03312, "Training objective", without its adversarial terms: DESIGN.md keeps a GAN
only with a measured gain), plus a waveform L1 term relative to each clip's level, as EnCodec
(Defossez et al. 2022, arXiv:2210.13438) has: a mel loss is blind to phase, and overfitting 4
clips for 150 steps (a small model, no quantizer) reached SI-SNR -22 dB without it and -6 dB
with weight 1.0 at the same mel loss (the default is now 5: see `waveform_weight`). Codebooks
are EMA-updated inside the quantizer, not by the optimizer. Quantizer dropout: a
`quantizer_dropout` share of the examples decode from a random number of levels 1..K.
A run resumes from `<run-dir>/checkpoint` when one is there; the loss curve goes to
`<run-dir>/log.csv`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from reelpoet.models.audio_spectra import MultiScaleMelLoss, OnsetRiseLoss, si_snr
from reelpoet.models.audio_tokenizer import (
    PRESETS,
    AudioTokenizer,
    AudioTokenizerConfig,
    TokenizerOutput,
    init_linear_path,
)
from reelpoet.models.train.audio_clips import (
    DEFAULT_RECORDINGS_DIR,
    DEFAULT_SOUNDFONT,
    DEFAULT_SPEECH_DIR,
    AudioClips,
    AudioMix,
)
from reelpoet.models.train.checkpoint import STATE
from reelpoet.models.train.distributed import DistContext
from reelpoet.models.train.loop import resume, run_steps, train_from_command_line

LOG_COLUMNS = ["loss", "mel", "waveform", "commit", "onset", "silence", "si_snr", "codes_used"]
# A stretch of digital silence is this many exact zeros or more (about 2 ms): single zeros
# are zero crossings of quantized audio, not silence.
SILENCE_RUN = 33
# Leaks are weighed as log1p(|sample| / SILENCE_FLOOR): about -80 dBFS, where the
# evaluation's log-mel (floor 1e-5 in magnitude) still sees them.
SILENCE_FLOOR = 1e-4


@dataclass(frozen=True)
class TrainConfig:
    run_dir: str = "runs/audio_tokenizer"
    preset: str = "default"
    init_from: str | None = None  # a checkpoint folder whose weights start this run
    steps: int = 30000
    batch_size: int = 16  # per process
    crop_seconds: float = 1.0
    lr: float = 3e-4
    warmup_steps: int = 200
    commit_weight: float = 0.25  # VQ-VAE's beta (van den Oord et al. 2017)
    # Relative L1 on samples (see the module docstring). 5, not 1: the mel loss (about 4 at the
    # start against 1) drowned the phase; 200 steps of the filterbank default on the real mix
    # reached held-out SI-SNR -7.3 dB with 5 and -23.8 dB with 1 (log-mel L1 2.97 and 2.89).
    waveform_weight: float = 5.0
    # Negative SI-SNR of each clip (dB / 10), the evaluation's own measure of waveform match.
    si_snr_weight: float = 0.0
    # The impact detector's own measure (OnsetRiseLoss): keeps attacks that a 40 ms filterbank
    # window smears and that the mel and waveform terms hardly weigh.
    onset_weight: float = 0.0
    # Sound decoded into digital silence (`silence_leak`): a decoder fine-tuned on the mel and
    # waveform terms alone spread smpte-2997's bursts into the silence beside them (its
    # distance at silence edges 2.37 -> 4.34, docs/audio_tokenizer.md "Session 7"). At weight
    # 1 or 10 it did not keep them clean either (what is left sits inside the hop that holds an
    # edge, "Session 8"); the shipped decoder trained with weight 1.
    silence_weight: float = 0.0
    # DAC (Kumar et al. 2023, arXiv:2306.06546) found dropout on every example costs quality at
    # the full rate; on half of them the full rate trains as well while fewer levels still decode.
    quantizer_dropout: float = 0.5
    freeze_codebooks: bool = False  # keep the codebooks as loaded (after refit_audio_codebooks)
    # Train the decoder alone (encoder and codebooks as loaded): every code stays what it was,
    # so an LM trained on the codes stays valid while the decoder learns to render them.
    decoder_only: bool = False
    # The transform coder a run from scratch starts as (`start_as_transform_coder`): its
    # principal directions and k-means codebooks come from this many batches of the mix.
    # 256 batches of 16 x 0.5 s are 102,400 frames, 100 a code: k-means codebooks fitted on
    # 1,000 world soundtracks scored 8.3 dB on held-out ones where 300 gave 7.5
    # (docs/audio_tokenizer.md, "Session 6").
    start_batches: int = 256
    refine_rounds: int = 4  # joint codebook refinement after k-means (`rvq.refine`)
    # The preset's compander (AudioTokenizerConfig.compand_*), unless given: for trying others.
    compand_exponent: float | None = None
    compand_knee: float | None = None
    # The preset's silence threshold and transform-only hops beside silence, unless given
    # (AudioTokenizerConfig). They hold no weights: a run may set them on a model it loads.
    silence_norm: float | None = None
    transform_after_silence: int | None = None
    transform_before_silence: int | None = None
    speech_fraction: float = 0.35
    instrument_fraction: float = 0.2
    recording_fraction: float = 0.1
    blip_fraction: float = 0.0  # pops and beeps in digital silence (see AudioMix)
    mix_fraction: float = 0.2
    gap_fraction: float = 0.1  # crops with digital silence in them (see AudioMix)
    speech_dir: str = DEFAULT_SPEECH_DIR
    soundfont: str = DEFAULT_SOUNDFONT
    recordings_dir: str = DEFAULT_RECORDINGS_DIR
    log_every: int = 25
    checkpoint_minutes: float = 5.0
    # Training-time budget (0: none): stop there, with the cosine squeezed to end in time; for
    # fixed-length sessions (a lent GPU's minutes). Counts the time of earlier resumes too.
    minutes: float = 0.0
    # Stop this process after so many minutes with a checkpoint, the schedule untouched (a
    # command with a time limit, the end of a session); resume with the same command.
    session_minutes: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}")
        if not 0 <= self.quantizer_dropout <= 1:
            raise ValueError("quantizer_dropout must be in [0, 1]")
        weights = (self.waveform_weight, self.si_snr_weight, self.onset_weight)
        if min(*weights, self.silence_weight, self.commit_weight) < 0:
            raise ValueError("loss weights must not be negative")
        if self.start_batches < 1 or self.refine_rounds < 0:
            raise ValueError("start_batches must be positive and refine_rounds not negative")

    def mix(self, sample_rate: int, hop: int) -> AudioMix:
        crop = max(hop, round(self.crop_seconds * sample_rate / hop) * hop)  # whole frames
        return AudioMix(
            crop_samples=crop,
            speech_fraction=self.speech_fraction,
            instrument_fraction=self.instrument_fraction,
            recording_fraction=self.recording_fraction,
            blip_fraction=self.blip_fraction,
            mix_fraction=self.mix_fraction,
            gap_fraction=self.gap_fraction,
            speech_dir=self.speech_dir,
            soundfont=self.soundfont,
            recordings_dir=self.recordings_dir,
        )


def dropout_levels(cfg: TrainConfig, batch: int, num_levels: int, rank: int, step: int):
    """(B,) levels each example decodes from: K, or uniform in 1..K for the dropout share; a
    function of (seed, rank, step) like the batch, so a resumed run draws the same."""
    rng = np.random.default_rng([cfg.seed, rank, step, 1])
    levels = np.where(
        rng.uniform(size=batch) < cfg.quantizer_dropout,
        rng.integers(1, num_levels + 1, size=batch),
        num_levels,
    )
    return torch.from_numpy(levels)


def relative_l1(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over clips of L1 / the clip's mean |sample|, so quiet clips count as much as loud
    ones (the batch's peaks span 26 dB). The floor (about -50 dBFS) keeps a nearly silent clip
    from outweighing the batch: in a batch of 16 through the untrained model, the other clips
    scored 1.0 to 8.6 and a clip of mean |x| 6e-4 scored 41.6 with a floor of 1e-4, 9.0 with it."""
    level = target.abs().mean(-1).clamp_min(3e-3)  # (B,)
    return ((reconstruction - target).abs().mean(-1) / level).mean()


def si_snr_loss_term(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SI-SNR / 10 over the clips that are not silent (silence has no SI-SNR), capped at
    30 dB so that clips already coded well stop pulling. Silent clips are dropped before the
    SI-SNR, not after: their NaN would reach the gradient through the mask."""
    audible = target.abs().amax(-1) > 1e-4  # (B,)
    if not audible.any():
        return reconstruction.sum() * 0
    return si_snr(target[audible], reconstruction[audible]).clamp(max=30.0).mean() / 10


def silence_leak(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean log1p(|decoded| / SILENCE_FLOOR) over the samples inside runs of digital silence
    in the target (at least SILENCE_RUN exact zeros), averaged over the clips that have one.
    Logarithmic, as the evaluation's log-mel is: a leak 40 dB below the clip still costs
    there, which a relative L1 would hardly see."""
    silent = target.abs()[:, None]
    silent = F.max_pool1d(silent, SILENCE_RUN, stride=1, padding=SILENCE_RUN // 2)[:, 0] == 0
    has_silence = silent.any(-1)
    if not has_silence.any():
        return reconstruction.sum() * 0
    leak = torch.log1p(reconstruction.abs() / SILENCE_FLOOR) * silent
    per_clip = leak.sum(-1) / silent.sum(-1).clamp_min(1)
    return per_clip[has_silence].mean()


def _losses(cfg: TrainConfig, out: TokenizerOutput, target, spectra, full) -> dict:
    mel_loss, onset_loss = spectra
    mel = mel_loss(out.reconstruction, target)
    waveform = relative_l1(out.reconstruction, target)
    loss = mel + cfg.waveform_weight * waveform + cfg.commit_weight * out.commit_loss
    if cfg.si_snr_weight:
        loss = loss - cfg.si_snr_weight * si_snr_loss_term(out.reconstruction, target)
    onset = onset_loss(out.reconstruction, target)
    loss = loss + cfg.onset_weight * onset
    silence = silence_leak(out.reconstruction, target)
    loss = loss + cfg.silence_weight * silence
    with torch.no_grad():  # logged on the examples that used every level
        snr = si_snr(target[full], out.reconstruction[full]).nanmean() if full.any() else mel * 0
    return {
        "loss": loss,
        "mel": mel,
        "waveform": waveform,
        "commit": out.commit_loss,
        "onset": onset,
        "silence": silence,
        "si_snr": snr,
        "codes_used": out.codes_used.mean(),
    }


def linear_path_batches(cfg: TrainConfig, model_cfg) -> list[torch.Tensor]:
    """The audio the transform coder is fitted on: `start_batches` batches of the training
    mix drawn with another seed, the same on every rank (so every rank starts alike)."""
    clips = AudioClips(cfg.mix(model_cfg.sample_rate, model_cfg.hop), cfg.seed + 1)
    return [clips.batch(cfg.batch_size, 0, step) for step in range(cfg.start_batches)]


@torch.no_grad()
def start_as_transform_coder(
    model: AudioTokenizer, batches: list[torch.Tensor], refine_rounds: int = 0
) -> None:
    """The untrained model as a classic transform coder: principal components of the
    filterbank (`init_linear_path`), then k-means codebooks on those latents (`fit`),
    refined jointly for the model's search (`refine_rounds`)."""
    init_linear_path(model, batches)
    latents = torch.cat([model.latents(b).flatten(0, 1) for b in batches])
    model.quantizer.fit(latents, refine_rounds=refine_rounds)


def _recorded_start(cfg: TrainConfig) -> dict | None:
    """The `start` record of the run's checkpoint, which a resumed run writes on."""
    state = json.loads((Path(cfg.run_dir) / "checkpoint" / STATE).read_text())
    return state.get("start")


_COMPANDER = ("compand_exponent", "compand_knee")
# Settings that change how a model codes, not its weights: a run may start (--init-from) from a
# checkpoint saved with others. Resuming a run's own checkpoint keeps them as saved.
WEIGHTLESS_FIELDS = ("silence_norm", "transform_after_silence", "transform_before_silence")


def model_config(cfg: TrainConfig) -> AudioTokenizerConfig:
    """The preset, with the compander and silence handling the run asks for."""
    given = {name: getattr(cfg, name) for name in (*WEIGHTLESS_FIELDS, *_COMPANDER)}
    return dataclasses.replace(
        PRESETS[cfg.preset], **{k: v for k, v in given.items() if v is not None}
    )


def check_same_model(cfg: TrainConfig, model_cfg: AudioTokenizerConfig) -> None:
    """Refuse to load weights into a model built differently (a compander the flags do not
    repeat, another preset): the weights would load and decode wrongly without a word."""
    run_checkpoint = Path(cfg.run_dir) / "checkpoint"
    source = run_checkpoint if (run_checkpoint / STATE).exists() else cfg.init_from
    if not source:
        return
    saved = json.loads((Path(source) / STATE).read_text()).get("model_config")
    if saved is None:
        return
    saved_cfg = AudioTokenizerConfig.from_dict(saved)
    if source == cfg.init_from:  # a new run may code differently with the same weights
        saved_cfg = dataclasses.replace(
            saved_cfg, **{name: getattr(model_cfg, name) for name in WEIGHTLESS_FIELDS}
        )
    if saved_cfg != model_cfg:
        differs = {
            k: (v, getattr(model_cfg, k))
            for k, v in dataclasses.asdict(saved_cfg).items()
            if getattr(model_cfg, k) != v
        }
        raise ValueError(
            f"{source} holds a model built with other settings than this run's "
            f"(saved, asked): {differs}; repeat its --preset and --compand-* flags"
        )


def train(cfg: TrainConfig, ctx: DistContext, stop_after: int | None = None) -> AudioTokenizer:
    """Run (or resume) training; stop at cfg.steps, or after `stop_after` steps of this call."""
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model_cfg = model_config(cfg)
    check_same_model(cfg, model_cfg)
    model = AudioTokenizer(model_cfg).to(ctx.device)
    if cfg.decoder_only:
        model.encoder.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.8, 0.99), weight_decay=0)
    resuming = (Path(cfg.run_dir) / "checkpoint" / STATE).exists()
    progress = resume(cfg, model, optimizer)
    started_as = _recorded_start(cfg) if resuming else None  # kept across resumes
    # Only a run from scratch is fitted: a resumed one (even at step 0, after `--steps 0`)
    # goes on from its checkpoint's weights.
    if not resuming and not cfg.init_from and model_cfg.linear_path:
        fit_began = time.monotonic()
        start_as_transform_coder(model, linear_path_batches(cfg, model_cfg), cfg.refine_rounds)
        started_as = {"transform_coder_fit_seconds": round(time.monotonic() - fit_began, 1)}
    model.quantizer.frozen = cfg.freeze_codebooks or cfg.decoder_only
    wrapped = DistributedDataParallel(model) if ctx.world_size > 1 else model
    clips = AudioClips(cfg.mix(model_cfg.sample_rate, model_cfg.hop), cfg.seed)
    spectra = (
        MultiScaleMelLoss(model_cfg.sample_rate).to(ctx.device),
        OnsetRiseLoss(model_cfg.sample_rate).to(ctx.device),
    )

    def step_losses(step: int) -> dict[str, torch.Tensor]:
        batch = clips.batch(cfg.batch_size, ctx.rank, step).to(ctx.device)
        levels = dropout_levels(cfg, cfg.batch_size, model_cfg.num_levels, ctx.rank, step)
        levels = levels.to(ctx.device)
        full = levels == model_cfg.num_levels
        return _losses(cfg, wrapped(batch, levels), batch, spectra, full)

    state = {"train_config": dataclasses.asdict(cfg), "model_config": model_cfg.to_dict()}
    if started_as:  # the fit is not training time (`seconds`), but it is part of the run
        state["start"] = started_as
    run_steps(cfg, ctx, model, optimizer, progress, step_losses, LOG_COLUMNS, state, stop_after)
    return model


def main() -> None:
    train_from_command_line(TrainConfig, train, __doc__)


if __name__ == "__main__":
    main()
