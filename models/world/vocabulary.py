"""The closed sets the world draws from: shapes, colours, motions, directions, camera moves.

These names are the canonical facts stored in the ground truth; captions reword them, evaluators
compare against them. Screen coordinates: x to the right, y down (row index), so "up" is -y.
"""

from __future__ import annotations

import math

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")

# Saturated, well-separated RGB so a colour can be told from pixels: the closest pair
# (yellow/orange) is about 100 apart in RGB, every other pair more.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (40, 175, 60),
    "blue": (30, 70, 225),
    "yellow": (250, 230, 30),
    "white": (250, 250, 250),
    "black": (12, 12, 12),
    "orange": (250, 130, 0),
    "purple": (135, 40, 185),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

# Muted background tones, named so they never contain an object colour's word.
BACKGROUND_COLOURS: dict[str, tuple[int, int, int]] = {
    "grey": (128, 128, 128),
    "slate": (90, 105, 125),
    "teal": (30, 120, 120),
    "olive": (120, 120, 50),
    "maroon": (110, 35, 45),
    "beige": (215, 200, 165),
    "sand": (190, 165, 120),
    "navy": (25, 35, 85),
    "pine": (30, 80, 55),
    "lavender": (180, 170, 210),
    "pink": (230, 170, 180),
    "charcoal": (55, 55, 60),
}

MOTIONS: tuple[str, ...] = ("still", "move", "bounce", "enter", "leave")

_D = 1.0 / math.sqrt(2.0)
# Unit vectors in screen coordinates (y down).
DIRECTIONS: dict[str, tuple[float, float]] = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up_left": (-_D, -_D),
    "up_right": (_D, -_D),
    "down_left": (-_D, _D),
    "down_right": (_D, _D),
}
DIRECTION_NAMES: tuple[str, ...] = tuple(DIRECTIONS)

# The side an entering object comes from / a leaving object goes to.
SIDES: tuple[str, ...] = ("left", "right", "top", "bottom")
SIDE_INWARD: dict[str, str] = {"left": "right", "right": "left", "top": "down", "bottom": "up"}
SIDE_OUTWARD: dict[str, str] = {"left": "left", "right": "right", "top": "up", "bottom": "down"}

CAMERA_MOVES: tuple[str, ...] = (
    "static",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
    "zoom_in",
    "zoom_out",
)

BACKGROUND_KINDS: tuple[str, ...] = ("plain", "gradient", "texture", "photo")
TEXTURE_PATTERNS: tuple[str, ...] = ("stripes", "checker", "noise")

# Object radius as a fraction of min(width, height): about 6, 8 and 10 pixels at 64x64.
# Every shape fits inside the circle of that radius.
SIZES: dict[str, float] = {"small": 0.09, "medium": 0.12, "large": 0.16}
SIZE_NAMES: tuple[str, ...] = tuple(SIZES)
