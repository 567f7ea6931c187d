"""WorldConfig: the size of a clip and the parameter space scenes are drawn from."""

from __future__ import annotations

from dataclasses import dataclass

from reelpoet.models.world.photos import PHOTO_NAMES
from reelpoet.models.world.vocabulary import (
    BACKGROUND_KINDS,
    CAMERA_MOVES,
    COLOUR_NAMES,
    MOTIONS,
    SHAPES,
    TEXTURE_PATTERNS,
)
from reelpoet.sdk.errors import InvalidRequestError

_MIN_SIDE = 8  # below this a small object is under a pixel across


@dataclass(frozen=True)
class WorldConfig:
    width: int = 64
    height: int = 64
    num_frames: int = 17  # 1 + 4k fits the video tokenizer's causal stride of 4
    fps: int = 8
    sample_rate: int = 16000
    min_objects: int = 1
    max_objects: int = 3
    # Which names a scene may use; narrowing these gives a targeted data set (or a test case).
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = COLOUR_NAMES
    motions: tuple[str, ...] = MOTIONS
    camera_moves: tuple[str, ...] = CAMERA_MOVES
    background_kinds: tuple[str, ...] = BACKGROUND_KINDS
    textures: tuple[str, ...] = TEXTURE_PATTERNS
    photos: tuple[str, ...] = PHOTO_NAMES
    # A static camera is the common case in real footage; the other moves share the rest.
    static_camera_probability: float = 0.4
    # Minimum RGB distance (0..441) between an object's colour and the background around it,
    # so a colour detector can separate the two; the closest allowed colour is used if none is.
    min_contrast: float = 130.0

    def __post_init__(self) -> None:
        self._check_sizes()
        self._check_names()
        if not 0.0 <= self.static_camera_probability <= 1.0:
            raise InvalidRequestError("static_camera_probability must be within [0, 1]")
        if not 0.0 <= self.min_contrast <= 441.0:
            raise InvalidRequestError("min_contrast must be within [0, 441] (an RGB distance)")

    def _check_sizes(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < _MIN_SIDE:
                raise InvalidRequestError(
                    f"{name} must be an integer >= {_MIN_SIDE}, got {value!r}"
                )
        if not isinstance(self.num_frames, int) or self.num_frames < 1:
            raise InvalidRequestError(
                f"num_frames must be an integer >= 1, got {self.num_frames!r}"
            )
        if not isinstance(self.fps, int) or self.fps <= 0:
            raise InvalidRequestError(f"fps must be a positive integer, got {self.fps!r}")
        # Tones reach 1 kHz with harmonics up to 4 kHz; 8 kHz sampling keeps them below Nyquist.
        if not isinstance(self.sample_rate, int) or self.sample_rate < 8000:
            raise InvalidRequestError(f"sample_rate must be >= 8000 Hz, got {self.sample_rate!r}")
        if not 0 <= self.min_objects <= self.max_objects <= 8:
            raise InvalidRequestError(
                "need 0 <= min_objects <= max_objects <= 8, "
                f"got min_objects={self.min_objects}, max_objects={self.max_objects}"
            )

    def _check_names(self) -> None:
        allowed = {
            "shapes": SHAPES,
            "colours": COLOUR_NAMES,
            "motions": MOTIONS,
            "camera_moves": CAMERA_MOVES,
            "background_kinds": BACKGROUND_KINDS,
            "textures": TEXTURE_PATTERNS,
            "photos": PHOTO_NAMES,
        }
        for field_name, vocabulary in allowed.items():
            chosen = getattr(self, field_name)
            if not isinstance(chosen, tuple) or not chosen:
                raise InvalidRequestError(f"{field_name} must be a non-empty tuple of names")
            unknown = [name for name in chosen if name not in vocabulary]
            if unknown:
                raise InvalidRequestError(
                    f"unknown {field_name} {unknown}; choose from {list(vocabulary)}"
                )

    @property
    def num_samples(self) -> int:
        """Audio samples in a clip: the clip lasts num_frames / fps seconds."""
        return round(self.num_frames / self.fps * self.sample_rate)

    @property
    def motion_duration(self) -> float:
        """Seconds from the first frame to the last, over which scripted motions play out."""
        return (self.num_frames - 1) / self.fps
