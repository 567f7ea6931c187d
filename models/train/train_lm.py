"""Train the prefix LM on the pre-tokenized cache, on one CPU or under torchrun (DDP).

    python -m reelpoet.models.train.train_lm --run-dir runs/lm --cache runs/lm_cache/train
    torchrun --nproc_per_node 2 -m reelpoet.models.train.train_lm --run-dir runs/lm ...

Each step draws one task from the mixture (the same task on every rank) and fills the batch to
`--tokens-per-batch` with sequences of it; the loss is cross-entropy on the generated positions
only. A run resumes from `<run-dir>/checkpoint`; the curve goes to `<run-dir>/log.csv`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from reelpoet.models.lm import PrefixLM, preset_config
from reelpoet.models.train.distributed import DistContext
from reelpoet.models.train.lm_cache import cache_layout
from reelpoet.models.train.lm_tasks import Batch, TaskSequences, load_cache
from reelpoet.models.train.loop import resume, run_steps, train_from_command_line
from reelpoet.sdk.token_layout import Task

LOG_COLUMNS = ["loss", "bits_per_token", "task", "batch_size"]


@dataclass(frozen=True)
class TrainConfig:
    run_dir: str = "runs/lm"
    cache: str = "runs/lm_cache/train"
    preset: str = "default"
    init_from: str | None = None
    steps: int = 20000
    tokens_per_batch: int = 4096  # per process; a batch holds tokens_per_batch // length sequences
    lr: float = 1e-3
    warmup_steps: int = 300
    weight_decay: float = 0.1
    text_dropout: float = 0.1  # share of sequences trained without text (for guidance)
    log_every: int = 25
    checkpoint_minutes: float = 5.0
    # Training-time budget (0: none): stop there, with the cosine squeezed to end in time; for
    # fixed-length sessions (a lent GPU's minutes). Counts the time of earlier resumes too.
    minutes: float = 0.0
    # Stop this process after so many minutes with a checkpoint, the schedule untouched (a
    # command with a time limit, the end of a session); resume with the same command.
    session_minutes: float = 0.0
    seed: int = 0


def sequence_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy (nats) of the generated positions: position i predicts token i + 1,
    so the prefix's last position (the output's begin token) predicts the first code."""
    inputs, length = batch.tokens[:, :-1], batch.tokens.shape[1]
    first = batch.prefix_length - 1
    positions = torch.arange(first, length - 1).expand(len(inputs), -1)
    prefix = torch.full((len(inputs),), batch.prefix_length)
    logits, _ = model(inputs, prefix, batch.text, batch.text_mask, hidden_positions=positions)
    targets = batch.tokens[:, first + 1 :]
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def train(cfg: TrainConfig, ctx: DistContext, stop_after: int | None = None) -> PrefixLM:
    torch.manual_seed(cfg.seed)
    layout = cache_layout(Path(cfg.cache))  # the tokenizers' vocabulary, whichever they are
    model_cfg = preset_config(cfg.preset, layout)
    model = PrefixLM(model_cfg).to(ctx.device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "embed" in n]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))
    progress = resume(cfg, model, optimizer)
    wrapped = DistributedDataParallel(model) if ctx.world_size > 1 else model
    sequences = TaskSequences(load_cache(Path(cfg.cache)), layout)
    tasks = list(Task)

    def step_losses(step: int) -> dict[str, torch.Tensor]:
        task = sequences.draw_task(np.random.default_rng([cfg.seed, step]))
        rng = np.random.default_rng([cfg.seed, ctx.rank, step, 1])
        size = max(1, cfg.tokens_per_batch // layout.sequence_length(task))
        batch = sequences.batch(task, size, rng, cfg.text_dropout)
        loss = sequence_loss(wrapped, batch)
        return {
            "loss": loss,
            "bits_per_token": loss.detach() / math.log(2),
            "task": torch.tensor(tasks.index(task)),
            "batch_size": torch.tensor(size),
        }

    state = {
        "train_config": dataclasses.asdict(cfg),
        "model_config": model_cfg.to_dict(),
        "token_layout": layout.to_dict(),
        "tasks": [t.value for t in tasks],
    }
    run_steps(cfg, ctx, model, optimizer, progress, step_losses, LOG_COLUMNS, state, stop_after)
    return model


def main() -> None:
    train_from_command_line(TrainConfig, train, __doc__)


if __name__ == "__main__":
    main()
