"""The trained networks, loaded from their checkpoint folders (`model.safetensors` +
`state.json`, whose `model_config` builds the network). One place for evaluation, export, the
LM cache and the benchmarks; it imports no media code, so training machines without PyAV can
use it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from torch import nn

from reelpoet.models.audio_tokenizer import AudioTokenizer, AudioTokenizerConfig
from reelpoet.models.lm import LMConfig, PrefixLM
from reelpoet.models.train.checkpoint import STATE, load_checkpoint
from reelpoet.models.video_tokenizer import VideoTokenizer, VideoTokenizerConfig

Model = TypeVar("Model", bound=nn.Module)


def _load(folder: Path, build: Callable[[dict], Model]) -> Model:
    state = json.loads((Path(folder) / STATE).read_text())
    model = build(state["model_config"])
    load_checkpoint(Path(folder), model)
    return model.eval()


def load_video_tokenizer(folder: Path) -> VideoTokenizer:
    return _load(folder, lambda config: VideoTokenizer(VideoTokenizerConfig(**config)))


def load_audio_tokenizer(folder: Path) -> AudioTokenizer:
    return _load(folder, lambda config: AudioTokenizer(AudioTokenizerConfig.from_dict(config)))


def load_lm(folder: Path) -> PrefixLM:
    return _load(folder, lambda config: PrefixLM(LMConfig(**config)))
