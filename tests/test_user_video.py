"""Windows from a folder of user video: right shape, real content, unusable files reported."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from reelpoet.models.data.user_video import UserVideoFolder, WindowSpec
from reelpoet.sdk.errors import InvalidRequestError


@pytest.fixture
def video_folder(tmp_path, media_dir):
    for name in ("example2.mp4", "big_buck_bunny_432_433.webm", "smpte-2997.mp4", "example.wav"):
        shutil.copy(media_dir / name, tmp_path / name)
    (tmp_path / "notes.mp4").write_text("not a video")
    return tmp_path


def test_windows_have_the_model_shape_and_real_content(video_folder):
    folder = UserVideoFolder(video_folder)
    rng = np.random.default_rng(0)
    windows = [folder.sample(rng) for _ in range(4)]
    for window in windows:
        assert window.shape == (17, 64, 64, 3) and window.dtype == np.uint8
        assert window.std() > 5  # real pictures, not a blank frame
    assert not all(np.array_equal(windows[0], w) for w in windows[1:])


def test_short_and_broken_files_are_skipped_with_a_reason(video_folder):
    folder = UserVideoFolder(video_folder)
    usable = {v.path.name for v in folder.videos}
    # the 1.0 s webm and the 2.0 s mp4 are shorter than a 2.125 s window; text is not media
    assert usable == {"smpte-2997.mp4"}
    assert "shorter" in folder.skipped[video_folder / "big_buck_bunny_432_433.webm"]
    assert "shorter" in folder.skipped[video_folder / "example2.mp4"]
    assert video_folder / "notes.mp4" in folder.skipped


def test_same_seed_same_windows(video_folder):
    folder = UserVideoFolder(video_folder, WindowSpec(num_frames=5, size=(32, 32)))
    first = folder.sample(np.random.default_rng(7))
    again = folder.sample(np.random.default_rng(7))
    assert first.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(first, again)


def test_a_folder_without_usable_video_is_a_clear_error(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"")
    with pytest.raises(InvalidRequestError, match="No usable video"):
        UserVideoFolder(tmp_path)
    with pytest.raises(InvalidRequestError, match="not a folder"):
        UserVideoFolder(tmp_path / "missing")
