"""The training loop every model shares: resume, learning-rate schedule, optimizer steps, the
CSV loss curve and atomic checkpoints every few minutes. A model's script supplies the model,
its optimizer and a function that computes the loss terms of one step.

Training time is cumulative across resumes (kept in the checkpoint), so a run's log and docs
report the hours it really trained, however many sessions it took.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist

from reelpoet.models.train.checkpoint import load_checkpoint, save_checkpoint
from reelpoet.models.train.distributed import (
    DistContext,
    init_distributed,
    shutdown_distributed,
)
from reelpoet.models.train.run_log import CsvLog

# One step's loss terms by name; "loss" is the one minimised, the rest are logged.
StepLosses = Callable[[int], dict[str, torch.Tensor]]


class LoopConfig(Protocol):
    run_dir: str
    init_from: str | None
    steps: int
    lr: float
    warmup_steps: int
    log_every: int
    checkpoint_minutes: float


@dataclass
class Progress:
    step: int = 0
    seconds: float = 0.0  # training time before this process started
    # The runs this one started from (--init-from), oldest first: their steps, training time and
    # origin, so a model's provenance counts all the training behind it.
    lineage: list[dict] = dataclasses.field(default_factory=list)


def _ancestry(state: dict[str, Any], folder: Path) -> list[dict]:
    """`state`'s own lineage plus one entry for the run that wrote it."""
    record = {"checkpoint": str(folder), "step": state.get("step"), "seconds": state.get("seconds")}
    for key in ("train_config", "recovered_from"):
        if key in state:
            record[key] = state[key]
    return [*state.get("lineage", []), record]


def learning_rate(cfg: LoopConfig, step: int, time_used: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to a tenth over the run. With a time budget the decay
    follows whichever is further along, steps or the share of the budget used (`time_used`),
    so a run cut by the clock still ends annealed."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    progress = max(progress, min(1.0, time_used))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _budget_used(cfg: LoopConfig, ctx: DistContext, training_seconds: float) -> float:
    """Share of the run's time budget (`minutes`, 0 = none) its training time has used; rank 0's
    clock decides for every rank, so all ranks stop at the same step."""
    minutes = getattr(cfg, "minutes", 0.0) or 0.0
    if minutes <= 0:
        return 0.0
    used = torch.tensor([training_seconds / (60.0 * minutes)], dtype=torch.float64)
    if ctx.world_size > 1:
        dist.broadcast(used, src=0)
    return float(used.item())


def resume(cfg: LoopConfig, model: torch.nn.Module, optimizer) -> Progress:
    """Continue this run's checkpoint, or start from --init-from's weights, or from scratch.
    Call before wrapping the model in DDP."""
    checkpoint = Path(cfg.run_dir) / "checkpoint"
    if checkpoint.exists():
        state = load_checkpoint(checkpoint, model, optimizer)
        return Progress(state["step"], state.get("seconds", 0.0), state.get("lineage", []))
    if cfg.init_from:
        state = load_checkpoint(Path(cfg.init_from), model)
        return Progress(lineage=_ancestry(state, Path(cfg.init_from)))
    return Progress()


def _agreed(ctx: DistContext, flag: bool) -> bool:
    """Rank 0's `flag`, on every rank."""
    if ctx.world_size == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    dist.broadcast(value, src=0)
    return bool(value.item())


def _optimizer_step(cfg: LoopConfig, optimizer, model, terms: dict, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    terms["loss"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def run_steps(
    cfg: LoopConfig,
    ctx: DistContext,
    model: torch.nn.Module,
    optimizer,
    progress: Progress,
    step_losses: StepLosses,
    columns: list[str],
    state: dict[str, Any],
    stop_after: int | None = None,
) -> Progress:
    """Train from `progress` to cfg.steps (or `stop_after` more steps, or until the run's
    training time reaches `cfg.minutes` where the config has one); return where it ended.

    `columns` name the logged terms besides step, seconds and lr; `state` is saved (as JSON)
    into every checkpoint beside the step and training time.
    """
    header = ["step", "seconds", *columns, "lr"]
    log = CsvLog(Path(cfg.run_dir) / "log.csv", header, progress.step) if ctx.is_main else None
    started = last_save = time.monotonic()
    step, end = progress.step, cfg.steps
    if stop_after is not None:
        end = min(end, step + stop_after)
    seconds = lambda: round(progress.seconds + time.monotonic() - started, 3)  # noqa: E731

    def save() -> None:
        record = {**state, "step": step, "seconds": seconds()}
        if progress.lineage:
            record["lineage"] = progress.lineage
        save_checkpoint(Path(cfg.run_dir) / "checkpoint", model, optimizer, record)

    session_s = 60.0 * (getattr(cfg, "session_minutes", 0.0) or 0.0)
    while step < end:
        used = _budget_used(cfg, ctx, seconds())
        # Out of the run's time (the steps so far are the run), or of this process's: a
        # checkpoint to resume from, with the schedule untouched.
        this_process = time.monotonic() - started
        # (no collective per step unless a session limit is set: every rank has the same cfg)
        if used >= 1.0 or (session_s > 0 and _agreed(ctx, this_process >= session_s)):
            if ctx.is_main and step > progress.step:
                save()
            break
        lr = learning_rate(cfg, step, used)
        terms = step_losses(step)
        _optimizer_step(cfg, optimizer, model, terms, lr)
        step += 1
        if log is not None and (step % cfg.log_every == 0 or step == end):
            row = {name: round(value.item(), 5) for name, value in terms.items()}
            log.write({**row, "step": step, "seconds": seconds(), "lr": lr})
        if ctx.is_main and (
            time.monotonic() - last_save > cfg.checkpoint_minutes * 60 or step == end
        ):
            save()
            last_save = time.monotonic()
    if ctx.is_main and cfg.steps == 0 and progress.step == 0:
        save()  # a run of no steps writes the model it starts as (a fitted start, say)
    return Progress(step, seconds(), progress.lineage)


def config_from_args(config_class: type, description: str):
    """Build a frozen config dataclass from --flags named after its fields (defaults kept)."""
    parser = argparse.ArgumentParser(description=description)
    for field in dataclasses.fields(config_class):
        flag = f"--{field.name.replace('_', '-')}"
        if str(field.type) == "bool":  # --flag / --no-flag
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default)
            continue
        # Optional numbers ("float | None": the preset's value unless given) parse as numbers.
        kinds = {"int": int, "float": float, "int | None": int, "float | None": float}
        kind = kinds.get(str(field.type), str)
        parser.add_argument(flag, type=kind, default=field.default)
    return config_class(**vars(parser.parse_args()))


def train_from_command_line(config_class: type, train_fn, doc: str) -> None:
    """Every training script's `main`: its flags into its config, DDP set up (one process, or
    one per rank under torchrun), `train_fn(cfg, ctx)`, and DDP torn down even on failure."""
    cfg = config_from_args(config_class, doc.split("\n\n")[0])
    ctx = init_distributed()
    try:
        train_fn(cfg, ctx)
    finally:
        shutdown_distributed()
