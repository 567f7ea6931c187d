"""Synthetic graphics for the video tokenizer: colour bars, flat shapes, gradients and changing
text (timecodes, counters, titles) in colours drawn from the whole RGB cube.

Why: the procedural world uses eight object colours and muted backgrounds, and the photographs
are natural scenes, so a tokenizer trained on them alone never sees saturated cyan or magenta,
hard vertical edges or small text, and mangles what editors meet daily: test cards, titles,
lower thirds and burnt-in timecode (measured: SMPTE bars came back as green and red blobs at
11.5 dB while world clips reached 20.6 dB). Each clip is a pure function of its generator.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Full-saturation primaries and secondaries, white and black: what test cards are made of.
_PURE = np.array(
    [[v >> 2 & 1, v >> 1 & 1, v & 1] for v in range(8)], dtype=np.float32
) * np.float32(0.92) + np.float32(0.04)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    rgb = _PURE[rng.integers(8)] if rng.uniform() < 0.5 else rng.uniform(0, 1, 3)
    return tuple(round(float(c) * 255) for c in rgb)


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    kind = rng.integers(3)
    image = Image.new("RGB", (size, size), _colour(rng))
    draw = ImageDraw.Draw(image)
    if kind == 0:  # bars, vertical or horizontal, of random widths
        edges = np.sort(rng.integers(0, size, int(rng.integers(3, 9))))
        vertical = rng.uniform() < 0.7
        for a, b in zip(np.r_[0, edges], np.r_[edges, size], strict=True):
            box = (a, 0, b, size) if vertical else (0, a, size, b)
            draw.rectangle(box, fill=_colour(rng))
    elif kind == 1:  # a linear gradient between two colours
        a, b = np.array(_colour(rng), float), np.array(_colour(rng), float)
        ramp = np.linspace(0, 1, size)[:, None] * (b - a) + a
        pixels = np.broadcast_to(
            ramp[:, None] if rng.uniform() < 0.5 else ramp[None], (size, size, 3)
        )
        image = Image.fromarray(pixels.round().astype(np.uint8))
    return image


def _shapes(rng: np.random.Generator, size: int) -> list[tuple[str, tuple, tuple]]:
    shapes = []
    for _ in range(int(rng.integers(0, 4))):
        x0, y0 = rng.integers(-size // 4, size, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        kind = "ellipse" if rng.uniform() < 0.3 else "rectangle"
        shapes.append((kind, (int(x0), int(y0), int(x0 + w), int(y0 + h)), _colour(rng)))
    return shapes


def _text(rng: np.random.Generator, frame: int, start: int) -> str:
    style = rng.integers(3)
    if style == 0:  # a running timecode
        f = start + frame
        return f"00:{f // 1440 % 60:02d}:{f // 24 % 60:02d};{f % 24:02d}"
    if style == 1:  # a counter with decimals
        return f"{(start + frame) * 7.5:.3f}"
    return "".join(rng.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "), 8))


def graphics_clip(rng: np.random.Generator, size: int, num_frames: int) -> np.ndarray:
    """(T, size, size, 3) uint8: a graphics card whose text changes and whose layers drift."""
    background = _background(rng, size)
    shapes = _shapes(rng, size)
    font = ImageFont.load_default(size=float(rng.integers(7, 15)))
    text_rng_seed = int(rng.integers(2**31))
    text_start = int(rng.integers(0, 100000))
    text_at = rng.integers(0, size - 8, 2)
    text_colour, box_colour = _colour(rng), _colour(rng)
    boxed = rng.uniform() < 0.5
    velocity = rng.uniform(-1.5, 1.5, 2) * (rng.uniform() < 0.5)  # half still, half drifting
    frames = []
    for t in range(num_frames):
        image = background.copy()
        draw = ImageDraw.Draw(image)
        dx, dy = (velocity * t).round().astype(int)
        for kind, (x0, y0, x1, y1), colour in shapes:
            getattr(draw, kind)((x0 + dx, y0 + dy, x1 + dx, y1 + dy), fill=colour)
        text = _text(np.random.default_rng(text_rng_seed), t, text_start)
        x, y = int(text_at[0]), int(text_at[1])
        if boxed:
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=box_colour)
        draw.text((x, y), text, fill=text_colour, font=font)
        frames.append(np.asarray(image))
    return np.stack(frames)
