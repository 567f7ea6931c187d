"""Captions from the ground truth: several sentence templates and synonyms, chosen by seed.

Every caption names each object's colour and shape (a word from SHAPE_WORDS), its motion, the
background kind and the camera move; `canonical_facts` states the same facts in fixed words.
"""

from __future__ import annotations

import numpy as np

from reelpoet.models.world.photos import PHOTOS
from reelpoet.models.world.truth import BackgroundTruth, ObjectTruth, SceneTruth

SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "ball", "disc", "dot"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle",),
    "star": ("star",),
}
_DIRECTION_WORDS = {
    "left": ("to the left", "leftward", "left"),
    "right": ("to the right", "rightward", "right"),
    "up": ("up", "upward", "toward the top"),
    "down": ("down", "downward", "toward the bottom"),
    "up_left": ("up and to the left", "toward the top left", "diagonally up and left"),
    "up_right": ("up and to the right", "toward the top right", "diagonally up and right"),
    "down_left": ("down and to the left", "toward the bottom left", "diagonally down and left"),
    "down_right": ("down and to the right", "toward the bottom right", "diagonally down and right"),
}
_MOVE_VERBS = (
    ("moves", "moving"),
    ("drifts", "drifting"),
    ("slides", "sliding"),
    ("glides", "gliding"),
    ("travels", "travelling"),
)
_STILL = (
    ("stays still", "staying still"),
    ("sits still", "sitting still"),
    ("rests in place", "resting in place"),
    ("does not move", "not moving"),
)
_BOUNCE = {
    "horizontal": (
        ("bounces left and right", "bouncing left and right"),
        ("bounces back and forth", "bouncing back and forth"),
        ("bounces from side to side", "bouncing from side to side"),
    ),
    "vertical": (
        ("bounces up and down", "bouncing up and down"),
        ("bounces up and down between the edges", "bouncing up and down between the edges"),
    ),
    "diagonal": (
        ("bounces around", "bouncing around"),
        ("bounces off the edges", "bouncing off the edges"),
        ("ricochets around the frame", "ricocheting around the frame"),
    ),
}
_ENTER_PHRASES = {
    "left": ("from the left", "from the left side"),
    "right": ("from the right", "from the right side"),
    "top": ("from the top", "from above"),
    "bottom": ("from the bottom", "from below"),
}
_LEAVE_PHRASES = {
    "left": ("to the left", "off the left side"),
    "right": ("to the right", "off the right side"),
    "top": ("through the top", "off the top"),
    "bottom": ("through the bottom", "off the bottom"),
}
_ENTER_VERBS = (("enters", "entering"), ("comes in", "coming in"), ("appears", "appearing"))
_LEAVE_VERBS = (
    ("leaves", "leaving"),
    ("exits", "exiting"),
    ("moves out of view", "moving out of view"),
)
_CAMERA = {
    "pan_left": (
        ("the camera pans left", "panning left"),
        ("the view pans to the left", "panning to the left"),
    ),
    "pan_right": (
        ("the camera pans right", "panning right"),
        ("the view pans to the right", "panning to the right"),
    ),
    "pan_up": (("the camera pans up", "panning up"), ("the camera tilts up", "tilting up")),
    "pan_down": (
        ("the camera pans down", "panning down"),
        ("the camera tilts down", "tilting down"),
    ),
    "zoom_in": (("the camera zooms in", "zooming in"), ("the camera pushes in", "pushing in")),
    "zoom_out": (
        ("the camera zooms out", "zooming out"),
        ("the camera pulls back", "pulling back"),
    ),
}
_STATIC_CAMERA = (
    ("the camera holds still", "holding still"),
    ("the camera stays fixed", "staying fixed"),
)
_PREPOSITIONS = ("on", "over", "against", "in front of")
_TEXTURE_PHRASES = {
    "stripes": ("a striped background", "{a} and {b} stripes", "a stripy {a} and {b} backdrop"),
    "checker": ("a checkerboard", "a {a} and {b} checkered background", "a checker pattern"),
    "noise": ("a mottled texture", "a noisy {a} and {b} texture", "a blotchy textured backdrop"),
}


def canonical_facts(truth: SceneTruth) -> tuple[str, ...]:
    """Fixed-wording facts: one per object, then the background, then the camera."""
    facts = [_object_fact(o) for o in truth.objects]
    bg = truth.background
    detail = bg.photo or " ".join(filter(None, (bg.pattern, *bg.colours)))
    facts.append(f"background: {bg.kind} {detail}".strip())
    facts.append(f"camera: {truth.camera.move}")
    return tuple(facts)


