"""Captions name what the truth holds and vary in wording across seeds."""

from __future__ import annotations

from reelpoet.models.world import SHAPE_WORDS, WorldConfig, make_sample

_BACKGROUND_WORDS = {
    "plain": ("background", "backdrop"),
    "gradient": ("gradient",),
    "texture": ("stripe", "stripy", "checker", "mottled", "noisy", "blotchy", "texture"),
    "photo": ("photo", "photograph", "picture"),
}
_CAMERA_WORDS = {
    "static": ("",),
    "pan_left": ("left",),
    "pan_right": ("right",),
    "pan_up": ("up",),
    "pan_down": ("down",),
    "zoom_in": ("zooms in", "zooming in", "pushes in", "pushing in"),
    "zoom_out": ("zooms out", "zooming out", "pulls back", "pulling back"),
}


def test_caption_names_colours_shapes_background_and_camera():
    for seed in range(120):
        sample = make_sample(seed, WorldConfig(num_frames=5, width=32, height=32))
        caption, truth = sample.caption.lower(), sample.truth
        for obj in truth.objects:
            assert obj.colour in caption, (caption, obj)
            assert any(w in caption for w in SHAPE_WORDS[obj.shape]), (caption, obj)
        assert any(w in caption for w in _BACKGROUND_WORDS[truth.background.kind]), caption
        if truth.camera.move != "static":
            assert "camera" in caption or "view" in caption, caption
        assert any(w in caption for w in _CAMERA_WORDS[truth.camera.move]), caption


def test_caption_states_each_motion():
    words = {
        "still": ("still", "in place", "not move", "not moving"),
        "move": ("",),
        "bounce": ("bounc", "ricochet"),
        "enter": ("enter", "comes in", "coming in", "appear"),
        "leave": ("leav", "exit", "out of view"),
    }
    for seed in range(100):
        sample = make_sample(seed, WorldConfig(num_frames=5, width=32, height=32, max_objects=1))
        for obj in sample.truth.objects:
            assert any(w in sample.caption for w in words[obj.motion]), sample.caption


def test_captions_vary_across_seeds():
    config = WorldConfig(num_frames=5, width=32, height=32)
    captions = {make_sample(seed, config).caption for seed in range(200)}
    assert len(captions) >= 195


def test_facts_state_the_truth_in_fixed_words():
    a = make_sample(3, WorldConfig(num_frames=5))
    assert a.truth.facts[-1] == f"camera: {a.truth.camera.move}"
    assert a.truth.facts[-2].startswith(f"background: {a.truth.background.kind}")
    for obj, fact in zip(a.truth.objects, a.truth.facts, strict=False):
        assert fact.startswith(f"{obj.size} {obj.colour} {obj.shape}")
