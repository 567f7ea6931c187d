"""One process per device under `torchrun`; gloo on CPU, NCCL on CUDA; plain single process
when started without torchrun, so every training script runs unchanged either way."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistContext:
    """Join the process group torchrun describes in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank, world_size, device)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world_size: int, port: int, train_fn, out_dir: str) -> None:
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)  # the ranks share this machine's cores
    ctx = init_distributed()
    try:
        model = train_fn(ctx)
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, f"{out_dir}/rank{rank}.safetensors")
    finally:
        shutdown_distributed()


def train_on_local_ranks(
    train_fn: Callable[[DistContext], torch.nn.Module], world_size: int, out_dir: Path
) -> list[dict[str, torch.Tensor]]:
    """Run `train_fn(ctx)` in `world_size` gloo processes on this machine (tests, smoke runs) and
    return each rank's final weights. `train_fn` must pickle: functools.partial(train, cfg)."""
    mp.spawn(_rank_main, args=(world_size, _free_port(), train_fn, str(out_dir)), nprocs=world_size)
    return [load_file(Path(out_dir) / f"rank{r}.safetensors") for r in range(world_size)]
