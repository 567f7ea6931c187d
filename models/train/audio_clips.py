"""Training audio for the audio tokenizer: a mix of the procedural world's soundtracks, espeak-ng
speech (built once by `speech_corpus`), real instrument recordings from a SoundFont, and the real
sound files Debian packages install under /usr/share/sounds. Every batch is a pure function of
(seed, rank, step), so a resumed run sees the data it would have seen without the interruption.

Each source keeps a held-out part the evaluation uses and training never draws: world seeds below
FIRST_TRAINING_SEED, the corpus's `heldout` folder, and the recordings (files, soundfont notes)
whose name hashes to `is_held_out`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reelpoet.models.train.soundfont import SoundFont
from reelpoet.models.train.tokenizer_clips import FIRST_TRAINING_SEED
from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.sdk.media import read_audio

SAMPLE_RATE = 16000
DEFAULT_SPEECH_DIR = "runs/audio_corpus/speech"
DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
DEFAULT_RECORDINGS_DIR = "/usr/share/sounds"
RECORDING_SUFFIXES = (".wav", ".oga", ".ogg", ".flac", ".mp3")
HELD_OUT_BUCKETS = 8  # one name in 8 is held out
SOURCES = ("world", "speech", "instruments", "recordings", "blips")


def is_held_out(name: str) -> bool:
    """Stable across runs and machines (SHA-256, not Python's salted hash; CRC32's low bits
    hardly vary between names like take01, take02, ..)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "little") % HELD_OUT_BUCKETS == 0


@dataclass(frozen=True)
class AudioMix:
    """Where training audio comes from: fractions of each source (the rest is world audio)."""

    crop_samples: int = 16000  # 1 s crops: the model is fully convolutional and causal
    speech_fraction: float = 0.35
    instrument_fraction: float = 0.2
    recording_fraction: float = 0.1
    # Short sounds alone in digital silence (`blips`): sync pops, beeps and clicks, as leaders
    # and test tracks have them (smpte-2997.mp4's track: a 4 kHz pop every 0.5 s, 0.8 peak
    # within 5 ms, in exact zeros). The other sources hardly have a hard attack after true
    # silence. (They did not stop a fine-tuned decoder from raising smpte's pop tails and
    # edges: docs/audio_tokenizer.md, "Session 8".)
    blip_fraction: float = 0.0
    mix_fraction: float = 0.2  # crops that are the sum of two sources, as real soundtracks are
    # Crops with a stretch of digital silence: real files have it (smpte-2997.mp4's track is 79%
    # exact zeros between beeps) and the log-mel distance punishes any hiss the decoder puts
    # there (its floor is 1e-5), while the sources above almost never contain it.
    gap_fraction: float = 0.0
    speech_dir: str = DEFAULT_SPEECH_DIR
    soundfont: str = DEFAULT_SOUNDFONT
    recordings_dir: str = DEFAULT_RECORDINGS_DIR

    def __post_init__(self) -> None:
        fractions = self._fractions
        if min(fractions) < 0 or sum(fractions) > 1:
            raise ValueError("source fractions must be >= 0 and sum to at most 1")
        if not 0 <= self.mix_fraction <= 1 or not 0 <= self.gap_fraction <= 1:
            raise ValueError("mix_fraction and gap_fraction must be in [0, 1]")
        if self.crop_samples < 1:
            raise ValueError("crop_samples must be positive")

    @property
    def _fractions(self) -> tuple[float, ...]:
        """The shares of SOURCES after the world, in that order."""
        return (
            self.speech_fraction,
            self.instrument_fraction,
            self.recording_fraction,
            self.blip_fraction,
        )

    @property
    def weights(self) -> np.ndarray:
        """Probabilities of SOURCES, in that order."""
        return np.array([1 - sum(self._fractions), *self._fractions])


def speech_files(folder: str | Path, split: str) -> list[Path]:
    """The corpus's WAVs of `split` ("train" or "heldout"); a clear error if it is not built."""
    files = sorted((Path(folder) / split).glob("*.wav"))
    if not files:
        raise FileNotFoundError(
            f"no speech corpus in {folder}/{split}; build it with: python -m "
            f"reelpoet.models.train.speech_corpus --out {folder}"
        )
    return files


