"""The text encoder at run time: prompts -> token embeddings, the LM's text prefix.

all-MiniLM-L6-v2 (a 6-layer BERT, width 384) exported to ONNX, with its word-piece tokenizer read
by `tokenizers`, so this module needs no torch. Every prompt becomes exactly ``MAX_TOKENS``
positions: [CLS], its word pieces, [SEP], then padding; ``mask`` is True on the real ones.

- Longer prompts are cut to their first 30 word pieces (+ [CLS] and [SEP]); ``tokenize`` says
  which were cut.
- An empty or whitespace-only prompt is valid: it encodes to [CLS][SEP], a fixed "no prompt"
  prefix for classifier-free guidance.
- Any Unicode text works: the tokenizer lower-cases, strips accents ("café" -> "cafe"), splits
  CJK characters, maps what its 30,522-piece English vocabulary lacks (emoji, most CJK
  characters) to [UNK], and spells other scripts (Cyrillic, Greek, Arabic) letter by letter.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tokenizers import Tokenizer

from reelpoet.sdk.errors import BundleError, InvalidRequestError
from reelpoet.sdk.onnx_session import create_session

# The LM's text prefix length. DESIGN.md starts at 32, but 36% of the procedural world's captions
# are longer (300 training seeds: median 29 word pieces with [CLS]/[SEP], 99th percentile 45,
# longest 47) and lost their last facts (the camera move) at 32; 48 holds them all.
MAX_TOKENS = 48
WIDTH = 384  # all-MiniLM-L6-v2's hidden size
MAX_PROMPT_CHARS = 10_000  # far past what 48 tokens can use; longer input is a caller's bug
_CHUNK = 64  # prompts per graph run: bounds activation memory for large batches

MODEL_FILE = "text_encoder.onnx"  # fp32, the reference
QUANTIZED_FILE = "text_encoder.int8.onnx"  # the one the bundle ships
TOKENIZER_FILE = "text_tokenizer.json"  # not "tokenizer.json": one bundle folder, many tokenizers
CONFIG_FILE = "text_encoder.json"


@dataclass(frozen=True)
class TextEncoderSpec:
    """What `text_encoder.json` records about the exported graph."""

    model_name: str  # the upstream model the weights come from
    weights_sha256: str  # of the source model.safetensors the graph was exported from
    licence: str
    max_tokens: int = MAX_TOKENS
    width: int = WIDTH

    @classmethod
    def from_config(cls, config: dict) -> TextEncoderSpec:
        try:
            spec = cls(
                str(config["model_name"]),
                str(config["weights_sha256"]),
                str(config["licence"]),
                int(config["max_tokens"]),
                int(config["width"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"text encoder config is incomplete or malformed: {exc}") from exc
        if (spec.max_tokens, spec.width) != (MAX_TOKENS, WIDTH):
            raise BundleError(
                f"text encoder config says {spec.max_tokens} tokens x {spec.width}; this runtime "
                f"needs {MAX_TOKENS} x {WIDTH}; install a matching bundle"
            )
        return spec

    def to_dict(self) -> dict:
        return {
            "model_name": self.model_name,
            "weights_sha256": self.weights_sha256,
            "licence": self.licence,
            "max_tokens": self.max_tokens,
            "width": self.width,
        }


class TokenBatch(NamedTuple):
    ids: np.ndarray  # (B, MAX_TOKENS) int64 word-piece ids, 0 ([PAD]) after [SEP]
    mask: np.ndarray  # (B, MAX_TOKENS) bool, True on [CLS], word pieces and [SEP]
    truncated: np.ndarray  # (B,) bool, True where word pieces were cut off


class TextPrefix(NamedTuple):
    embeddings: np.ndarray  # (B, MAX_TOKENS, WIDTH) float32 last hidden state; 0 where ~mask
    mask: np.ndarray  # (B, MAX_TOKENS) bool


def load_tokenizer(path: str | os.PathLike[str]) -> Tokenizer:
    """Read a `tokenizer.json`, set to cut and pad every prompt to MAX_TOKENS."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"tokenizer file {path} is missing; reinstall or re-export the bundle")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for malformed JSON
        raise BundleError(f"cannot load tokenizer file {path}: {exc}") from exc
    # The upstream file pads and cuts at 128; our prefix is MAX_TOKENS wide.
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(length=MAX_TOKENS, pad_id=0, pad_token="[PAD]")
    return tokenizer


