"""Make the next batches in a worker process while the network trains on this one.

Batches here are pure functions of the step (`make_batch(step)`), so a worker can run ahead and
the result is the same batch the training process would have made itself: prefetching changes
speed, never data. Measured on the 2-core CPU: rendering a 64-image batch for the tokenizer's
first stage takes about as long as the network's step on it (docs/video_tokenizer.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset


class _Steps(IterableDataset):
    def __init__(self, make_batch: Callable[[int], torch.Tensor], first: int, end: int) -> None:
        self.make_batch, self.first, self.end = make_batch, first, end

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        for step in range(self.first, self.end):
            yield step, self.make_batch(step)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)  # the worker renders with numpy; the cores belong to training


def prefetched(
    make_batch: Callable[[int], torch.Tensor], first: int, end: int, background: bool = True
) -> Callable[[int], torch.Tensor]:
    """A `batch(step)` for steps first, first + 1, ... (in order), made ahead by one worker
    process (one, so the order is kept). With background=False it is `make_batch` itself."""
    if not background:
        return make_batch
    loader = DataLoader(
        _Steps(make_batch, first, end),
        batch_size=None,
        num_workers=1,
        prefetch_factor=2,
        worker_init_fn=_one_thread,
    )
    stream = iter(loader)

    def batch(step: int) -> torch.Tensor:
        made_for, tensor = next(stream)
        if made_for != step:
            raise RuntimeError(f"prefetched batch of step {made_for} asked for at step {step}")
        return tensor

    return batch
