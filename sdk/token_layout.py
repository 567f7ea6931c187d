"""The LM's token layout: one vocabulary, one sequence grammar, for training, export and runtime.

Plain Python (no torch, no numpy needed): the same object builds training sequences, is written
into every bundle's manifest (`to_dict`), and is rebuilt by the runtime (`from_dict`), so the
three can never disagree about what token 4107 means.

Vocabulary (DESIGN.md, "The LM"): special tokens first, then the video codes, then the audio
codes with one block per residual level (level l's code c is `audio_offset + l * audio_codes + c`),
so the LM sees which RVQ level a position holds.

Sequence (absent parts are left out; one task token selects the job):

    <bos> <task:T> <bot_i> [text slots] <eot_i>
          <bov_i> [video in] <eov_i> <boa_i> [audio in] <eoa_i>
          <bov_o> [video out] <eov_o> | <boa_o> [audio out] <eoa_o>   <eos>

Text comes in as embeddings, not tokens: the text part is always `text_slots` positions holding
the TEXT_SLOT token, whose embeddings the LM replaces with projected text-encoder outputs, and a
text mask says which slots hold real word pieces. A fixed slot count keeps the conditional and
unconditional streams of classifier-free guidance the same length, so they batch without padding
and share one KV-cache shape. The prefix (bidirectional attention, no loss) runs up to and
including the begin-token of the first output; everything after is generated (causal, with loss).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

from reelpoet.sdk.errors import InvalidRequestError

LAYOUT_VERSION = 1


class Task(str, Enum):
    """What the model is asked to do; the value is the task token's name."""

    TEXT_TO_IMAGE = "text_to_image"
    TEXT_TO_VIDEO = "text_to_video"
    IMAGE_TO_VIDEO = "image_to_video"
    CONTINUATION = "continuation"
    INPAINT = "inpaint"
    OUTPAINT = "outpaint"
    STYLIZE = "stylize"
    VIDEO_TO_AUDIO = "video_to_audio"
    AUDIO_TO_VIDEO = "audio_to_video"
    TEXT_TO_AUDIO = "text_to_audio"


@dataclass(frozen=True)
class TaskShape:
    """Which inputs a task's sequence holds besides the text (every task has a text part, empty
    for an unconditional stream), and which modality the model generates."""

    video_in: bool
    audio_in: bool
    output: str  # "video" or "audio"


TASK_SHAPES: dict[Task, TaskShape] = {
    Task.TEXT_TO_IMAGE: TaskShape(video_in=False, audio_in=False, output="video"),
    Task.TEXT_TO_VIDEO: TaskShape(video_in=False, audio_in=False, output="video"),
    Task.IMAGE_TO_VIDEO: TaskShape(video_in=True, audio_in=False, output="video"),
    Task.CONTINUATION: TaskShape(video_in=True, audio_in=False, output="video"),
    Task.INPAINT: TaskShape(video_in=True, audio_in=False, output="video"),
    Task.OUTPAINT: TaskShape(video_in=True, audio_in=False, output="video"),
    Task.STYLIZE: TaskShape(video_in=True, audio_in=False, output="video"),
    Task.VIDEO_TO_AUDIO: TaskShape(video_in=True, audio_in=False, output="audio"),
    Task.AUDIO_TO_VIDEO: TaskShape(video_in=False, audio_in=True, output="video"),
    Task.TEXT_TO_AUDIO: TaskShape(video_in=False, audio_in=False, output="audio"),
}

BOUNDARY_TOKENS = (
    "bot_i",
    "eot_i",
    "bov_i",
    "eov_i",
    "boa_i",
    "eoa_i",
    "bov_o",
    "eov_o",
    "boa_o",
    "eoa_o",
)
SPECIAL_TOKENS: tuple[str, ...] = (
    "pad",
    "bos",
    "eos",
    "text_slot",
    *BOUNDARY_TOKENS,
    *(f"task:{t.value}" for t in Task),
)


