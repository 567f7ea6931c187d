"""The LM's pre-tokenized training cache: world clips through the trained tokenizers, once.

    python -m reelpoet.models.train.lm_cache --out runs/lm_cache/train --clips 16000 \
        --pairs 4000 --video-checkpoint runs/shipped/video_tokenizer \
        --audio-checkpoint runs/shipped/audio_tokenizer --part 0/2
    python -m reelpoet.models.train.lm_cache --out runs/lm_cache/heldout --clips 512 \
        --pairs 128 --held-out ...

Tokenizing is the expensive part of LM data (four video encodes a clip), so it happens here and
training only reads integers. Two record kinds, in shards of `SHARD` records:

- `clips_*.npz`: a 17-frame world clip. Its codes, its soundtrack's codes, and the codes of the
  task inputs made from it: the clip with a rectangle blanked (inpainting), with margins blanked
  (outpainting), its luma (the structure video of stylization). Text-to-image and image-to-video
  need no encode of their own: the causal tokenizer codes frame 0 alone, so an image's codes are
  the clip's first latent frame.
- `pairs_*.npz`: a 34-frame world clip cut in two 17-frame clips (continuation: the first in,
  the second out).

The tokenizers are the frozen copies the bundle ships (`runs/shipped/`): an LM is tied to the
exact tokenizers its cache was built with, so training runs that go on must not move under it.
Every record also holds its caption's text-encoder embeddings (float16) and mask. Seeds come
from disjoint ranges: training from `FIRST_TRAINING_SEED` up, held-out sets from 0 up.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from reelpoet.models.text_encoder import encode_prompts, load_text_encoder
from reelpoet.models.tokenizer_layout import layout_for
from reelpoet.models.train.tokenizer_clips import FIRST_TRAINING_SEED
from reelpoet.models.trained import load_audio_tokenizer, load_video_tokenizer
from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.sdk.task_inputs import (
    blank_inside,
    blank_outside,
    inpaint_box,
    luma,
    outpaint_box,
)
from reelpoet.sdk.token_layout import TokenLayout

SHARD = 256
LAYOUT_FILE = "layout.json"  # the token layout of the tokenizers the cache was built with
# Second stream of a seed's generator: the masks must not change when the world does.
_MASK_STREAM = 7


class Tokenizers:
    """The trained video and audio tokenizers and the text encoder, in eval mode."""

    def __init__(
        self, video_checkpoint: Path, audio_checkpoint: Path, text_encoder: str = "minilm"
    ) -> None:
        self.video = load_video_tokenizer(video_checkpoint)
        self.audio = load_audio_tokenizer(audio_checkpoint)
        self.text = _text_encoder(text_encoder)
        self.layout = layout_for(self.video, self.audio)
        self.image_size = self.video.cfg.image_size

    @torch.no_grad()
    def video_codes(self, clips: np.ndarray) -> np.ndarray:
        """(N, T, H, W, 3) float in [0, 1] -> (N, tokens) codes, raster order t, y, x."""
        pixels = torch.from_numpy(np.ascontiguousarray(clips)).permute(0, 1, 4, 2, 3).float()
        codes = torch.cat([self.video.encode(chunk) for chunk in pixels.split(16)])
        return codes.flatten(1).numpy().astype(codes_dtype(self.layout.video_codes))

    @torch.no_grad()
    def audio_codes(self, audio: np.ndarray) -> np.ndarray:
        """(N, samples) -> (N, frames * levels) codes, frame-major interleaved."""
        codes = self.audio.encode(torch.from_numpy(audio).float())  # (N, T, K)
        return codes.flatten(1).numpy().astype(codes_dtype(self.layout.audio_codes))

    def text_embeddings(self, captions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        embeddings, mask = self.text(captions)
        return np.asarray(embeddings).astype(np.float16), np.asarray(mask)


def _text_encoder(source: str):
    """captions -> (embeddings, mask). "minilm": the pinned MiniLM in torch (the package's
    88 MB of weights); "bundle": the default bundle's int8 ONNX graph, exactly what the runtime
    feeds the LM (and small enough to travel to a lent GPU machine with the repo)."""
    if source == "minilm":
        model = load_text_encoder()
        return lambda captions: tuple(t.numpy() for t in encode_prompts(model, captions))
    if source == "bundle":
        from reelpoet.sdk.bundle import load_bundle
        from reelpoet.sdk.text_encoder import TextEncoder, TextEncoderSpec

        bundle = load_bundle(None)
        entry = bundle.model("text_encoder")
        TextEncoderSpec.from_config(entry.config)  # refuses a graph made for another prefix
        encoder = TextEncoder(bundle.file(entry.file), bundle.file(entry.config["tokenizer"]))
        return lambda captions: tuple(encoder.encode(captions))
    raise ValueError(f"text encoder must be 'minilm' or 'bundle', not {source!r}")


def clip_records(tokenizers: Tokenizers, seeds: list[int], world: WorldConfig) -> dict:
    samples = [make_sample(s, world) for s in seeds]
    frames = np.stack([s.frames for s in samples]).astype(np.float32) / 255
    mask_rngs = [np.random.default_rng([s, _MASK_STREAM]) for s in seeds]
    inpaint = [inpaint_box(r, world.width) for r in mask_rngs]
    outpaint = [outpaint_box(r, world.width) for r in mask_rngs]
    captions = [s.caption for s in samples]
    text, text_mask = tokenizers.text_embeddings(captions)
    return {
        "seed": np.array(seeds, dtype=np.int64),
        "caption": np.array(captions),
        "truth": np.array([json.dumps(s.truth.to_dict()) for s in samples]),
        "text": text,
        "text_mask": text_mask,
        "video": tokenizers.video_codes(frames),
        "audio": tokenizers.audio_codes(np.stack([s.audio for s in samples])),
        "inpaint_in": tokenizers.video_codes(
            np.stack([blank_inside(f, b) for f, b in zip(frames, inpaint, strict=True)])
        ),
        "inpaint_box": np.stack([b.as_array() for b in inpaint]),
        "outpaint_in": tokenizers.video_codes(
            np.stack([blank_outside(f, b) for f, b in zip(frames, outpaint, strict=True)])
        ),
        "outpaint_box": np.stack([b.as_array() for b in outpaint]),
        "structure_in": tokenizers.video_codes(np.stack([luma(f) for f in frames])),
    }


def pair_records(tokenizers: Tokenizers, seeds: list[int], world: WorldConfig) -> dict:
    n = world.num_frames
    long_world = WorldConfig(width=world.width, height=world.height, num_frames=2 * n)
    samples = [make_sample(s, long_world) for s in seeds]
    frames = np.stack([s.frames for s in samples]).astype(np.float32) / 255
    captions = [s.caption for s in samples]
    text, text_mask = tokenizers.text_embeddings(captions)
    return {
        "seed": np.array(seeds, dtype=np.int64),
        "caption": np.array(captions),
        "text": text,
        "text_mask": text_mask,
        "video": tokenizers.video_codes(frames[:, :n]),
        "next_video": tokenizers.video_codes(frames[:, n:]),
    }


def codes_dtype(count: int) -> type:
    """The smallest integer type for codes 0..count-1: int16 for the default tokenizers (2^12
    video codes), int32 for the base one (2^18)."""
    return np.int16 if count <= 2**15 else np.int32


def cache_layout(folder: Path) -> TokenLayout:
    """The token layout a cache's codes belong to; caches from before `layout.json` were all
    built with the default tokenizers."""
    path = Path(folder) / LAYOUT_FILE
    return TokenLayout.from_dict(json.loads(path.read_text())) if path.exists() else TokenLayout()


def _record_layout(out: Path, layout: TokenLayout) -> None:
    """Write the layout, or check it against the one already there: one cache, one pair of
    tokenizers (shards coded by different tokenizers would be silently wrong data)."""
    path = out / LAYOUT_FILE
    if path.exists():
        if TokenLayout.from_dict(json.loads(path.read_text())) != layout:
            raise ValueError(
                f"{out} was built with tokenizers of another token layout; build into a new folder"
            )
        return
    path.write_text(json.dumps(layout.to_dict(), indent=1))


def _write_shard(path: Path, records: dict) -> None:
    temp = path.with_name(path.name + ".partial.npz")
    np.savez(temp, **records)
    os.replace(temp, path)  # a shard is there whole or not at all: an interrupted build resumes


def build(
    out: Path,
    tokenizers: Tokenizers,
    clips: int,
    pairs: int,
    first_seed: int,
    part: tuple[int, int] = (0, 1),
    log=print,
) -> None:
    """Write the shards that are missing (a rerun continues an interrupted build).

    `part` (i, n) builds every n-th shard from the i-th, so n processes share one build.
    """
    out.mkdir(parents=True, exist_ok=True)
    world = WorldConfig()
    if tokenizers is not None:
        _record_layout(out, tokenizers.layout)
        # World clips at the tokenizer's size: 64x64 for the default, 128x128 for the base.
        world = WorldConfig(width=tokenizers.image_size, height=tokenizers.image_size)
    # Pair seeds follow the clip seeds, so the two kinds never share a scene.
    plan = [
        ("clips", clip_records, first_seed, clips),
        ("pairs", pair_records, first_seed + clips, pairs),
    ]
    paths = []
    for kind, make, seed0, count in plan:
        for index, start in enumerate(range(0, count, SHARD)):
            path = out / f"{kind}_{index:05d}.npz"
            paths.append(path)
            if path.exists() or (len(paths) - 1) % part[1] != part[0]:
                continue
            seeds = list(range(seed0 + start, seed0 + min(count, start + SHARD)))
            _write_shard(path, make(tokenizers, seeds, world))
            log(f"{path.name}: {len(seeds)} records")
    if all(path.exists() for path in paths):  # the last part to finish describes the whole
        info = {"clips": clips, "pairs": pairs, "first_seed": first_seed, "shard": SHARD}
        (out / "cache.json").write_text(json.dumps(info, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=16000)
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--held-out", action="store_true", help="seeds from 0 (never trained on)")
    parser.add_argument("--video-checkpoint", type=Path, default="runs/shipped/video_tokenizer")
    parser.add_argument("--audio-checkpoint", type=Path, default="runs/shipped/audio_tokenizer")
    parser.add_argument(
        "--part", default="0/1", help="I/N: build every N-th shard from the I-th (N processes)"
    )
    parser.add_argument(
        "--text-encoder",
        choices=("minilm", "bundle"),
        default="minilm",
        help="caption embeddings from the torch MiniLM (default) or the bundle's int8 graph",
    )
    args = parser.parse_args()
    index, count = (int(n) for n in args.part.split("/"))
    if not 0 <= index < count:
        parser.error(f"--part {args.part}: want I/N with 0 <= I < N")
    first_seed = 0 if args.held_out else FIRST_TRAINING_SEED
    tokenizers = Tokenizers(args.video_checkpoint, args.audio_checkpoint, args.text_encoder)
    build(args.out, tokenizers, args.clips, args.pairs, first_seed, part=(index, count))


if __name__ == "__main__":
    main()