def check_prompts(prompts: object) -> list[str]:
    """The prompts as a list, or an InvalidRequestError saying what is wrong with them."""
    if isinstance(prompts, str):
        # Iterating a str would silently encode each character as its own prompt.
        raise InvalidRequestError("prompts must be a list of strings; wrap one prompt: [prompt]")
    if not isinstance(prompts, (list, tuple)):
        kind = type(prompts).__name__
        raise InvalidRequestError(f"prompts must be a list of strings, not a {kind}")
    if not prompts:
        raise InvalidRequestError("no prompts given; pass [''] for the empty (unconditional) one")
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt {i} is a {type(prompt).__name__}, not a str")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequestError(
                f"prompt {i} has {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are "
                f"accepted (only the first {MAX_TOKENS - 2} word pieces are used anyway)"
            )
        _check_unicode(i, prompt)
    return list(prompts)


def _check_unicode(i: int, prompt: str) -> None:
    # A Python str can hold lone surrogates (from broken decoding); `tokenizers` cannot take them
    # and says only that the input has the wrong type.
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequestError(
            f"prompt {i} is not valid Unicode text ({exc.reason} at character {exc.start}); "
            "decode it with errors='replace'"
        ) from exc


def _encode_batch(tokenizer: Tokenizer, prompts: list[str]) -> list:
    try:
        return tokenizer.encode_batch(prompts)
    except Exception as exc:  # check_prompts catches what we know of; tokenizers' are untyped
        raise InvalidRequestError(f"a prompt cannot be tokenized: {exc}") from exc


def tokenize(tokenizer: Tokenizer, prompts: list[str]) -> TokenBatch:
    """Word-piece ids and mask for checked prompts (`check_prompts`), cut and padded to
    MAX_TOKENS."""
    encodings = _encode_batch(tokenizer, prompts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=bool)
    truncated = np.array([bool(e.overflowing) for e in encodings], dtype=bool)
    return TokenBatch(ids, mask, truncated)


def read_spec(path: str | os.PathLike[str]) -> TextEncoderSpec:
    """Read `text_encoder.json`; a missing or malformed file is a BundleError."""
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read text encoder config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise BundleError(f"text encoder config {path} is not a JSON object")
    return TextEncoderSpec.from_config(config)


class TextEncoder:
    """Prompts -> (embeddings (B, MAX_TOKENS, 384) float32, mask (B, MAX_TOKENS) bool), on
    onnxruntime."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        tokenizer_path: str | os.PathLike[str],
        threads: int | None = None,
    ) -> None:
        self._tokenizer = load_tokenizer(tokenizer_path)
        self._session = create_session(model_path, threads)

    @classmethod
    def from_folder(
        cls, folder: str | os.PathLike[str], quantized: bool = True, threads: int | None = None
    ) -> TextEncoder:
        """Open the files `export_text_encoder` wrote into `folder` (int8 graph by default)."""
        folder = Path(folder)
        read_spec(folder / CONFIG_FILE)  # refuses a bundle made for another prefix shape
        model = folder / (QUANTIZED_FILE if quantized else MODEL_FILE)
        return cls(model, folder / TOKENIZER_FILE, threads)

    def tokenize(self, prompts: list[str]) -> TokenBatch:
        """The word pieces `encode` would use, with which prompts were cut to MAX_TOKENS tokens."""
        return tokenize(self._tokenizer, check_prompts(prompts))

    def encode(self, prompts: list[str]) -> TextPrefix:
        """Token embeddings of each prompt, padded to MAX_TOKENS positions (zeros where the mask
        is False)."""
        batch = self.tokenize(prompts)
        parts = [
            self._run(batch.ids[i : i + _CHUNK], batch.mask[i : i + _CHUNK])
            for i in range(0, len(batch.ids), _CHUNK)
        ]
        return TextPrefix(np.concatenate(parts), batch.mask)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (hidden,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask.astype(np.int64)}
        )
        # BERT computes outputs at [PAD] too; zero them so no caller can use them by mistake.
        return np.where(mask[..., None], hidden, 0.0).astype(np.float32)
