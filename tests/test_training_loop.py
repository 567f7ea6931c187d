"""The shared training loop: a run started from another's weights (--init-from) records that
run in its lineage, so provenance counts all the training behind a model."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from reelpoet.models.train.distributed import DistContext
from reelpoet.models.train.loop import resume, run_steps


@dataclass(frozen=True)
class _Config:
    run_dir: str
    init_from: str | None = None
    steps: int = 3
    lr: float = 1e-2
    warmup_steps: int = 1
    log_every: int = 1
    checkpoint_minutes: float = 60.0
    minutes: float = 0.0
    session_minutes: float = 0.0


def _train(cfg: _Config, step_seconds: float = 0.0) -> dict:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    progress = resume(cfg, model, optimizer)
    inputs = torch.randn(16, 4)

    def step_losses(step: int) -> dict[str, torch.Tensor]:
        time.sleep(step_seconds)
        return {"loss": model(inputs).pow(2).mean()}

    ctx = DistContext(0, 1, torch.device("cpu"))
    run_steps(cfg, ctx, model, optimizer, progress, step_losses, ["loss"], {"name": cfg.run_dir})
    return json.loads((Path(cfg.run_dir) / "checkpoint" / "state.json").read_text())


def test_init_from_records_the_runs_behind_a_model(tmp_path):
    first = _train(_Config(str(tmp_path / "a"), steps=3))
    assert "lineage" not in first and first["step"] == 3
    second = _train(_Config(str(tmp_path / "b"), init_from=str(tmp_path / "a/checkpoint"), steps=2))
    assert second["step"] == 2  # its own steps: the schedule starts again
    [parent] = second["lineage"]
    assert parent["step"] == 3 and parent["checkpoint"].endswith("a/checkpoint")
    assert parent["seconds"] == first["seconds"]
    # A third generation keeps the whole chain, oldest first; resuming keeps it too.
    third_cfg = _Config(str(tmp_path / "c"), init_from=str(tmp_path / "b/checkpoint"), steps=1)
    third = _train(third_cfg)
    assert [entry["step"] for entry in third["lineage"]] == [3, 2]
    resumed = _train(_Config(third_cfg.run_dir, init_from=third_cfg.init_from, steps=2))
    assert resumed["step"] == 2 and resumed["lineage"] == third["lineage"]


def test_a_time_budget_stops_the_run_annealed_and_saved(tmp_path):
    cfg = _Config(str(tmp_path / "timed"), steps=10_000, lr=1e-2, minutes=0.5 / 60)
    state = _train(cfg, step_seconds=0.05)  # 0.5 s of budget at 0.05 s a step
    assert 5 <= state["step"] < 20, state["step"]  # stopped by the clock, not by `steps`
    assert state["seconds"] >= 0.5
    with open(tmp_path / "timed" / "log.csv") as file:
        rates = [float(row["lr"]) for row in csv.DictReader(file)]
    # The cosine followed the clock: from the peak down to near its floor (a tenth).
    assert max(rates) == cfg.lr and rates[-1] < 0.3 * cfg.lr
    # Resuming a finished budget trains no further.
    assert _train(cfg, step_seconds=0.05)["step"] == state["step"]


def test_a_session_limit_stops_with_a_checkpoint_and_the_schedule_untouched(tmp_path):
    cfg = _Config(str(tmp_path / "run"), steps=40, lr=1e-2, session_minutes=0.3 / 60)
    first = _train(cfg, step_seconds=0.05)
    assert 2 <= first["step"] < 40  # stopped by this process's limit, saved
    with open(tmp_path / "run" / "log.csv") as file:
        rates = [float(row["lr"]) for row in csv.DictReader(file)]
    assert rates[-1] > 0.9 * cfg.lr  # the cosine over 40 steps has barely begun
    second = _train(cfg, step_seconds=0.05)  # the same command goes on from there
    assert second["step"] > first["step"]


def test_boolean_fields_become_on_off_flags(monkeypatch):
    from reelpoet.models.train.loop import config_from_args

    @dataclass(frozen=True)
    class Flags:
        freeze: bool = False
        keep: bool = True
        steps: int = 3

    monkeypatch.setattr("sys.argv", ["train", "--freeze", "--no-keep", "--steps", "5"])
    assert config_from_args(Flags, "test") == Flags(freeze=True, keep=False, steps=5)
    monkeypatch.setattr("sys.argv", ["train"])
    assert config_from_args(Flags, "test") == Flags()  # "--keep false" would have been truthy


def test_optional_number_fields_parse_as_numbers(monkeypatch):
    from reelpoet.models.train.loop import config_from_args

    @dataclass(frozen=True)
    class Flags:
        knee: float | None = None
        levels: int | None = None

    monkeypatch.setattr("sys.argv", ["train", "--knee", "0.0005", "--levels", "3"])
    assert config_from_args(Flags, "test") == Flags(knee=0.0005, levels=3)
    monkeypatch.setattr("sys.argv", ["train"])
    assert config_from_args(Flags, "test") == Flags()
