"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``: real sample files kept outside git."""
    data = REPO.parent / "shared" / "data"
    if not data.is_dir():
        pytest.skip(f"shared sample data not found at {data} (it lives beside the repo)")
    return data


@pytest.fixture(scope="session")
def media_dir(shared_data: Path) -> Path:
    """``<repo>/../shared/data/media``: smpte-2997.mp4, example2.mp4, example.wav, ..."""
    media = shared_data / "media"
    if not media.is_dir():
        pytest.skip(f"shared media samples not found at {media}")
    return media
