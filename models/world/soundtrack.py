"""The soundtrack: a tone per object that follows its height, impacts at bounces, camera whooshes.

Audio sample n is at time n / sample_rate, the same clock as frame k at k / fps. Pitch and
loudness are computed from the continuous trajectories (not the frames) at a control rate and
interpolated, so glides are smooth and an object fades in and out as it crosses the frame edge.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from reelpoet.models.world.camera import world_to_screen
from reelpoet.models.world.config import WorldConfig
from reelpoet.models.world.scene import ObjectSpec, Scene
from reelpoet.models.world.shapes import extents

LOW_HZ, HIGH_HZ = 200.0, 1000.0  # bottom and top of the frame, on a log (musical) scale
PEAK = 0.9  # the loudest sample after normalising: headroom for later mixing and codecs
_CONTROL_STEP = 64  # samples between control points: 4 ms at 16 kHz
_TONE_LEVEL = 0.2  # per object, so three tones and an impact rarely need normalising
_IMPACT_SECONDS = 0.08
_EDGE_FADE_SECONDS = 0.005  # ramps at the clip's ends so a tone does not click in
# Harmonic amplitudes, so each shape has its own timbre: a circle is a pure sine, a square is
# hollow (odd harmonics), a triangle is bright (all harmonics), a star shimmers (tremolo).
_TIMBRES: dict[str, tuple[float, ...]] = {
    "circle": (1.0,),
    "square": (1.0, 0.0, 0.33, 0.0, 0.2),
    "triangle": (1.0, 0.5, 0.25, 0.125),
    "star": (1.0, 0.3),
}
_STAR_TREMOLO_HZ = 12.0


def height_to_pitch(y: np.ndarray, height: int) -> np.ndarray:
    """Screen y (pixels, 0 at the top) -> Hz: the top of the frame sounds HIGH_HZ."""
    level = 1.0 - np.clip(y / height, 0.0, 1.0)
    return LOW_HZ * (HIGH_HZ / LOW_HZ) ** level


def synthesize(scene: Scene, bounces, config: WorldConfig, rng: np.random.Generator):
    """Mono float32 (N,) in [-PEAK, PEAK]; `bounces` holds (time, object index) pairs."""
    n = config.num_samples
    t = np.arange(n) / config.sample_rate  # (N,)
    mix = np.zeros(n)
    for obj in scene.objects:
        mix += _tone(obj, scene, t, config)
    for time, index in bounces:
        pitch = _pitches(scene.objects[index], scene, np.array([time]), config)[0]
        _add_impact(mix, time, pitch, config, rng)
    mix += _whoosh(scene, t, config, rng)
    return _finish(mix, config)


def _tone(obj: ObjectSpec, scene: Scene, t: np.ndarray, config: WorldConfig) -> np.ndarray:
    control = t[::_CONTROL_STEP]
    if control[-1] != t[-1]:
        control = np.append(control, t[-1])  # (C,) covers the whole clip
    pitch = np.interp(t, control, _pitches(obj, scene, control, config))  # (N,) Hz
    gain = np.interp(t, control, _on_screen(obj, scene, control, config))  # (N,) 0..1
    phase = 2.0 * math.pi * np.cumsum(pitch) / config.sample_rate  # continuous glide
    timbre = _TIMBRES[obj.shape]
    wave = np.zeros_like(t)
    for h, amplitude in enumerate(timbre, start=1):
        below_nyquist = h * pitch < 0.45 * config.sample_rate  # no aliased partials
        wave += amplitude * np.sin(h * phase) * below_nyquist
    wave /= math.sqrt(sum(a * a for a in timbre))
    if obj.shape == "star":
        wave *= 0.75 + 0.25 * np.sin(2.0 * math.pi * _STAR_TREMOLO_HZ * t)
    return _TONE_LEVEL * gain * wave


def _screen(obj: ObjectSpec, scene: Scene, times: np.ndarray, config: WorldConfig):
    centres, zooms = scene.camera.at(times)
    return world_to_screen(obj.motion.positions(times), centres, zooms, config), zooms


def _pitches(obj, scene, times, config) -> np.ndarray:
    screen, _ = _screen(obj, scene, times, config)
    return height_to_pitch(screen[:, 1], config.height)


def _on_screen(obj, scene, times, config) -> np.ndarray:
    """Fraction of the shape's bounding box on screen: 0 off screen, a ramp across an edge."""
    screen, zooms = _screen(obj, scene, times, config)
    left, right, up, down = (e * obj.radius * zooms for e in extents(obj.shape))  # (C,) each
    x, y = screen[:, 0], screen[:, 1]
    fx = (np.minimum(x + right, config.width) - np.maximum(x - left, 0)) / (left + right)
    fy = (np.minimum(y + down, config.height) - np.maximum(y - up, 0)) / (up + down)
    return np.clip(fx, 0.0, 1.0) * np.clip(fy, 0.0, 1.0)


def _add_impact(mix: np.ndarray, time: float, pitch: float, config, rng) -> None:
    """A knock: a low decaying thump an octave below the tone, plus a click of noise."""
    start = round(time * config.sample_rate)
    length = min(round(_IMPACT_SECONDS * config.sample_rate), len(mix) - start)
    if length <= 0:
        return
    s = np.arange(length) / config.sample_rate
    thump = np.sin(2.0 * math.pi * (pitch / 2.0) * s) * np.exp(-s / 0.025)
    click = rng.standard_normal(length) * np.exp(-s / 0.004)
    mix[start : start + length] += 0.5 * thump + 0.3 * click


def _whoosh(scene: Scene, t: np.ndarray, config: WorldConfig, rng) -> np.ndarray:
    """Band-passed noise whose loudness follows the camera's speed: silent when static."""
    envelope = scene.camera.speed(t)  # (N,) 0..1
    if not envelope.any():
        return np.zeros_like(t)
    nyquist = config.sample_rate / 2
    sos = signal.butter(2, [300.0 / nyquist, 2500.0 / nyquist], btype="band", output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(len(t)))
    noise /= max(float(np.sqrt(np.mean(noise**2))), 1e-12)  # unit RMS
    return 0.08 * envelope * noise


def _finish(mix: np.ndarray, config: WorldConfig) -> np.ndarray:
    mix = np.nan_to_num(mix, nan=0.0, posinf=0.0, neginf=0.0)
    fade = min(round(_EDGE_FADE_SECONDS * config.sample_rate), len(mix) // 2)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade)
        mix[:fade] *= ramp
        mix[-fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(mix), initial=0.0))
    if peak > PEAK:
        mix *= PEAK / peak
    return np.clip(mix, -PEAK, PEAK).astype(np.float32)
