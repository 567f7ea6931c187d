"""Held-out prompt wordings: the facts of a training caption in words training never uses.

`heldout_caption(truth, seed)` states every object's colour, shape, size (sometimes) and motion,
the background and the camera move, like `caption.write_caption`, but with other synonyms
("crimson orb" for "red circle", "heads northeast" for "moves up and to the right", "the lens
swings westward" for "the camera pans left"), other sentence orders (the camera first or right
after the objects, the background always last, objects joined by semicolons) and a camera move
that is always stated. Held-out words take more word pieces: one object's caption fits the
text encoder's 48 positions (at most 38 over 300 seeds), three objects' mostly do not and lose
the background, rarely more (the camera in 8 of 300). A video LM that
learned the training captions by rote misreads these; one whose pretrained text encoder carries
the meaning does not. `tests/test_heldout_captions.py` checks that no phrase here occurs in
thousands of training captions and that each phrase carries a word training never uses.

The camera words follow the training captions' meaning: a pan *left* turns the camera left (the
picture slides right on screen); motions are in the world, relative to the background.
"""

from __future__ import annotations

import numpy as np

from reelpoet.models.world.scene import generator
from reelpoet.models.world.truth import BackgroundTruth, ObjectTruth, SceneTruth

_HELDOUT_STREAM = 3  # generator streams 0-2 draw the scene, soundtrack and training caption

# Each works before a shape and after "in" ("an orb in crimson").
COLOURS: dict[str, tuple[str, ...]] = {
    "red": ("crimson", "scarlet"),
    "green": ("emerald", "jade"),
    "blue": ("cobalt", "sapphire"),
    "yellow": ("lemon", "canary"),
    "white": ("ivory", "alabaster"),
    "black": ("ebony", "onyx"),
    "orange": ("tangerine", "mandarin"),
    "purple": ("violet", "amethyst"),
}
SHAPES: dict[str, tuple[str, ...]] = {
    "circle": ("orb", "round shape"),
    "square": ("tile", "four-cornered shape"),
    "triangle": ("wedge", "three-sided shape"),
    "star": ("five-pointed shape", "pentagram"),
}
SIZES: dict[str, tuple[str, ...]] = {
    "small": ("tiny", "little"),
    "medium": ("mid-sized", "average-sized"),
    "large": ("big", "sizeable"),
}
# Compass words for screen directions (north is up), so no direction word of training shows.
DIRECTIONS: dict[str, tuple[str, ...]] = {
    "left": ("westward", "toward the west edge"),
    "right": ("eastward", "toward the east edge"),
    "up": ("northward", "skyward"),
    "down": ("southward", "earthward"),
    "up_left": ("northwest", "toward the northwest corner"),
    "up_right": ("northeast", "toward the northeast corner"),
    "down_left": ("southwest", "toward the southwest corner"),
    "down_right": ("southeast", "toward the southeast corner"),
}
MOVE_VERBS: tuple[tuple[str, str], ...] = (
    ("heads", "heading"),
    ("coasts", "coasting"),
    ("cruises", "cruising"),
    ("sails", "sailing"),
)
STILL: tuple[tuple[str, str], ...] = (
    ("remains motionless", "remaining motionless"),
    ("keeps its position", "keeping its position"),
    ("is stationary", "stationary"),
)
# By axis, as the training captions say it: a bounce's first direction is not stated.
BOUNCES: dict[str, tuple[tuple[str, str], ...]] = {
    "horizontal": (
        ("rebounds between the east and west walls", "rebounding between the east and west walls"),
        ("ping-pongs horizontally", "ping-ponging horizontally"),
    ),
    "vertical": (
        ("rebounds between floor and ceiling", "rebounding between floor and ceiling"),
        ("ping-pongs vertically", "ping-ponging vertically"),
    ),
    "diagonal": (
        ("caroms off the borders", "caroming off the borders"),
        ("rebounds off all four walls", "rebounding off all four walls"),
    ),
}
ENTER_VERBS: tuple[tuple[str, str], ...] = (
    ("arrives", "arriving"),
    ("slips in", "slipping in"),
    ("emerges", "emerging"),
)
ENTER_SIDES: dict[str, tuple[str, ...]] = {
    "left": ("from the west", "from the west edge"),
    "right": ("from the east", "from the east edge"),
    "top": ("from the north", "from overhead"),
    "bottom": ("from the south", "from underneath"),
}
LEAVE_VERBS: tuple[tuple[str, str], ...] = (
    ("departs", "departing"),
    ("vanishes", "vanishing"),
    ("heads out", "heading out"),
)
LEAVE_SIDES: dict[str, tuple[str, ...]] = {
    "left": ("to the west", "past the west edge"),
    "right": ("to the east", "past the east edge"),
    "top": ("to the north", "past the upper border"),
    "bottom": ("to the south", "past the lower border"),
}
CAMERA: dict[str, tuple[tuple[str, str], ...]] = {
    "static": (
        ("the framing is locked off", "locked off"),
        ("the lens never budges", "unmoving"),
    ),
    "pan_left": (
        ("the lens swings westward", "swinging westward"),
        ("the viewpoint sweeps west", "sweeping west"),
    ),
    "pan_right": (
        ("the lens swings eastward", "swinging eastward"),
        ("the viewpoint sweeps east", "sweeping east"),
    ),
    "pan_up": (
        ("the lens swings skyward", "swinging skyward"),
        ("the viewpoint sweeps north", "sweeping north"),
    ),
    "pan_down": (
        ("the lens swings earthward", "swinging earthward"),
        ("the viewpoint sweeps south", "sweeping south"),
    ),
    "zoom_in": (
        ("the lens magnifies the scene", "magnifying the scene"),
        ("the framing tightens", "tightening the framing"),
    ),
    "zoom_out": (
        ("the framing widens", "widening the framing"),
        ("the lens draws away from the scene", "drawing away from the scene"),
    ),
}
TONES: dict[str, str] = {
    "grey": "ashen",
    "slate": "pewter",
    "teal": "dark cyan",
    "olive": "khaki",
    "maroon": "burgundy",
    "beige": "cream",
    "sand": "tan",
    "navy": "midnight",
    "pine": "forest",
    "lavender": "lilac",
    "pink": "rose",
    "charcoal": "graphite",
}
# A fixed word after each article, so "a"/"an" never depends on the tone's name.
BACKGROUNDS: dict[str, tuple[str, ...]] = {
    "plain": ("a uniform {a} surface", "an even {a} field"),
    "gradient": ("a wash of {a} fading into {b}", "a blend of {a} into {b}"),
    "stripes": ("bands of {a} and {b}", "a banded {a} and {b} surface"),
    "checker": ("a chequered {a} and {b} grid", "a chessboard of {a} and {b}"),
    "noise": ("a speckled {a} and {b} surface", "a cloudy {a} and {b} surface"),
}
PHOTO_NOUNS: tuple[str, ...] = ("an image showing", "a snapshot of")
PHOTOS: dict[str, tuple[str, ...]] = {
    "astronaut": ("a spacewoman", "a crew member in uniform"),
    "chelsea": ("a tabby", "a feline"),
    "coffee": ("an espresso", "a latte"),
    "rocket": ("a spacecraft lifting off", "a booster taking off"),
    "hubble": ("distant galaxies", "remote galaxies"),
    "brick": ("masonry", "stacked bricks"),
    "grass": ("a lawn", "turf"),
    "gravel": ("pebbles", "loose stones"),
}
_PREPOSITIONS = ("atop", "across", "upon")


