"""Read a soundtrack back: impact onsets (with F1 against the truth) and the tones' pitch.

The world's soundtrack (`models/world/soundtrack.py`) is one steady gliding tone per object,
an impact (an 80 ms knock: a thump an octave below the tone plus a 4 ms noise click) at every
bounce, and a smooth whoosh while the camera moves. Impacts are the only sudden rises in level,
so onsets are found as rises of the log spectrum over its recent maximum, per frequency bin:
steady tones, a star's 12 Hz tremolo and the whoosh rise slowly and stay below the threshold.

Measured on 300 truth soundtracks (seeds 0-299): impacts rise by 4.4 dB per active bin or more
(1st percentile), anything else by 3.4 dB at most (99th percentile); after a 4 kHz low-pass (a
codec that drops the top octave) 2.5 dB and 2.1 dB. The threshold is 2.5 dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reelpoet.models.world.soundtrack import height_to_pitch
from reelpoet.models.world.truth import SceneTruth
from reelpoet.sdk.errors import InvalidRequestError

_WINDOW_SECONDS = 0.016  # short: an impact's onset is sharp, and 16 ms resolves 50 ms apart
_HOP_SECONDS = 0.004
_LOOKBACK = 3  # hops: a rise is measured over the last 12 ms, faster than any tremolo or glide
_FLOOR_DB = -40.0  # below the clip's loudest bin: leakage and silence do not count as rises
_RISE_DB = 2.5  # mean rise over active bins that makes an onset (see the module docstring)
MIN_GAP_SECONDS = 0.05  # impacts closer than this are heard, and counted, as one

_PITCH_WINDOW_SECONDS = 0.064  # long enough to resolve a 200 Hz tone within a few Hz
_PITCH_RANGE = (150.0, 1100.0)  # the tones span 200-1000 Hz (soundtrack.LOW_HZ, HIGH_HZ)


@dataclass(frozen=True)
class OnsetScore:
    precision: float
    recall: float
    f1: float
    matched: int  # one-to-one pairs within the tolerance


@dataclass(frozen=True)
class PitchCheck:
    matched: int  # checked times whose pitch is within the tolerance of an expected tone
    checked: int  # times with both a detected pitch and at least one expected tone

    @property
    def agreement(self) -> float:
        return self.matched / self.checked if self.checked else math.nan


def detect_onsets(audio: np.ndarray, sample_rate: int) -> tuple[float, ...]:
    """Times (seconds) of impacts in a mono soundtrack, in order, at least MIN_GAP apart."""
    strength, times = onset_strength(audio, sample_rate)
    picked: list[int] = []
    for i in range(1, len(strength) - 1):
        if (
            strength[i] < _RISE_DB
            or strength[i] < strength[i - 1]
            or strength[i] <= strength[i + 1]
        ):
            continue
        if picked and times[i] - times[picked[-1]] < MIN_GAP_SECONDS:
            if strength[i] > strength[picked[-1]]:
                picked[-1] = i  # the stronger of two close peaks stands for both
            continue
        picked.append(i)
    return tuple(float(times[i]) for i in picked)


def onset_strength(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(strength in dB per active bin (F,), window centre times (F,)): the onset function."""
    db, times = _log_spectrogram(_as_audio(audio), sample_rate, _WINDOW_SECONDS, _FLOOR_DB)
    floor = db.min()
    before = np.full_like(db, floor)  # (F, bins) loudest of the last _LOOKBACK frames
    for lag in range(1, _LOOKBACK + 1):
        before[lag:] = np.maximum(before[lag:], db[:-lag])
    rise = np.maximum(db - before, 0.0)
    rise[:_LOOKBACK] = 0.0  # the clip's own start is not an impact
    # Averaged over bins above the floor, so a codec that drops the top octave keeps the scale.
    active = (np.maximum(db, before) > floor + 3.0).sum(axis=1)
    strength = rise.sum(axis=1) / np.maximum(active, db.shape[1] // 8)
    return strength, times


def _log_spectrogram(audio, sample_rate: int, window_s: float, floor_db: float):
    """Power in dB (F, bins), floored at floor_db below the loudest bin, and frame centres."""
    size = max(16, round(window_s * sample_rate))
    hop = max(1, round(_HOP_SECONDS * sample_rate))
    if len(audio) < size:
        return np.zeros((1, size // 2 + 1)), np.array([len(audio) / 2 / sample_rate])
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::hop]  # (F, size)
    power = np.abs(np.fft.rfft(frames * np.hanning(size), axis=1)) ** 2
    floor = power.max() * 10.0 ** (floor_db / 10.0) + 1e-20
    times = (np.arange(len(frames)) * hop + size / 2) / sample_rate
    return 10.0 * np.log10(power + floor), times


def _as_audio(audio: np.ndarray) -> np.ndarray:
    array = np.asarray(audio, dtype=np.float64)
    if array.ndim != 1 or not np.isfinite(array).all():
        raise InvalidRequestError(f"audio must be finite mono samples (N,), got {array.shape}")
    return array


def onset_f1(predicted, true, tolerance_s: float) -> OnsetScore:
    """Precision, recall and F1 of onsets, each true onset matched to at most one predicted.

    Sorted two-pointer matching is a maximum matching on a line: the earliest unmatched pair
    within the tolerance is never a worse choice. No onsets on either side scores 1.0.
    """
    if tolerance_s < 0:
        raise InvalidRequestError("tolerance_s must be >= 0 seconds")
    p, t = sorted(float(x) for x in predicted), sorted(float(x) for x in true)
    i = j = matched = 0
    while i < len(p) and j < len(t):
        if p[i] < t[j] - tolerance_s:
            i += 1
        elif p[i] > t[j] + tolerance_s:
            j += 1
        else:
            matched, i, j = matched + 1, i + 1, j + 1
    precision = matched / len(p) if p else float(not t)
    recall = matched / len(t) if t else float(not p)
    f1 = 2 * matched / (len(p) + len(t)) if p or t else 1.0
    return OnsetScore(precision, recall, f1, matched)


def impact_times(truth: SceneTruth) -> tuple[float, ...]:
    """The bounces a soundtrack can make heard: merged when under MIN_GAP apart, and not at
    the clip's very ends, where one window (16 ms) of audio and the 12 ms look-back cannot tell
    an impact from the clip's own start and end.

    Two bounces within 50 ms (a corner, or two objects at once) are one knock to the ear.
    """
    first = _WINDOW_SECONDS / 2 + _LOOKBACK * _HOP_SECONDS
    end = truth.num_frames / truth.fps - _WINDOW_SECONDS
    times: list[float] = []
    for event in truth.events:
        if event.kind != "bounce" or not first <= event.time < end:
            continue
        if times and event.time - times[-1] < MIN_GAP_SECONDS:
            continue
        times.append(event.time)
    return tuple(times)


# --- pitch ---------------------------------------------------------------------------------


def dominant_pitch(audio: np.ndarray, sample_rate: int, times) -> np.ndarray:
    """The strongest frequency (Hz) in the tones' range around each time; NaN where silent."""
    signal = _as_audio(audio)
    size = round(_PITCH_WINDOW_SECONDS * sample_rate)
    padded = np.pad(signal, (size // 2, size))
    starts = np.clip(np.round(np.asarray(times, np.float64) * sample_rate).astype(int), 0, None)
    starts = np.minimum(starts, len(padded) - size)
    chunks = padded[starts[:, None] + np.arange(size)]  # (n, size) windows centred on the times
    fft_size = 8 * size  # zero padding: a peak within a few Hz before the parabolic step
    spectra = np.abs(np.fft.rfft(chunks * np.hanning(size), fft_size, axis=1))  # (n, bins)
    freqs = np.fft.rfftfreq(fft_size, 1.0 / sample_rate)
    band = (freqs >= _PITCH_RANGE[0]) & (freqs <= _PITCH_RANGE[1])
    # Silent: a window whose peak is under 1% of the clip's (a tone off screen, or no sound).
    loud = np.abs(chunks).max(axis=1) > 0.01 * float(np.max(np.abs(signal), initial=0.0))
    out = np.full(len(starts), np.nan)
    for n in np.flatnonzero(loud):
        out[n] = _peak_frequency(spectra[n], band, freqs)
    return out


def _peak_frequency(spectrum: np.ndarray, band: np.ndarray, freqs: np.ndarray) -> float:
    """The band's highest bin, refined by a parabola through it and its neighbours."""
    k = int(np.flatnonzero(band)[np.argmax(spectrum[band])])
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        offset = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
        return float(freqs[k] + offset * (freqs[1] - freqs[0]))
    return float(freqs[k])


def expected_tone_pitches(truth: SceneTruth) -> list[np.ndarray]:
    """Per frame, the pitches (Hz) of the objects mostly on screen: what the tones should be."""
    out = []
    for k in range(truth.num_frames):
        ys = [o.positions[k][1] for o in truth.objects if o.coverage[k] >= 0.5]
        out.append(height_to_pitch(np.array(ys, np.float64), truth.height))
    return out


def pitch_agreement(pitches, expected, semitones: float = 1.0) -> PitchCheck:
    """How often a detected pitch lies within `semitones` of one of the expected tones.

    `expected` may come from the truth (`expected_tone_pitches`) or from object heights read
    off generated frames through `soundtrack.height_to_pitch`: then it checks sound vs picture.
    """
    hits = checked = 0
    for pitch, tones in zip(pitches, expected, strict=True):
        tones = np.asarray(tones, np.float64)
        if not math.isfinite(pitch) or tones.size == 0:
            continue
        checked += 1
        hits += int(np.min(np.abs(12.0 * np.log2(pitch / tones))) <= semitones)
    return PitchCheck(hits, checked)
