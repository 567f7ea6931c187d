"""Resumable checkpoints without pickle: weights and optimizer tensors as safetensors, the rest
(step, configs, optimizer hyper-parameters) as JSON. A checkpoint is written into a temporary
folder and renamed into place, so an interrupted save never replaces a good checkpoint."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from reelpoet.sdk.atomic_file import atomic_output

WEIGHTS = "model.safetensors"
OPTIMIZER = "optimizer.safetensors"
STATE = "state.json"


def _optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    full = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in full["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": full["param_groups"], "scalars": scalars}


def _optimizer_from_flat(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in [*tensors.items(), *meta["scalars"].items()]:
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> Path:
    """Write model, optimizer and JSON state to `folder` atomically (temp folder + rename)."""
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, staging / WEIGHTS)
    opt_tensors, opt_meta = _optimizer_to_flat(optimizer)
    save_file(opt_tensors, staging / OPTIMIZER)
    (staging / STATE).write_text(json.dumps({**state, "optimizer": opt_meta}, indent=1))
    retired = folder.with_name(folder.name + ".old")
    if folder.exists():
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(folder, retired)
    os.replace(staging, folder)
    shutil.rmtree(retired, ignore_errors=True)
    return folder


def save_weights(folder: Path, model: torch.nn.Module, state: dict[str, Any]) -> Path:
    """Write a checkpoint without optimizer state (enough for loading or `--init-from`):
    weights and JSON state, each file atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(folder / WEIGHTS) as temp:
        save_file(tensors, str(temp))
    with atomic_output(folder / STATE) as temp:
        temp.write_text(json.dumps(state, indent=1))
    return folder


def load_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Load weights (and optimizer state, if given) from `folder`; return the JSON state."""
    folder = Path(folder)
    state = json.loads((folder / STATE).read_text())
    model.load_state_dict(load_file(folder / WEIGHTS))
    if optimizer is not None:
        tensors = load_file(folder / OPTIMIZER)
        optimizer.load_state_dict(_optimizer_from_flat(tensors, state["optimizer"]))
    return state
