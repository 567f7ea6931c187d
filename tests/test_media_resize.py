"""resize_frames: crop / pad / stretch geometry and size validation."""

from __future__ import annotations

import numpy as np
import pytest

from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import read_video, resize_frames


def quadrants(width: int = 64, height: int = 32) -> np.ndarray:
    """One frame: left half red, right half blue, with a green centre square."""
    frame = np.zeros((1, height, width, 3), np.uint8)
    frame[:, :, : width // 2, 0] = 200
    frame[:, :, width // 2 :, 2] = 200
    cy, cx, r = height // 2, width // 2, height // 4
    frame[:, cy - r : cy + r, cx - r : cx + r] = (0, 200, 0)
    return frame


def test_stretch_ignores_aspect():
    out = resize_frames(quadrants(), (32, 32), "stretch")
    assert out.shape == (1, 32, 32, 3)
    assert out[0, 16, 2, 0] > 150 and out[0, 16, 29, 2] > 150  # red left, blue right


def test_pad_letterboxes_with_black():
    out = resize_frames(quadrants(), (64, 64), "pad")  # 64x32 fits as 64x32, 16-px bars
    assert out.shape == (1, 64, 64, 3)
    assert out[0, :16].max() == 0 and out[0, 48:].max() == 0
    assert out[0, 20, 2, 0] > 150 and out[0, 20, 61, 2] > 150


def test_crop_covers_and_cuts_the_sides():
    out = resize_frames(quadrants(), (32, 32), "crop")  # 64x32 covers 32x32 as is: cut 16 px
    np.testing.assert_array_equal(out[0], quadrants()[0, :, 16:48])


def test_pillarbox_and_upscale():
    out = resize_frames(quadrants(32, 32), (128, 64), "pad")
    assert out.shape == (1, 64, 128, 3)
    assert out[0, :, :32].max() == 0 and out[0, :, 96:].max() == 0
    assert out[0, 32, 64, 1] > 150  # the green centre stays centred


@pytest.mark.parametrize("size", [(100000, 100000), (0, 64), (-64, 64), (64, 8193), (64.0, 64)])
def test_absurd_sizes_are_refused(size):
    with pytest.raises(InvalidRequestError, match="size"):
        resize_frames(quadrants(), size, "crop")


def test_bad_fit_and_frames_are_refused():
    with pytest.raises(InvalidRequestError, match="fit must be one of"):
        resize_frames(quadrants(), (32, 32), "zoom")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="uint8"):
        resize_frames(quadrants().astype(np.float32), (32, 32), "crop")


def test_read_with_size_needs_an_explicit_fit(media_dir):
    with pytest.raises(InvalidRequestError, match="fit='crop'"):
        read_video(media_dir / "example2.mp4", (0, 0.5), size=(64, 64))
    with pytest.raises(InvalidRequestError, match="without size"):
        read_video(media_dir / "example2.mp4", (0, 0.5), fit="crop")


def test_read_with_crop(media_dir):
    clip = read_video(media_dir / "example2.mp4", (0, 0.5), size=(64, 64), fit="crop")
    assert clip.frames.shape == (12, 64, 64, 3) and clip.frames.std() > 5
