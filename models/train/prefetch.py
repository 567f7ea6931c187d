"""Make the next batches in worker processes while the network trains on this one.

Batches here are pure functions of the step (`make_batch(step)`), so workers can run ahead and
the result is the same batch the training process would have made itself: prefetching changes
speed, never data. Worker w of N makes steps first + w, first + w + N, ...; the DataLoader hands
their batches back in turn, which is step order. Measured on the 2-core CPU: rendering a
64-image batch for the tokenizer's first stage takes about as long as the network's step on it
(docs/video_tokenizer.md), so one worker only competes with training there; a GPU machine's
spare cores are where several pay (a 17-frame 64x64 world clip renders in about 14 ms).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info


class _Steps(IterableDataset):
    def __init__(self, make_batch: Callable[[int], torch.Tensor], first: int, end: int) -> None:
        self.make_batch, self.first, self.end = make_batch, first, end

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        worker = get_worker_info()
        index, count = (0, 1) if worker is None else (worker.id, worker.num_workers)
        for step in range(self.first + index, self.end, count):
            yield step, self.make_batch(step)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # a worker renders with numpy; the cores belong to training


def prefetched(
    make_batch: Callable[[int], torch.Tensor], first: int, end: int, workers: int = 1
) -> Callable[[int], torch.Tensor]:
    """A `batch(step)` for steps first, first + 1, ... (in order), made ahead by `workers`
    processes. With workers=0 it is `make_batch` itself."""
    if workers <= 0:
        return make_batch
    loader = DataLoader(
        _Steps(make_batch, first, end),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=2,
        worker_init_fn=_one_thread,
        in_order=True,
    )
    stream = iter(loader)

    def batch(step: int) -> torch.Tensor:
        made_for, tensor = next(stream)
        if made_for != step:
            raise RuntimeError(f"prefetched batch of step {made_for} asked for at step {step}")
        return tensor

    return batch
