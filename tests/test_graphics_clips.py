"""Synthetic graphics for the video tokenizer: deterministic, sized, and covering what the world
lacks (saturated secondaries, text that changes from frame to frame)."""

from __future__ import annotations

import numpy as np

from reelpoet.models.train.graphics_clips import graphics_clip
from reelpoet.models.train.tokenizer_clips import ClipMix, TokenizerClips


def test_clips_are_sized_and_reproducible():
    a = graphics_clip(np.random.default_rng(5), 64, 17)
    b = graphics_clip(np.random.default_rng(5), 64, 17)
    assert a.shape == (17, 64, 64, 3) and a.dtype == np.uint8
    assert (a == b).all()


def test_clips_hold_saturated_secondaries_and_changing_text():
    clips = [graphics_clip(np.random.default_rng(s), 64, 5) for s in range(40)]
    pixels = np.concatenate([c.reshape(-1, 3) for c in clips]).astype(int)
    cyan = (pixels[:, 0] < 40) & (pixels[:, 1] > 200) & (pixels[:, 2] > 200)
    magenta = (pixels[:, 0] > 200) & (pixels[:, 1] < 40) & (pixels[:, 2] > 200)
    assert cyan.mean() > 0.005 and magenta.mean() > 0.005
    changing = [bool((c[0] != c[-1]).any()) for c in clips]
    assert 0.4 < np.mean(changing) < 1  # running timecodes and drift; still titles too


def test_the_mix_draws_graphics_at_its_share():
    mix = ClipMix(photo_fraction=0.0, graphics_fraction=1.0, num_frames=1, crop=64)
    batch = TokenizerClips(mix, 0).batch(4, 0, 0)
    assert batch.shape == (4, 1, 3, 64, 64)
