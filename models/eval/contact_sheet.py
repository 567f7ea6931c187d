"""The README's picture: what a bundle makes of held-out prompts and of the real sample clip.

    python -m reelpoet.models.eval.contact_sheet --out docs/images/contact_sheet.png [--bundle B]

Rows 1..N: text-to-video from held-out wordings (`heldout_caption`, single-object scenes, seeds
from 0: never trained on), the 17 generated frames left to right, the prompt above them. Last
row: the packaged Big Buck Bunny second (last 8 frames) and the frames `extend` adds after it.
Everything runs through `Client.local`, the path a user takes: these are the bundle's outputs
as shipped (int8 LM included), not the training checkpoint's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from reelpoet.models.eval.lm_eval import SINGLE_OBJECT
from reelpoet.models.world import make_sample
from reelpoet.models.world.heldout_captions import heldout_caption
from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.cli import SAMPLE_CLIP
from reelpoet.sdk.client import Client
from reelpoet.sdk.media import read_video

CELL = 64  # the model's frame size; sheets show frames at it, scaled up by --scale
LABEL_HEIGHT = 14
INPUT_FRAMES = 8  # of the sample clip, before its extension


def _row(frames: np.ndarray, label: str, scale: int) -> Image.Image:
    strip = np.concatenate(list(frames), axis=1)  # (H, T*W, 3) uint8
    image = Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale))
    row = Image.new("RGB", (image.width, image.height + LABEL_HEIGHT), "white")
    row.paste(image, (0, LABEL_HEIGHT))
    ImageDraw.Draw(row).text((2, 1), label, fill="black")
    return row


def contact_sheet(client: Client, prompts: int, scale: int) -> Image.Image:
    rows = []
    for seed in range(prompts):
        caption = heldout_caption(make_sample(seed, SINGLE_OBJECT).truth, seed)
        frames = client.text_to_video(caption, seconds=2.125, seed=seed).frames
        rows.append(_row(frames, caption, scale))
    # Read at the model's rate and size: the extension comes back conformed to its source.
    sample = read_video(SAMPLE_CLIP, fps=8, size=(CELL, CELL), fit="stretch")
    extension = client.extend(sample, seconds=2.125, seed=0).frames
    frames = np.concatenate([sample.frames[-INPUT_FRAMES:], extension])
    label = f"a real clip (its last {INPUT_FRAMES} frames), then what extend adds"
    rows.append(_row(frames, label, scale))
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    top = 0
    for r in rows:
        sheet.paste(r, (0, top))
        top += r.height
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, help="default: the embedded bundle")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sheet = contact_sheet(Client.local(args.bundle, threads=args.threads), args.prompts, args.scale)
    with atomic_output(args.out) as temp:
        sheet.save(temp, format="PNG")
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