def _object_fact(o: ObjectTruth) -> str:
    motion = {
        "still": "still",
        "move": f"moves {o.direction}",
        "bounce": f"bounces {o.direction}",
        "enter": f"enters from {o.side}",
        "leave": f"leaves to {o.side}",
    }[o.motion]
    return f"{o.size} {o.colour} {o.shape} {motion}"


def write_caption(truth: SceneTruth, rng: np.random.Generator) -> str:
    """One caption of the clip; the template and every synonym are drawn from `rng`."""
    pick = _Picker(rng)
    template = pick.index(4)
    gerund = template == 2
    objects = [_object_phrase(o, pick, gerund, article=not gerund) for o in truth.objects]
    background = _background_phrase(truth.background, pick)
    camera = _CAMERA[truth.camera.move][pick.index(2)] if truth.camera.move != "static" else None
    if camera is None and pick.chance(0.5):
        camera = pick.one(_STATIC_CAMERA)  # a still camera is said half of the time
    preposition = pick.one(_PREPOSITIONS)
    if template == 0:
        return _sentence_first(objects, preposition, background, camera)
    if template == 1:
        return _camera_first(objects, background, camera)
    if template == 2:
        return _gerunds(objects, preposition, background, camera)
    return _list_style(objects, background, camera)


class _Picker:
    """Seeded choices; one place that turns the generator into picks."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def index(self, n: int) -> int:
        return int(self._rng.integers(n))

    def one(self, options):
        return options[self.index(len(options))]

    def chance(self, p: float) -> bool:
        return bool(self._rng.random() < p)


def _object_phrase(o: ObjectTruth, pick: _Picker, gerund: bool, article: bool) -> str:
    words = [o.colour, pick.one(SHAPE_WORDS[o.shape])]
    if pick.chance(0.4):
        words.insert(0, o.size)
    noun = " ".join(words)
    if article:
        noun = f"{_article(noun)} {noun}"
    return f"{noun} {_motion_phrase(o, pick, gerund)}"


def _motion_phrase(o: ObjectTruth, pick: _Picker, gerund: bool) -> str:
    form = 1 if gerund else 0
    if o.motion == "still":
        return pick.one(_STILL)[form]
    if o.motion == "move":
        return f"{pick.one(_MOVE_VERBS)[form]} {pick.one(_DIRECTION_WORDS[o.direction])}"
    if o.motion == "bounce":
        return pick.one(_BOUNCE[_bounce_axis(o.direction)])[form]
    entering = o.motion == "enter"
    verb = pick.one(_ENTER_VERBS if entering else _LEAVE_VERBS)[form]
    return f"{verb} {pick.one((_ENTER_PHRASES if entering else _LEAVE_PHRASES)[o.side])}"


def _bounce_axis(direction: str) -> str:
    if "_" in direction:
        return "diagonal"
    return "horizontal" if direction in ("left", "right") else "vertical"


def _background_phrase(bg: BackgroundTruth, pick: _Picker) -> str:
    colours = dict(zip("ab", bg.colours, strict=False))
    if bg.kind == "plain":
        options = ("a plain {a} background", "a {a} backdrop", "a solid {a} background")
    elif bg.kind == "gradient":
        options = (
            "a {a}-to-{b} gradient",
            "a gradient background",
            "a smooth {a} and {b} gradient",
        )
    elif bg.kind == "texture":
        options = _TEXTURE_PHRASES[bg.pattern]
    else:
        noun = pick.one(("a photo", "a photograph", "a picture"))
        return f"{noun} of {PHOTOS[bg.photo].description}"
    text = pick.one(options).format(**colours)
    return _article(text[2:]) + text[1:] if text.startswith("a ") else text  # "an olive ..."


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _sentence_first(objects, preposition, background, camera) -> str:
    scene = f"{preposition} {background}"
    if not objects:
        text = f"{background}" if camera is None else f"{camera[0]} {preposition} {background}"
        return _capitalise(text) + "."
    text = f"{_join(objects)} {scene}"
    if camera is not None:
        text += f" as {camera[0]}"
    return _capitalise(text) + "."


def _camera_first(objects, background, camera) -> str:
    lead = f"{camera[0]} over {background}" if camera else f"a static shot of {background}"
    if not objects:
        return lead
    return f"{lead} while {_join(objects)}" if camera else f"{lead}: {_join(objects)}"


def _gerunds(objects, preposition, background, camera) -> str:
    text = f"{_join(objects)} {preposition} {background}" if objects else background
    return f"{text}, camera {camera[1]}" if camera else text


def _list_style(objects, background, camera) -> str:
    parts = [_capitalise(background)] + [_capitalise(o) for o in objects]
    parts.append(_capitalise(camera[0]) if camera else "The camera does not move")
    return ". ".join(parts) + "."


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
