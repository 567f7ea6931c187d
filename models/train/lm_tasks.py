"""Training sequences for every task, assembled from the pre-tokenized cache (`lm_cache`).

One task per batch (drawn by the mixture's weights, the same on every rank): a task fixes the
sequence length and the prefix length, so a batch needs no padding and the token budget sets
how many sequences it holds. Every batch is a pure function of (seed, rank, step).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reelpoet.sdk.token_layout import Task, TokenLayout

# Share of training steps per task. Text-to-video carries the bars and the hardest
# conditioning (text alone), so it gets the most; the rest share what is left.
DEFAULT_MIXTURE: dict[Task, float] = {
    Task.TEXT_TO_VIDEO: 0.24,
    Task.TEXT_TO_IMAGE: 0.08,
    Task.IMAGE_TO_VIDEO: 0.08,
    Task.CONTINUATION: 0.10,
    Task.INPAINT: 0.08,
    Task.OUTPAINT: 0.08,
    Task.STYLIZE: 0.07,
    Task.VIDEO_TO_AUDIO: 0.12,
    Task.AUDIO_TO_VIDEO: 0.05,
    Task.TEXT_TO_AUDIO: 0.10,
}

# Which cache arrays a task's input and output come from: (record kind, video/audio in, output).
SOURCES: dict[Task, tuple[str, str | None, str]] = {
    Task.TEXT_TO_IMAGE: ("clips", None, "image"),
    Task.TEXT_TO_VIDEO: ("clips", None, "video"),
    Task.IMAGE_TO_VIDEO: ("clips", "image", "video"),
    Task.CONTINUATION: ("pairs", "video", "next_video"),
    Task.INPAINT: ("clips", "inpaint_in", "video"),
    Task.OUTPAINT: ("clips", "outpaint_in", "video"),
    Task.STYLIZE: ("clips", "structure_in", "video"),
    Task.VIDEO_TO_AUDIO: ("clips", "video", "audio"),
    Task.AUDIO_TO_VIDEO: ("clips", "audio", "video"),
    Task.TEXT_TO_AUDIO: ("clips", None, "audio"),
}


@dataclass
class Batch:
    tokens: torch.Tensor  # (B, L) int64, whole sequences
    prefix_length: int  # the same for every sequence of a task
    text: torch.Tensor  # (B, S, 384) float32
    text_mask: torch.Tensor  # (B, S) bool; all False for text-dropped sequences
    task: Task


def load_cache(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """All shards of a cache folder, concatenated per record kind.

    `cache.json` is written last, when every shard is there: without it a build (perhaps one of
    several parts) is still running, and training on what exists would silently skew the data.
    """
    if not (folder / "cache.json").exists():
        raise FileNotFoundError(f"{folder} holds no finished cache (no cache.json); run lm_cache")
    records: dict[str, dict[str, np.ndarray]] = {}
    for kind in ("clips", "pairs"):
        shards = sorted(folder.glob(f"{kind}_*.npz"))
        if not shards:
            continue
        loaded = [dict(np.load(p)) for p in shards]
        records[kind] = {k: np.concatenate([s[k] for s in loaded]) for k in loaded[0]}
    if not records:
        raise FileNotFoundError(f"no cache shards in {folder}; build them with lm_cache")
    return records


class TaskSequences:
    def __init__(
        self,
        records: dict[str, dict[str, np.ndarray]],
        layout: TokenLayout,
        mixture: dict[Task, float] | None = None,
    ) -> None:
        self.records = records
        self.layout = layout
        mixture = dict(mixture or DEFAULT_MIXTURE)
        if "pairs" not in records:
            mixture.pop(Task.CONTINUATION, None)
        self.tasks = list(mixture)
        weights = np.array([mixture[t] for t in self.tasks], dtype=np.float64)
        self.weights = weights / weights.sum()

    def _codes(self, kind: str, name: str, index: int) -> list[int]:
        if name == "image":  # frame 0 is coded alone: its codes lead the clip's
            return self.records[kind]["video"][index, : self.layout.video_tokens_per_image].tolist()
        return self.records[kind][name][index].tolist()

    def sequence(self, task: Task, index: int) -> list[int]:
        kind, source, target = SOURCES[task]
        inputs = {}
        if source is not None:
            key = "audio_in" if source == "audio" else "video_in"
            inputs[key] = self._codes(kind, source, index)
        output = self._codes(kind, target, index)
        return list(self.layout.assemble(task, **inputs, output=output).tokens)

    def draw_task(self, rng: np.random.Generator) -> Task:
        return self.tasks[int(rng.choice(len(self.tasks), p=self.weights))]

    def batch(
        self, task: Task, batch_size: int, rng: np.random.Generator, text_dropout: float = 0.0
    ) -> Batch:
        kind = SOURCES[task][0]
        indices = rng.integers(0, len(self.records[kind]["seed"]), size=batch_size)
        tokens = torch.tensor([self.sequence(task, int(i)) for i in indices])
        text = torch.from_numpy(self.records[kind]["text"][indices].astype(np.float32))
        mask = torch.from_numpy(self.records[kind]["text_mask"][indices].copy())
        # Text dropped on some sequences: the unconditional model classifier-free guidance needs.
        dropped = torch.from_numpy(rng.uniform(size=batch_size) < text_dropout)
        mask[dropped] = False
        prefix = self.layout.assemble(task, **self._dummy_inputs(task)).prefix_length
        return Batch(tokens, prefix, text, mask, task)

    def _dummy_inputs(self, task: Task) -> dict:
        _, source, _ = SOURCES[task]
        if source is None:
            return {}
        key = "audio_in" if source == "audio" else "video_in"
        return {key: [0] * self.layout.input_length(task)}