def recording_files(folder: str | Path, held_out: bool) -> list[Path]:
    """Sound files under `folder` (links to the same file counted once), one split of them."""
    root = Path(folder)
    unique: dict[Path, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix in RECORDING_SUFFIXES and path.is_file():
            unique.setdefault(path.resolve(), path)
    names = [str(p.relative_to(root)) for p in unique.values()]
    chosen = [root / name for name in names if is_held_out(name) == held_out]
    if not chosen:
        raise FileNotFoundError(
            f"no sound files under {folder}; install Debian's alsa-utils, sound-icons, "
            f"sound-theme-freedesktop and gnome-audio, or set recordings_dir"
        )
    return sorted(chosen)


def soundfont_notes(font: SoundFont, held_out: bool) -> list[int]:
    """Indices of the recordings of one split of a soundfont."""
    return [
        i
        for i in range(len(font.recordings))
        if is_held_out(f"{font.path.name}:{i}:{font.recordings[i].name}") == held_out
    ]


def load_mono(path: Path) -> np.ndarray:
    samples, _ = read_audio(path, sample_rate=SAMPLE_RATE, channels=1)
    return samples[:, 0]


def instrument_phrase(
    font: SoundFont, notes: list[int], rng: np.random.Generator, length: int
) -> np.ndarray:
    """1 to 4 notes of one or two recordings at random times and pitches: a chord or a phrase."""
    out = np.zeros(length, np.float32)
    chosen = rng.choice(notes, size=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(1, 5))):
        note = font.note(int(rng.choice(chosen)), rng.uniform(0.15, 1.5), rng.uniform(-7, 7))
        start = int(rng.integers(-len(note) // 2, length))
        piece = note[max(0, -start) : length - start]
        out[max(0, start) : max(0, start) + len(piece)] += piece * rng.uniform(0.3, 1.0)
    return out


def blips(rng: np.random.Generator, length: int) -> np.ndarray:
    """1 to 4 short sounds in exact zeros: a tone (100 Hz - 7 kHz) or band of noise, starting
    within 0-2 ms, decaying over 2-100 ms, cut after 5-300 ms."""
    out = np.zeros(length, np.float32)
    for _ in range(int(rng.integers(1, 5))):
        duration = int(rng.uniform(0.005, 0.3) * SAMPLE_RATE)
        t = np.arange(duration) / SAMPLE_RATE
        attack = max(rng.uniform(0, 0.002), 1 / SAMPLE_RATE)
        envelope = np.minimum(t / attack, 1.0) * np.exp(-t / rng.uniform(0.002, 0.1))
        centre = np.exp(rng.uniform(np.log(100), np.log(7000)))
        if rng.uniform() < 0.5:
            sound = np.sin(2 * np.pi * centre * t + rng.uniform(0, 2 * np.pi))
        else:  # noise in a band of a third to two octaves around the centre
            spectrum = np.fft.rfft(rng.normal(size=duration))
            hz = np.fft.rfftfreq(duration, 1 / SAMPLE_RATE)
            half_width = 2 ** rng.uniform(1 / 6, 1)
            spectrum[(hz < centre / half_width) | (hz > centre * half_width)] = 0
            sound = np.fft.irfft(spectrum, duration)
            sound /= max(float(np.abs(sound).max()), 1e-9)
        start = int(rng.integers(0, length))
        piece = (sound * envelope)[: length - start]
        out[start : start + len(piece)] += piece.astype(np.float32) * rng.uniform(0.2, 1.0)
    return out


def random_crop(samples: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """`length` samples from a random place; shorter sources are zero-padded at random sides."""
    if len(samples) >= length:
        start = int(rng.integers(0, len(samples) - length + 1))
        return samples[start : start + length]
    out = np.zeros(length, np.float32)
    start = int(rng.integers(0, length - len(samples) + 1))
    out[start : start + len(samples)] = samples
    return out


def set_peak(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale to a random peak between -26 and -0.4 dBFS: the codec must code quiet and loud
    sound alike. Digital silence stays silent."""
    peak = float(np.abs(samples).max())
    if peak < 1e-4:
        return samples
    return samples * (10 ** (rng.uniform(-26, -0.4) / 20) / peak)


def with_silence_gap(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zero a random stretch of 10-70% of the clip (exact zeros), with 1 ms ramps at its edges
    so that the gap itself adds no click the codec would have to code."""
    n = len(samples)
    length = int(rng.uniform(0.1, 0.7) * n)
    start = int(rng.integers(0, n - length + 1))
    t = np.arange(n)
    distance = np.maximum(start - t, t - (start + length - 1))  # <= 0 inside the gap
    gain = np.clip(distance / (SAMPLE_RATE / 1000), 0.0, 1.0).astype(np.float32)
    return samples * gain


class AudioClips:
    """Draws batches (B, crop_samples) float32 in [-1, 1] from the mix."""

    def __init__(self, mix: AudioMix, seed: int) -> None:
        self.mix, self.seed = mix, seed
        self.world = WorldConfig()
        weights = mix.weights
        self.speech = speech_files(mix.speech_dir, "train") if weights[1] > 0 else []
        self.font = SoundFont(mix.soundfont) if weights[2] > 0 else None
        self.notes = soundfont_notes(self.font, held_out=False) if self.font else []
        # A few MB of short files: decoded once instead of at every draw.
        recordings = recording_files(mix.recordings_dir, False) if weights[3] > 0 else []
        self.recordings = [load_mono(p) for p in recordings]

    def _one_source(self, rng: np.random.Generator) -> np.ndarray:
        length = self.mix.crop_samples
        source = SOURCES[rng.choice(len(SOURCES), p=self.mix.weights)]
        if source == "speech":
            audio = load_mono(self.speech[rng.integers(len(self.speech))])
        elif source == "instruments":
            audio = instrument_phrase(self.font, self.notes, rng, length)
        elif source == "recordings":
            audio = self.recordings[rng.integers(len(self.recordings))]
        elif source == "blips":
            audio = blips(rng, length)
        else:
            seed = int(rng.integers(FIRST_TRAINING_SEED, 2**62))
            audio = make_sample(seed, self.world).audio
        return set_peak(random_crop(audio, length, rng), rng)

    def _one_clip(self, rng: np.random.Generator) -> np.ndarray:
        clip = self._one_source(rng)
        if rng.uniform() < self.mix.mix_fraction:
            clip = clip + self._one_source(rng) * rng.uniform(0.2, 1.0)
        if rng.uniform() < self.mix.gap_fraction:
            clip = with_silence_gap(clip, rng)
        return np.clip(clip, -1.0, 1.0)

    def batch(self, batch_size: int, rank: int, step: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, rank, step])
        clips = [self._one_clip(rng) for _ in range(batch_size)]
        return torch.from_numpy(np.stack(clips).astype(np.float32))  # (B, crop_samples)