def heldout_caption(truth: SceneTruth, seed: int) -> str:
    """A held-out wording of the clip's facts; the same truth and seed give the same text."""
    rng = generator(seed, _HELDOUT_STREAM)
    template = int(rng.integers(3))
    gerund = template == 1
    objects = [_object_phrase(o, rng, gerund) for o in truth.objects]
    camera = _pick(rng, CAMERA[truth.camera.move])
    background = _background_phrase(truth.background, rng)
    preposition = _pick(rng, _PREPOSITIONS)
    # Camera and objects first in every order: the text encoder keeps 46 word pieces, and the
    # rarer held-out words take more pieces than training's, so a long caption loses its end.
    if template == 0:
        text = "; ".join([camera[0], *objects])
        return _capitalise(f"{text}, all {preposition} {background}.")
    if template == 1:
        things = f", {_join(objects)}" if objects else ""
        return _capitalise(f"with the lens {camera[1]}{things}, {preposition} {background}.")
    things = f"{'; '.join(objects)}. Meanwhile, " if objects else ""
    return _capitalise(f"{things}{camera[0]}. Setting: {background}.")


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _object_phrase(o: ObjectTruth, rng: np.random.Generator, gerund: bool) -> str:
    colour, shape = _pick(rng, COLOURS[o.colour]), _pick(rng, SHAPES[o.shape])
    size = f"{_pick(rng, SIZES[o.size])} " if rng.random() < 0.4 else ""
    # The colour after the shape half of the time: an order no training caption has.
    noun = f"{size}{shape} in {colour}" if rng.random() < 0.5 else f"{size}{colour} {shape}"
    return f"{_article(noun)} {noun} {_motion_phrase(o, rng, gerund)}"


def _motion_phrase(o: ObjectTruth, rng: np.random.Generator, gerund: bool) -> str:
    form = 1 if gerund else 0
    if o.motion == "still":
        return _pick(rng, STILL)[form]
    if o.motion == "move":
        return f"{_pick(rng, MOVE_VERBS)[form]} {_pick(rng, DIRECTIONS[o.direction])}"
    if o.motion == "bounce":
        return _pick(rng, BOUNCES[bounce_axis(o.direction)])[form]
    entering = o.motion == "enter"
    verb = _pick(rng, ENTER_VERBS if entering else LEAVE_VERBS)[form]
    return f"{verb} {_pick(rng, (ENTER_SIDES if entering else LEAVE_SIDES)[o.side])}"


def bounce_axis(direction: str) -> str:
    """horizontal, vertical or diagonal: what a bounce's caption says of its direction."""
    if "_" in direction:
        return "diagonal"
    return "horizontal" if direction in ("left", "right") else "vertical"


def _background_phrase(bg: BackgroundTruth, rng: np.random.Generator) -> str:
    if bg.kind == "photo":
        return f"{_pick(rng, PHOTO_NOUNS)} {_pick(rng, PHOTOS[bg.photo])}"
    tones = dict(zip("ab", (TONES[name] for name in bg.colours), strict=False))
    return _pick(rng, BACKGROUNDS[bg.pattern or bg.kind]).format(**tones)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
