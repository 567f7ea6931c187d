"""The soundtrack follows the picture: pitch with height, impacts at bounces, whooshes on moves."""

from __future__ import annotations

import numpy as np
from scipy import signal

from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.models.world.soundtrack import height_to_pitch

ONE_CIRCLE = {
    "min_objects": 1,
    "max_objects": 1,
    "shapes": ("circle",),
    "camera_moves": ("static",),
}


def _dominant_pitch(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    freqs, times, z = signal.stft(audio, fs=rate, nperseg=2048, noverlap=1536)
    return times, freqs[np.argmax(np.abs(z), axis=0)]


def _first(config: WorldConfig, predicate, limit: int = 200):
    for seed in range(limit):
        sample = make_sample(seed, config)
        if predicate(sample.truth):
            return sample
    raise AssertionError("no seed matched")


def test_pitch_rises_when_an_object_moves_up():
    config = WorldConfig(motions=("move",), **ONE_CIRCLE)
    for direction, sign in (("up", 1), ("down", -1)):
        sample = _first(config, lambda t, d=direction: t.objects[0].direction == d)
        times, pitch = _dominant_pitch(sample.audio, 16000)
        inner = (times > 0.2) & (times < 1.9)
        assert sign * np.polyfit(times[inner], pitch[inner], 1)[0] > 20  # Hz per second
        # And the pitch is the one the height asks for, to within a bin or two (8 Hz).
        y = sample.truth.objects[0].positions[8][1]
        expected = height_to_pitch(np.array([y]), 64)[0]
        assert abs(pitch[np.argmin(np.abs(times - 1.0))] - expected) < 0.05 * expected


def test_impacts_sound_at_bounce_times():
    config = WorldConfig(motions=("bounce",), **ONE_CIRCLE, background_kinds=("plain",))
    sos = signal.butter(4, 3000, btype="high", fs=16000, output="sos")
    checked = 0
    for seed in range(8):
        sample = make_sample(seed, config)
        # A circle's tone is a pure sine under 1 kHz: above 3 kHz only impacts sound.
        clicks = np.abs(signal.sosfilt(sos, sample.audio))
        bounces = [e.time for e in sample.truth.events if e.kind == "bounce" and e.time < 2.0]
        assert bounces
        for t in bounces:
            at = round(t * 16000)
            burst = clicks[at : at + 160].max()  # the 10 ms after the bounce
            quiet = clicks[max(at - 1600, 0) : max(at - 320, 1)].max()  # 100 ms to 20 ms before
            assert burst > 5 * quiet + 1e-3, (seed, t, burst, quiet)
            checked += 1
    assert checked >= 8


def test_camera_moves_whoosh_and_a_still_empty_scene_is_silent():
    empty = {"min_objects": 0, "max_objects": 0}
    moving = make_sample(0, WorldConfig(camera_moves=("pan_left",), **empty))
    still = make_sample(0, WorldConfig(camera_moves=("static",), **empty))
    assert np.sqrt(np.mean(moving.audio**2)) > 0.02
    assert np.abs(still.audio).max() == 0.0
    # The whoosh swells with the camera's speed: loudest mid-clip, quiet at the ends.
    mid, edge = moving.audio[16000 - 2000 : 16000 + 2000], moving.audio[:2000]
    assert np.sqrt(np.mean(mid**2)) > 3 * np.sqrt(np.mean(edge**2))


def test_out_of_view_objects_are_silent():
    config = WorldConfig(motions=("enter",), **ONE_CIRCLE, background_kinds=("plain",))
    sample = _first(config, lambda t: t.events and t.events[0].time > 0.4)
    enter = sample.truth.events[0].time
    before = sample.audio[: round((enter - 0.05) * 16000)]
    assert np.abs(before).max() < 1e-3
    assert np.abs(sample.audio[-4000:]).max() > 0.05


def test_audio_is_finite_and_within_peak_for_many_seeds():
    for seed in range(8):
        audio = make_sample(seed, WorldConfig(max_objects=8, min_objects=6)).audio
        assert np.isfinite(audio).all()
        assert np.abs(audio).max() <= 0.9
