"""The LM on onnxruntime: a task's prefix in, generated codes out, without torch.

The exported graph (`reelpoet.export.lm_onnx`) takes the cache as `past_key_values.*` and
returns it as `present.*`, so one graph runs the prefill (past length 0) and every decode step.
Classifier-free guidance runs the conditional and unconditional streams as one batch of two.
Token choice is `reelpoet.sdk.sampling.choose`, the function the torch reference sampler uses,
with the same seeded generator, so a seed means the same thing in both.

On CUDA the cache stays on the device between steps (IOBinding: outputs bound to CUDA memory
and fed back as the next step's inputs); on the CPU onnxruntime's own output arrays are fed
back, which is already copy-free.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelpoet.sdk.errors import BundleError, CancelledError, InvalidRequestError
from reelpoet.sdk.onnx_session import create_session
from reelpoet.sdk.sampling import SamplingConfig, choose, generator, guide
from reelpoet.sdk.token_layout import TASK_SHAPES, Task, TokenLayout

ProgressCallback = Callable[[int, int], None]  # (steps done, steps in all)


@dataclass(frozen=True)
class LMSpec:
    """What `lm.json` records about the exported graph."""

    vocab_size: int
    depth: int
    heads: int
    head_dim: int
    text_slots: int
    text_width: int
    max_positions: int

    @classmethod
    def from_config(cls, config: dict) -> LMSpec:
        try:
            return cls(
                int(config["vocab_size"]),
                int(config["depth"]),
                int(config["heads"]),
                int(config["width"]) // int(config["heads"]),
                int(config["text_slots"]),
                int(config["text_width"]),
                int(config["max_positions"]),
            )
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise BundleError(f"LM config is incomplete or malformed: {exc}") from exc


@dataclass(frozen=True)
class GenerationRequest:
    task: Task
    text: np.ndarray  # (S, 384) text-encoder embeddings, zeros where text_mask is False
    text_mask: np.ndarray  # (S,) bool
    video_in: list[int] | None = None  # tokenizer codes of the task's input
    audio_in: list[int] | None = None


def allowed_ranges(layout: TokenLayout, task: Task) -> list[range]:
    """Per generated position, the ids it may take: video codes, or audio codes of the level
    the position holds (frame-major interleaving: position i is level i % K)."""
    length = layout.output_length(task)
    if TASK_SHAPES[Task(task)].output == "video":
        return [layout.video_range()] * length
    return [layout.audio_range(i % layout.audio_levels) for i in range(length)]


def tokens_to_codes(layout: TokenLayout, task: Task, tokens: list[int]) -> list[int]:
    if TASK_SHAPES[Task(task)].output == "video":
        return layout.tokens_to_video(tokens)
    return layout.tokens_to_audio(tokens)


class LMEngine:
    def __init__(
        self, model_path: Path, spec: LMSpec, layout: TokenLayout, threads: int | None = None
    ) -> None:
        if spec.vocab_size != layout.vocab_size or spec.text_slots != layout.text_slots:
            raise BundleError(
                f"LM graph (vocabulary {spec.vocab_size}, {spec.text_slots} text slots) does "
                f"not match the token layout ({layout.vocab_size}, {layout.text_slots})"
            )
        self.session = create_session(model_path, threads)
        self.spec = spec
        self.layout = layout
        self._on_cuda = "CUDAExecutionProvider" in self.session.get_providers()
        depth = spec.depth
        self._past_names = [
            f"past_key_values.{i}.{k}" for i in range(depth) for k in ("key", "value")
        ]
        self._present_names = [f"present.{i}.{k}" for i in range(depth) for k in ("key", "value")]

    @classmethod
    def from_files(
        cls, model_path: Path, config_path: Path, layout: TokenLayout, threads: int | None = None
    ) -> LMEngine:
        try:
            config = json.loads(Path(config_path).read_text())
        except (OSError, ValueError) as exc:
            raise BundleError(f"cannot read LM config {config_path}: {exc}") from exc
        return cls(Path(model_path), LMSpec.from_config(config), layout, threads)

    def generate(
        self,
        request: GenerationRequest,
        sampling: SamplingConfig,
        on_step: ProgressCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[int]:
        """The task's generated codes (tokenizer codes). `cancelled` is polled between steps;
        when it returns True the work stops with CancelledError."""
        text, mask = self._check_text(request)
        layout = self.layout
        sequence = layout.assemble(
            request.task, video_in=request.video_in, audio_in=request.audio_in
        )
        ranges = allowed_ranges(layout, request.task)
        if len(sequence.tokens) + len(ranges) > self.spec.max_positions:
            raise InvalidRequestError("the task's sequence is longer than this LM can run")
        streams = 2 if sampling.guided else 1
        prefix = np.full((streams,), sequence.prefix_length, dtype=np.int64)
        texts = np.repeat(text[None], streams, axis=0)
        masks = np.repeat(mask[None], streams, axis=0)
        if streams == 2:
            masks[1] = False  # the unconditional stream: same sequence, no text
        ids = np.array([sequence.tokens] * streams, dtype=np.int64)
        no_text = (
            np.zeros((streams, 1, self.spec.text_width), np.float32),
            np.zeros((streams, 1), bool),
        )
        empty = np.zeros((streams, self.spec.heads, 0, self.spec.head_dim), np.float32)
        past = [empty] * len(self._past_names)
        rng = generator(sampling.seed)
        chosen: list[int] = []
        for i, allowed in enumerate(ranges):
            if cancelled is not None and cancelled():
                raise CancelledError(f"cancelled after {i} of {len(ranges)} steps")
            logits, past = self._step(ids, prefix, texts, masks, past)
            scores = (
                guide(logits[0], logits[1], sampling.guidance_scale) if streams == 2 else logits[0]
            )
            chosen.append(choose(scores, allowed, sampling, rng))
            if on_step is not None:
                on_step(i + 1, len(ranges))
            ids = np.full((streams, 1), chosen[-1], dtype=np.int64)
            texts, masks = no_text
        return tokens_to_codes(layout, request.task, chosen)

    def log_likelihood(self, request: GenerationRequest, codes: list[int], cancelled=None) -> float:
        """Mean log-probability (nats per token) of `codes` as the task's output, conditioned
        on the request's text and inputs; the model's own rating of a clip (higher: likelier).
        Each code is scored among the codes its position may take, as sampling would see it."""
        text, mask = self._check_text(request)
        layout = self.layout
        sequence = layout.assemble(
            request.task, video_in=request.video_in, audio_in=request.audio_in
        )
        ranges = allowed_ranges(layout, request.task)
        if len(codes) != len(ranges):
            raise InvalidRequestError(
                f"{request.task.value} rates {len(ranges)} codes, got {len(codes)}"
            )
        tokens = layout.assemble(
            request.task, video_in=request.video_in, audio_in=request.audio_in, output=codes
        ).tokens[sequence.prefix_length : sequence.prefix_length + len(ranges)]
        prefix = np.array([sequence.prefix_length], dtype=np.int64)
        ids = np.array([sequence.tokens], dtype=np.int64)
        texts, masks = text[None], mask[None]
        empty = np.zeros((1, self.spec.heads, 0, self.spec.head_dim), np.float32)
        past = [empty] * len(self._past_names)
        total = 0.0
        for i, (allowed, token) in enumerate(zip(ranges, tokens, strict=True)):
            if cancelled is not None and cancelled():
                raise CancelledError(f"cancelled after {i} of {len(ranges)} steps")
            logits, past = self._step(ids, prefix, texts, masks, past)
            scores = logits[0, allowed.start : allowed.stop]
            top = scores.max()
            total += scores[token - allowed.start] - top - np.log(np.exp(scores - top).sum())
            ids = np.array([[token]], dtype=np.int64)
            texts, masks = (
                np.zeros((1, 1, self.spec.text_width), np.float32),
                np.zeros((1, 1), bool),
            )
        return float(total / len(ranges))

    def _check_text(self, request: GenerationRequest) -> tuple[np.ndarray, np.ndarray]:
        text = np.asarray(request.text, dtype=np.float32)
        mask = np.asarray(request.text_mask, dtype=bool)
        expected = (self.spec.text_slots, self.spec.text_width)
        if text.shape != expected or mask.shape != expected[:1]:
            raise InvalidRequestError(
                f"text must be {expected} with a ({expected[0]},) mask, got {text.shape} "
                f"and {mask.shape}"
            )
        if not np.isfinite(text).all():
            raise InvalidRequestError("text embeddings contain NaN or infinity")
        return text, mask

    def _step(self, ids, prefix, texts, masks, past) -> tuple[np.ndarray, list]:
        feeds = {"input_ids": ids, "prefix_length": prefix, "text": texts, "text_mask": masks}
        if not self._on_cuda:
            outputs = self.session.run(
                None, {**feeds, **dict(zip(self._past_names, past, strict=True))}
            )
            return outputs[0].astype(np.float64), outputs[1:]
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for name, value in zip(self._past_names, past, strict=True):
            if isinstance(value, np.ndarray):
                binding.bind_cpu_input(name, value)
            else:
                binding.bind_ortvalue_input(name, value)
        binding.bind_output("logits", "cpu")
        for name in self._present_names:
            binding.bind_output(name, "cuda")  # the cache stays on the device
        self.session.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        return outputs[0].numpy().astype(np.float64), list(outputs[1:])
