"""Train the video tokenizer, on one CPU or under torchrun (DDP; gloo on CPU, NCCL on GPU).

    python -m reelpoet.models.train.train_video_tokenizer --run-dir runs/vt_image --stage image
    torchrun --nproc_per_node 2 -m reelpoet.models.train.train_video_tokenizer --run-dir ...

Image-first (MAGVIT-v2's recipe): `--stage image` trains on single frames (17x cheaper a
sample), then `--stage video --init-from runs/vt_image/checkpoint` fine-tunes the same network
on 17-frame clips. A run resumes from `<run-dir>/checkpoint` when one is there; the loss curve
goes to `<run-dir>/log.csv`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from reelpoet.models.train.distributed import DistContext
from reelpoet.models.train.loop import resume, run_steps, train_from_command_line
from reelpoet.models.train.prefetch import prefetched
from reelpoet.models.train.tokenizer_clips import ClipMix, TokenizerClips
from reelpoet.models.video_tokenizer import PRESETS, TokenizerOutput, VideoTokenizer

LOG_COLUMNS = ["loss", "l1", "psnr", "commit", "entropy", "code_entropy_bits"]


@dataclass(frozen=True)
class TrainConfig:
    run_dir: str = "runs/video_tokenizer"
    preset: str = "default"
    stage: str = "image"  # "image": 1-frame clips; "video": the preset's num_frames
    init_from: str | None = None  # a checkpoint folder whose weights start this run
    # Train the decoder alone: the encoder (so every code) stays as loaded, and an LM trained on
    # its codes stays valid. Encoder-side losses (commitment, entropy) then carry no gradient.
    decoder_only: bool = False
    steps: int = 20000
    batch_size: int = 64  # per process
    crop: int = 32
    lr: float = 4e-4
    warmup_steps: int = 200
    gradient_weight: float = 0.5  # L1 on image gradients: keeps edges sharp, which L1 alone blurs
    commit_weight: float = 0.25
    entropy_weight: float = 0.1  # MAGVIT-v2's entropy penalty weight
    photo_fraction: float = 0.35
    graphics_fraction: float = 0.15  # see graphics_clips.py: saturated colours, edges, text
    user_video_folder: str | None = None
    user_video_fraction: float = 0.0
    # Worker processes rendering the next batches. 0 by default: on the 2-core CPU one worker
    # was slower (0.58 vs 0.50 s a step), competing with training for the cores; on a GPU
    # machine give it the spare cores (a GPU step outruns one core's rendering many times).
    prefetch: int = 0
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
        if self.stage not in ("image", "video"):
            raise ValueError("stage must be 'image' or 'video'")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}")


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, gradient_weight: float):
    l1 = (recon - target).abs().mean()
    dx = lambda v: v[..., :, 1:] - v[..., :, :-1]  # noqa: E731
    dy = lambda v: v[..., 1:, :] - v[..., :-1, :]  # noqa: E731
    edges = (dx(recon) - dx(target)).abs().mean() + (dy(recon) - dy(target)).abs().mean()
    return l1 + gradient_weight * edges, l1


def _losses(cfg: TrainConfig, out: TokenizerOutput, target: torch.Tensor) -> dict:
    recon, l1 = reconstruction_loss(out.reconstruction, target, cfg.gradient_weight)
    total = recon + cfg.commit_weight * out.commit_loss + cfg.entropy_weight * out.entropy_loss
    mse = F.mse_loss(out.reconstruction.clamp(0, 1), target).clamp_min(1e-10)
    return {
        "loss": total,
        "l1": l1,
        "psnr": -10 * torch.log10(mse),
        "commit": out.commit_loss,
        "entropy": out.entropy_loss,
        "code_entropy_bits": out.batch_entropy_bits,
    }


def train(cfg: TrainConfig, ctx: DistContext, stop_after: int | None = None) -> VideoTokenizer:
    """Run (or resume) training; stop at cfg.steps, or after `stop_after` steps of this call."""
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model_cfg = PRESETS[cfg.preset]
    model = VideoTokenizer(model_cfg).to(ctx.device)
    model.encoder.requires_grad_(not cfg.decoder_only)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0)
    progress = resume(cfg, model, optimizer)
    wrapped = DistributedDataParallel(model) if ctx.world_size > 1 else model
    mix = ClipMix(
        size=model_cfg.image_size,
        crop=cfg.crop,
        num_frames=1 if cfg.stage == "image" else model_cfg.num_frames,
        photo_fraction=cfg.photo_fraction,
        graphics_fraction=cfg.graphics_fraction,
        user_video_folder=cfg.user_video_folder,
        user_video_fraction=cfg.user_video_fraction,
    )
    clips = TokenizerClips(mix, cfg.seed)
    make_batch = functools.partial(clips.batch, cfg.batch_size, ctx.rank)
    batch_at = prefetched(make_batch, progress.step, cfg.steps, workers=cfg.prefetch)

    def step_losses(step: int) -> dict[str, torch.Tensor]:
        batch = batch_at(step).to(ctx.device)
        return _losses(cfg, wrapped(batch), batch)

    state = {"train_config": dataclasses.asdict(cfg), "model_config": model_cfg.to_dict()}
    run_steps(cfg, ctx, model, optimizer, progress, step_losses, LOG_COLUMNS, state, stop_after)
    return model


def main() -> None:
    train_from_command_line(TrainConfig, train, __doc__)


if __name__ == "__main__":
    main()
