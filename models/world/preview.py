"""Contact sheet, soundtracks and truth of a few world samples, for a person to look at.

    python -m reelpoet.models.world.preview --count 16 --out DIR [--seed 0] [--size 64]

writes DIR/contact_sheet.png (one row of frames per sample, its caption underneath),
DIR/soundtracks.wav (the samples' audio one after another, short silences between) and
DIR/samples.json (seed, caption and truth of each sample). Every file is written to a temporary
name and moved into place, so an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from reelpoet.models.world.config import WorldConfig
from reelpoet.models.world.sample import WorldSample, make_sample
from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import write_wav

_SCALE = 2  # nearest-neighbour upscaling: 64-pixel frames are too small to judge on screen
_GAP = 4  # pixels between frames and around rows
_FONT_SIZE = 14
_SILENCE_SECONDS = 0.3


def contact_sheet(samples: Sequence[WorldSample]) -> Image.Image:
    """One row per sample: its frames left to right, the seed and caption below them."""
    t, h, w, _ = samples[0].frames.shape
    font = ImageFont.load_default(size=_FONT_SIZE)
    row_width = t * (w * _SCALE + _GAP) + _GAP
    chars = max(20, row_width // (_FONT_SIZE * 6 // 10))  # rough glyph width of the font
    captions = [textwrap.wrap(f"[{s.seed}] {s.caption}", chars) for s in samples]
    line_height = _FONT_SIZE + 4
    heights = [h * _SCALE + 2 * _GAP + len(lines) * line_height + _GAP for lines in captions]
    sheet = Image.new("RGB", (row_width, sum(heights)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    top = 0
    for sample, lines, height in zip(samples, captions, heights, strict=True):
        _paste_frames(sheet, sample.frames, top + _GAP)
        text_top = top + h * _SCALE + 2 * _GAP
        for i, line in enumerate(lines):
            draw.text((_GAP, text_top + i * line_height), line, fill=(235, 235, 235), font=font)
        top += height
    return sheet


def _paste_frames(sheet: Image.Image, frames: np.ndarray, top: int) -> None:
    _, h, w, _ = frames.shape
    for k, frame in enumerate(frames):
        image = Image.fromarray(frame).resize((w * _SCALE, h * _SCALE), Image.Resampling.NEAREST)
        sheet.paste(image, (_GAP + k * (w * _SCALE + _GAP), top))


def soundtrack_reel(samples: Sequence[WorldSample], sample_rate: int) -> np.ndarray:
    """All soundtracks in order as float32 (N,), each followed by a short silence."""
    silence = np.zeros(round(_SILENCE_SECONDS * sample_rate), np.float32)
    return np.concatenate([piece for s in samples for piece in (s.audio, silence)])


def write_outputs(samples: Sequence[WorldSample], config: WorldConfig, out: Path) -> None:
    """Each file goes to a temp name and is renamed into place (reelpoet.sdk.atomic_file)."""
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / "contact_sheet.png") as temp:
        contact_sheet(samples).save(temp, format="PNG")
    write_wav(
        out / "soundtracks.wav", soundtrack_reel(samples, config.sample_rate), config.sample_rate
    )
    records = [{"seed": s.seed, "caption": s.caption, "truth": s.truth.to_dict()} for s in samples]
    with atomic_output(out / "samples.json") as temp:
        temp.write_text(json.dumps(records, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=16, help="number of samples (rows)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample")
    parser.add_argument("--size", type=int, default=64, help="frame width and height")
    parser.add_argument("--frames", type=int, default=17, help="frames per clip")
    args = parser.parse_args(argv)
    try:
        if args.count < 1:
            raise InvalidRequestError(f"--count must be at least 1, got {args.count}")
        config = WorldConfig(width=args.size, height=args.size, num_frames=args.frames)
        start = time.perf_counter()
        samples = [make_sample(args.seed + i, config) for i in range(args.count)]
        made = time.perf_counter() - start
        write_outputs(samples, config, args.out)
    except InvalidRequestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = time.perf_counter() - start
    print(
        f"{args.count} samples in {made:.2f} s ({1000 * made / args.count:.1f} ms each), "
        f"{total:.2f} s with the files, written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
