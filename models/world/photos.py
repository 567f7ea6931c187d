"""Real photographs for backgrounds, read from the files bundled in the scikit-image wheel.

Only files whose licence scikit-image's own docstrings state as public domain or CC0 are listed
(see docs/data.md); nothing is ever downloaded. Files are read with Pillow straight from the
installed package, so `skimage.data`'s fetcher (which may reach the network) is never called.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from reelpoet.sdk.errors import InvalidRequestError


@dataclass(frozen=True)
class Photo:
    name: str
    filename: str
    description: str  # the noun phrase a caption uses: "a photo of {description}"
    licence: str


PHOTOS: dict[str, Photo] = {
    p.name: p
    for p in (
        Photo("astronaut", "astronaut.png", "an astronaut", "public domain (NASA)"),
        Photo("chelsea", "chelsea.png", "a cat", "CC0 (Stefan van der Walt)"),
        Photo("coffee", "coffee.png", "a cup of coffee", "CC0 (Rachel Michetti)"),
        Photo("rocket", "rocket.jpg", "a rocket launch", "public domain (SpaceX)"),
        Photo("hubble", "hubble_deep_field.jpg", "deep space", "public domain (NASA)"),
        Photo("brick", "brick.png", "a brick wall", "CC0 (CC0Textures)"),
        Photo("grass", "grass.png", "grass", "CC0 (linolafett, DeviantArt)"),
        Photo("gravel", "gravel.png", "gravel", "CC0 (CC0Textures)"),
    )
}
PHOTO_NAMES: tuple[str, ...] = tuple(PHOTOS)


def _skimage_data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise InvalidRequestError(
            "photo backgrounds need scikit-image installed (pip install 'reelpoet[train]'), "
            "or leave 'photo' out of WorldConfig.background_kinds"
        )
    return Path(spec.origin).parent / "data"


@functools.lru_cache(maxsize=len(PHOTOS))
def load_photo(name: str) -> np.ndarray:
    """The photo as (H, W, 3) uint8 RGB; greyscale files are repeated over three channels."""
    if name not in PHOTOS:
        raise InvalidRequestError(f"unknown photo {name!r}; choose one of {PHOTO_NAMES}")
    path = _skimage_data_dir() / PHOTOS[name].filename
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))  # (H, W, 3)
    rgb.setflags(write=False)  # shared by every sample through the cache
    return rgb


def photo_size(name: str) -> tuple[int, int]:
    """(width, height) of the photo in its own pixels."""
    height, width, _ = load_photo(name).shape
    return width, height


def crop_resized(name: str, box: tuple[float, float, float, float], size: tuple[int, int]):
    """Crop `box` (x0, y0, x1, y1 in photo pixels) and resample it to `size` (w, h), float32 0..1.

    Pillow's antialiasing filter does the downscale, so a 512-pixel photo shown at 64 pixels
    does not alias.
    """
    image = Image.fromarray(load_photo(name))
    resized = image.resize(size, Image.Resampling.LANCZOS, box=box)
    return np.asarray(resized, dtype=np.float32) / 255.0  # (h, w, 3)
