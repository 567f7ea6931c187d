"""The ground truth agrees with the pixels: colours at centres, directions, bounces, camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.models.world.vocabulary import DIRECTIONS

STATIC = ("static",)


def _samples(config: WorldConfig, count: int, start: int = 0):
    return [make_sample(seed, config) for seed in range(start, start + count)]


def test_pixel_at_a_visible_centre_has_the_objects_colour():
    checked = 0
    for sample in _samples(WorldConfig(), 40):
        t = sample.truth
        for obj in t.objects:
            for k, (x, y) in enumerate(obj.positions):
                on_screen = 0 <= x < t.width and 0 <= y < t.height
                if not (obj.visible[k] and on_screen and obj.occlusion[k] == 0.0):
                    continue
                pixel = sample.frames[k, int(y), int(x)].astype(int)
                assert np.abs(pixel - np.array(obj.rgb)).max() <= 2, (sample.seed, obj.index, k)
                checked += 1
    assert checked > 500


def test_objects_contrast_with_the_background_around_them():
    for sample in _samples(WorldConfig(max_objects=1, min_objects=1, motions=("still",)), 30):
        obj = sample.truth.objects[0]
        x, y = obj.positions[0]
        r = obj.radii[0]
        ring = [(x + 1.6 * r * math.cos(a), y + 1.6 * r * math.sin(a)) for a in np.arange(8)]
        frame = sample.frames[0].astype(float)
        around = [
            frame[int(py), int(px)]
            for px, py in ring
            if 0 <= px < sample.truth.width and 0 <= py < sample.truth.height
        ]
        distance = np.linalg.norm(np.array(around) - np.array(obj.rgb), axis=1)
        assert np.median(distance) > 80, (sample.seed, obj.colour, sample.truth.background)


def test_moving_objects_go_their_way_on_screen():
    config = WorldConfig(motions=("move",), camera_moves=STATIC)
    found = set()
    for sample in _samples(config, 50):
        for obj in sample.truth.objects:
            ux, uy = DIRECTIONS[obj.direction]
            steps = np.diff(np.array(obj.positions), axis=0)  # (T - 1, 2)
            for axis, u in ((0, ux), (1, uy)):
                if u == 0:
                    assert np.allclose(steps[:, axis], 0.0)
                else:
                    assert np.all(np.sign(steps[:, axis]) == np.sign(u)), (sample.seed, obj)
            travelled = np.linalg.norm(np.array(obj.positions[-1]) - obj.positions[0])
            assert travelled > 0.2 * 64  # clearly visible: over 12 pixels in 17 frames
            found.add(obj.direction)
    assert found == set(DIRECTIONS)


def test_bounce_reverses_the_velocity_at_its_recorded_time():
    config = WorldConfig(motions=("bounce",), max_objects=1)
    checked = 0
    for sample in _samples(config, 40):
        t = sample.truth
        track = np.array(t.objects[0].world_positions)  # (T, 2)
        bounces = [e for e in t.events if e.kind == "bounce"]
        assert bounces, f"seed {sample.seed}: a bouncing object must bounce on screen"
        for e, neighbours in _isolated(bounces):
            if not neighbours or not 1 <= e.frame_time <= t.num_frames - 3:
                continue
            axis = 0 if e.wall in ("left", "right") else 1
            k = math.floor(e.frame_time)
            before = track[k, axis] - track[k - 1, axis]
            after = track[k + 2, axis] - track[k + 1, axis]
            assert before * after < 0, (sample.seed, e)
            # Moving towards the wall it hits: right/bottom walls are at larger coordinates.
            assert (before > 0) == (e.wall in ("right", "bottom"))
            checked += 1
    assert checked >= 15


def _isolated(bounces):
    """Each bounce with whether no other bounce lies within 2.5 frames of it."""
    for e in bounces:
        others = [o for o in bounces if o is not e and abs(o.frame_time - e.frame_time) < 2.5]
        yield e, not others


def test_bounces_off_the_frame_edges_with_a_static_camera():
    config = WorldConfig(motions=("bounce",), max_objects=1, camera_moves=STATIC)
    for sample in _samples(config, 20):
        obj, t = sample.truth.objects[0], sample.truth
        xy = np.array(obj.positions)
        assert xy[:, 0].min() >= obj.radius - 1e-6 and xy[:, 0].max() <= t.width - obj.radius + 1e-6
        assert xy[:, 1].min() >= obj.radius - 1e-6
        assert xy[:, 1].max() <= t.height - obj.radius + 1e-6


def test_entering_and_leaving_objects_cross_the_recorded_side():
    config = WorldConfig(motions=("enter", "leave"), camera_moves=STATIC)
    seen = set()
    for sample in _samples(config, 30):
        for obj in sample.truth.objects:
            events = [e for e in sample.truth.events if e.object == obj.index]
            assert [e.kind for e in events] == [obj.motion], (sample.seed, events)
            assert events[0].wall == obj.side
            first_seen = obj.visible.index(True)
            if obj.motion == "enter":
                assert not obj.visible[0] and obj.visible[-1]
                # The event is geometric (the shape's box meets the frame), `visible` counts
                # pixels: a sharp tip can reach a pixel into the frame before it covers one.
                assert first_seen - 2 < events[0].frame_time <= first_seen
            else:
                assert obj.visible[0] and not obj.visible[-1]
            seen.add((obj.motion, obj.side))
    assert len(seen) == 8


def _phase_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(dx, dy) such that b(x) ~ a(x - dx): phase correlation of two grey images."""
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa, fb = np.fft.fft2(a * window), np.fft.fft2(b * window)
    cross = fb * np.conj(fa)
    corr = np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-9)).real
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = a.shape
    return (dx - w if dx > w // 2 else dx, dy - h if dy > h // 2 else dy)


@pytest.mark.parametrize("move", ["pan_left", "pan_right", "pan_up", "pan_down"])
@pytest.mark.parametrize("background", ["photo", "texture"])
def test_camera_pan_moves_the_background_the_other_way(move, background):
    config = WorldConfig(
        min_objects=0,
        max_objects=0,
        camera_moves=(move,),
        background_kinds=(background,),
        textures=("noise",),
    )
    for sample in _samples(config, 3):
        grey = sample.frames.astype(float).mean(axis=3)
        dx, dy = _phase_shift(grey[0], grey[-1])
        (cx0, cy0), (cx1, cy1) = sample.truth.camera.centres[0], sample.truth.camera.centres[-1]
        # Content moves opposite to the camera, by the camera's travel in pixels (zoom 1).
        assert abs(dx - (cx0 - cx1)) <= 1.5 and abs(dy - (cy0 - cy1)) <= 1.5, (dx, dy)
        assert max(abs(dx), abs(dy)) >= 9  # a pan of 15-30% of 64 pixels
        # Named by the camera: a pan right moves the picture left, a pan down moves it up.
        expected = {"pan_left": (1, 0), "pan_right": (-1, 0), "pan_up": (0, 1), "pan_down": (0, -1)}
        assert (np.sign(dx), np.sign(dy)) == expected[move]


def test_zoom_in_grows_objects_and_spreads_them_from_the_centre():
    config = WorldConfig(camera_moves=("zoom_in",), motions=("still",))
    for sample in _samples(config, 5):
        zooms = sample.truth.camera.zooms
        assert zooms[0] == 1.0 and zooms[-1] > 1.2
        for obj in sample.truth.objects:
            assert obj.radii[-1] > obj.radii[0] * 1.2
            offset = [math.dist(p, (32, 32)) for p in (obj.positions[0], obj.positions[-1])]
            assert offset[1] >= offset[0]
