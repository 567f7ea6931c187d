"""WorldConfig validation and the shapes, dtypes and ranges of samples at several sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reelpoet.models.world import SceneTruth, WorldConfig, make_sample
from reelpoet.sdk.errors import InvalidRequestError


@pytest.mark.parametrize(
    "kwargs",
    [
        {"width": 0},
        {"width": -64},
        {"height": 0},
        {"height": -1},
        {"fps": 0},
        {"fps": -8},
        {"num_frames": 0},
        {"num_frames": -5},
        {"sample_rate": 0},
        {"min_objects": 2, "max_objects": 1},
        {"shapes": ("circle", "hexagon")},
        {"camera_moves": ()},
        {"static_camera_probability": 1.5},
    ],
)
def test_bad_config_raises_invalid_request(kwargs):
    with pytest.raises(InvalidRequestError):
        WorldConfig(**kwargs)


def test_invalid_request_is_a_value_error():
    with pytest.raises(ValueError, match="width"):
        WorldConfig(width=0)


@pytest.mark.parametrize("seed", [-1, 1.5, "3"])
def test_bad_seed_raises(seed):
    with pytest.raises(InvalidRequestError):
        make_sample(seed)


@pytest.mark.parametrize(
    ("width", "height", "frames"),
    [(64, 64, 17), (128, 128, 17), (96, 64, 5), (32, 32, 17), (64, 64, 1), (48, 80, 5)],
)
def test_shapes_dtypes_and_ranges(width, height, frames):
    config = WorldConfig(width=width, height=height, num_frames=frames)
    for seed in range(4):
        sample = make_sample(seed, config)
        assert sample.frames.shape == (frames, height, width, 3)
        assert sample.frames.dtype == np.uint8
        assert sample.audio.shape == (round(frames / 8 * 16000),)
        assert sample.audio.dtype == np.float32
        assert np.isfinite(sample.audio).all()
        assert np.abs(sample.audio).max() <= 0.9
        truth = sample.truth
        assert (truth.width, truth.height, truth.num_frames) == (width, height, frames)
        assert len(truth.camera.zooms) == frames
        for obj in truth.objects:
            assert len(obj.positions) == len(obj.visible) == len(obj.coverage) == frames


def test_default_clip_has_34000_audio_samples():
    assert make_sample(0).audio.shape == (34000,)


def test_same_seed_is_identical_bit_for_bit():
    a, b = make_sample(11), make_sample(11)
    assert np.array_equal(a.frames, b.frames)
    assert a.audio.tobytes() == b.audio.tobytes()
    assert a.caption == b.caption
    assert a.truth == b.truth


def test_different_seeds_differ():
    samples = [make_sample(seed) for seed in range(6)]
    for i in range(len(samples)):
        for j in range(i + 1, len(samples)):
            assert not np.array_equal(samples[i].frames, samples[j].frames)
            assert not np.array_equal(samples[i].audio, samples[j].audio)


def test_truth_round_trips_through_json():
    for seed in range(5):
        truth = make_sample(seed).truth
        again = SceneTruth.from_dict(json.loads(json.dumps(truth.to_dict())))
        assert again == truth


def test_single_frame_is_a_still_image():
    for seed in range(10):
        truth = make_sample(seed, WorldConfig(num_frames=1)).truth
        assert truth.camera.move == "static"
        assert all(o.motion == "still" for o in truth.objects)