@dataclass(frozen=True)
class Sequence:
    """One assembled sequence: token ids, where the prefix ends, and where each part sits."""

    tokens: tuple[int, ...]
    prefix_length: int  # positions [0, prefix_length) are conditioning: bidirectional, no loss
    text_start: int  # first of the text slots
    output_start: int  # first generated code (== prefix_length)
    output_length: int  # how many codes are generated (boundary tokens after them not counted)

    def loss_mask(self) -> tuple[bool, ...]:
        """True where the LM is trained to predict the token: every generated position."""
        return tuple(i >= self.prefix_length for i in range(len(self.tokens)))


@dataclass(frozen=True)
class TokenLayout:
    """Vocabulary offsets and sequence lengths; built from the tokenizers' sizes."""

    video_codes: int = 4096  # 2^12 LFQ codes
    video_tokens_per_clip: int = 320  # 5 x 8 x 8 latents of a 17-frame 64x64 clip
    video_tokens_per_image: int = 64  # 1 x 8 x 8: the first latent frame alone
    audio_codes: int = 1024  # codes per RVQ level
    audio_levels: int = 4
    audio_tokens_per_clip: int = 428  # 107 frames x 4 levels, frame-major
    text_slots: int = 48  # == sdk.text_encoder.MAX_TOKENS
    special_tokens: tuple[str, ...] = field(default=SPECIAL_TOKENS)
    version: int = LAYOUT_VERSION

    def __post_init__(self) -> None:
        if self.audio_tokens_per_clip % self.audio_levels:
            raise InvalidRequestError("audio_tokens_per_clip must be whole frames of all levels")
        if min(self.video_codes, self.audio_codes, self.text_slots, self.audio_levels) < 1:
            raise InvalidRequestError(f"token layout sizes must be positive: {self}")

    # -- vocabulary -------------------------------------------------------------------------
    def special(self, name: str) -> int:
        try:
            return self.special_tokens.index(name)
        except ValueError:
            raise InvalidRequestError(f"no special token named {name!r}") from None

    def task_token(self, task: Task) -> int:
        return self.special(f"task:{Task(task).value}")

    @property
    def video_offset(self) -> int:
        return len(self.special_tokens)

    @property
    def audio_offset(self) -> int:
        return self.video_offset + self.video_codes

    @property
    def vocab_size(self) -> int:
        return self.audio_offset + self.audio_codes * self.audio_levels

    def video_range(self) -> range:
        """Token ids of video codes: the only ids allowed while generating video."""
        return range(self.video_offset, self.audio_offset)

    def audio_range(self, level: int | None = None) -> range:
        """Token ids of audio codes, of one RVQ level or of all."""
        if level is None:
            return range(self.audio_offset, self.vocab_size)
        start = self.audio_offset + level * self.audio_codes
        return range(start, start + self.audio_codes)

    def video_to_tokens(self, codes: list[int]) -> list[int]:
        return [self.video_offset + self._checked(c, self.video_codes, "video") for c in codes]

    def tokens_to_video(self, tokens: list[int]) -> list[int]:
        return [self._checked(t - self.video_offset, self.video_codes, "video") for t in tokens]

    def audio_to_tokens(self, codes: list[int]) -> list[int]:
        """Frame-major interleaved codes (frame t: level 0..K-1) -> level-offset token ids."""
        k, n = self.audio_levels, self.audio_codes
        return [
            self.audio_offset + (i % k) * n + self._checked(c, n, "audio")
            for i, c in enumerate(codes)
        ]

    def tokens_to_audio(self, tokens: list[int]) -> list[int]:
        k, n = self.audio_levels, self.audio_codes
        codes = [t - self.audio_offset - (i % k) * n for i, t in enumerate(tokens)]
        return [self._checked(c, n, "audio") for c in codes]

    @staticmethod
    def _checked(code: int, count: int, kind: str) -> int:
        if not 0 <= code < count:
            raise InvalidRequestError(f"{kind} code {code} is outside [0, {count})")
        return code

    # -- sequences --------------------------------------------------------------------------
    def output_length(self, task: Task) -> int:
        """Codes generated for a task: a clip's, one image's latents (text-to-image), or a
        clip's audio."""
        task = Task(task)
        if TASK_SHAPES[task].output == "audio":
            return self.audio_tokens_per_clip
        if task == Task.TEXT_TO_IMAGE:
            return self.video_tokens_per_image
        return self.video_tokens_per_clip

    def input_length(self, task: Task) -> int:
        """Codes of a task's video or audio input (0 when it has none): image-to-video takes one
        image's latents, the other video tasks a clip's."""
        task = Task(task)
        shape = TASK_SHAPES[task]
        if shape.audio_in:
            return self.audio_tokens_per_clip
        if not shape.video_in:
            return 0
        if task == Task.IMAGE_TO_VIDEO:
            return self.video_tokens_per_image
        return self.video_tokens_per_clip

    def sequence_length(self, task: Task) -> int:
        """Positions of a whole training sequence of the task."""
        inputs = self.input_length(task)
        head = 2 + self.text_slots + 2  # <bos> <task> <bot_i> [slots] <eot_i>
        body = inputs + 2 if inputs else 0  # <bov_i>/<boa_i> [codes] <eov_i>/<eoa_i>
        return head + body + 1 + self.output_length(task) + 2  # <bov_o> [codes] <eov_o> <eos>

    def assemble(
        self,
        task: Task,
        video_in: list[int] | None = None,
        audio_in: list[int] | None = None,
        output: list[int] | None = None,
        output_length: int | None = None,
    ) -> Sequence:
        """Build a task's sequence from code lists (tokenizer codes, not token ids).

        `output` holds the target codes for training; leave it None at inference (the sequence
        then ends after the prefix). Inputs a task has no place for are an error, not ignored.
        """
        task = Task(task)
        shape = TASK_SHAPES[task]
        self._check_inputs(task, shape, video_in, audio_in)
        tokens = [self.special("bos"), self.task_token(task)]
        text_start = len(tokens) + 1
        tokens += [
            self.special("bot_i"),
            *[self.special("text_slot")] * self.text_slots,
            self.special("eot_i"),
        ]
        if video_in is not None:
            tokens += [
                self.special("bov_i"),
                *self.video_to_tokens(video_in),
                self.special("eov_i"),
            ]
        if audio_in is not None:
            tokens += [
                self.special("boa_i"),
                *self.audio_to_tokens(audio_in),
                self.special("eoa_i"),
            ]
        begin, end = ("bov_o", "eov_o") if shape.output == "video" else ("boa_o", "eoa_o")
        tokens.append(self.special(begin))
        prefix_length = len(tokens)
        length = output_length if output_length is not None else self.output_length(task)
        if output is not None:
            if len(output) != length:
                raise InvalidRequestError(
                    f"{task.value} output has {len(output)} codes, expected {length}"
                )
            to_tokens = self.video_to_tokens if shape.output == "video" else self.audio_to_tokens
            tokens += [*to_tokens(output), self.special(end), self.special("eos")]
        return Sequence(tuple(tokens), prefix_length, text_start, prefix_length, length)

    def _check_inputs(self, task: Task, shape: TaskShape, video_in, audio_in) -> None:
        for name, wanted, given in (
            ("video", shape.video_in, video_in),
            ("audio", shape.audio_in, audio_in),
        ):
            if wanted and given is None:
                raise InvalidRequestError(f"{task.value} needs {name} input")
            if not wanted and given is not None:
                raise InvalidRequestError(f"{task.value} takes no {name} input")
            if given is not None and len(given) != self.input_length(task):
                raise InvalidRequestError(
                    f"{task.value} {name} input has {len(given)} codes, "
                    f"expected {self.input_length(task)}"
                )

    # -- manifest ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data["special_tokens"] = list(self.special_tokens)
        data["vocab_size"] = self.vocab_size  # derived; written so a reader can cross-check
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TokenLayout:
        fields = {k: v for k, v in data.items() if k != "vocab_size"}
        fields["special_tokens"] = tuple(fields["special_tokens"])
        layout = cls(**fields)
        if data.get("vocab_size", layout.vocab_size) != layout.vocab_size:
            raise InvalidRequestError("manifest vocab_size does not match its token layout")
        if layout.version != LAYOUT_VERSION:
            raise InvalidRequestError(
                f"token layout version {layout.version} is not supported "
                f"by this reelpoet (it reads version {LAYOUT_VERSION})"
            )
        return layout
