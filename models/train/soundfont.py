"""Real instrument recordings from a SoundFont 2 file (e.g. Debian's fluid-soundfont-gm): the
file's sample headers are parsed and each recorded note is played back at 16 kHz, optionally
transposed and held (by repeating its sustain loop), like a sampler would.

SoundFont 2.04 layout: RIFF 'sfbk' with LIST 'sdta' (chunk 'smpl': 16-bit mono PCM of every
recording) and LIST 'pdta' (chunk 'shdr': 46-byte headers giving each recording's start, end,
loop points and sample rate, ending with a terminal 'EOS' record; chunks 'inst', 'ibag', 'igen':
the instrument zones, whose 'sampleModes' generator says whether a recording is played looped;
drums are not). The sample data is memory-mapped, so a 140 MB soundfont costs no memory up front.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

_HEADER = struct.Struct("<20s5IBbHH")  # name, start, end, loop start, loop end, rate, ...
_INSTRUMENT = struct.Struct("<20sH")  # name, index of its first zone in 'ibag'
_BAG = struct.Struct("<HH")  # index of the zone's first generator in 'igen', of its modulator
_GENERATOR = struct.Struct("<HH")  # operator, amount
_SAMPLE_ID, _SAMPLE_MODES = 53, 54  # generator operators (SoundFont 2.04, section 8.1.2)
_ROM_SAMPLE = 0x8000  # sample type bit: the data lives in a synth's ROM, not in this file
_MIN_LOOP = 32  # shorter loops buzz when repeated for a second; such notes are played unlooped
_RELEASE_S = 0.05


@dataclass(frozen=True)
class Recording:
    name: str
    start: int  # sample indices into the 'smpl' chunk; end is exclusive
    end: int
    loop_start: int
    loop_end: int
    rate: int
    looped: bool  # an instrument plays it with its sustain loop (and the loop is long enough)


def _chunks(data: bytes | np.memmap, offset: int, end: int):
    """(id, data offset, size) of the RIFF chunks between `offset` and `end`."""
    while offset + 8 <= end:
        ident = bytes(data[offset : offset + 4])
        (size,) = struct.unpack("<I", bytes(data[offset + 4 : offset + 8]))
        yield ident, offset + 8, size
        offset += 8 + size + (size & 1)  # chunks are padded to even sizes


def _records(table: bytes, layout: struct.Struct) -> list[tuple]:
    return [
        layout.unpack_from(table, i) for i in range(0, len(table) - layout.size + 1, layout.size)
    ]


def _looped_samples(tables: dict[bytes, bytes]) -> set[int]:
    """Indices of the recordings some instrument zone plays looped (sampleModes 1 or 3)."""
    if not {b"inst", b"ibag", b"igen"} <= tables.keys():
        return set()
    instruments = _records(tables[b"inst"], _INSTRUMENT)
    bags = _records(tables[b"ibag"], _BAG)
    generators = _records(tables[b"igen"], _GENERATOR)
    looped = set()
    for (_, first), (_, after) in itertools.pairwise(instruments):  # last: terminal record
        default_mode = 0  # a global zone (the first, without a sample) sets the default
        for zone in range(first, min(after, len(bags) - 1)):
            ops = dict(generators[bags[zone][0] : bags[zone + 1][0]])
            if _SAMPLE_ID not in ops:
                default_mode = ops.get(_SAMPLE_MODES, default_mode)
            elif ops.get(_SAMPLE_MODES, default_mode) & 1:
                looped.add(ops[_SAMPLE_ID])
    return looped


class SoundFont:
    """The recordings of one .sf2 file, playable as notes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        raw = np.memmap(self.path, dtype=np.uint8, mode="r")
        if bytes(raw[:4]) != b"RIFF" or bytes(raw[8:12]) != b"sfbk":
            raise ValueError(f"{self.path} is not a SoundFont 2 file")
        found: dict[bytes, tuple[int, int]] = {}
        for ident, offset, size in _chunks(raw, 12, len(raw)):
            if ident == b"LIST":
                for sub, sub_offset, sub_size in _chunks(raw, offset + 4, offset + size):
                    found[sub] = (sub_offset, sub_size)
        if b"smpl" not in found or b"shdr" not in found:
            raise ValueError(f"{self.path} has no sample data or no sample headers")
        offset, size = found[b"smpl"]
        self.pcm = np.memmap(self.path, dtype="<i2", mode="r", offset=offset, shape=(size // 2,))
        tables = {k: bytes(raw[o : o + n]) for k, (o, n) in found.items() if k != b"smpl"}
        self.recordings = self._headers(tables[b"shdr"], _looped_samples(tables))

    def _headers(self, table: bytes, looped: set[int]) -> list[Recording]:
        recordings = []
        for i in range(len(table) // _HEADER.size - 1):  # the last record is the 'EOS' terminal
            name, start, end, loop_start, loop_end, rate, _, _, _, kind = _HEADER.unpack_from(
                table, i * _HEADER.size
            )
            if kind & _ROM_SAMPLE or not 0 <= start < end <= len(self.pcm) or rate < 4000:
                continue
            text = name.split(b"\0")[0].decode("latin-1")
            loops = i in looped and start <= loop_start and loop_start + _MIN_LOOP <= loop_end
            recordings.append(Recording(text, start, end, loop_start, loop_end, rate, loops))
        return recordings

    def note(self, index: int, seconds: float, semitones: float, rate: int = 16000) -> np.ndarray:
        """Recording `index` held for about `seconds`, transposed, at `rate`: (N,) float32."""
        rec = self.recordings[index]
        speed = 2.0 ** (semitones / 12)  # a sampler plays faster to play higher
        wanted = int(seconds * rec.rate * speed)  # source samples to cover
        if rec.looped:
            head = self.pcm[rec.start : rec.loop_end]
            loop = self.pcm[rec.loop_start : rec.loop_end]
            repeats = max(0, -(-(wanted - len(head)) // len(loop)))
            source = np.concatenate([head, *([loop] * repeats)])[: max(wanted, 1)]
        else:
            source = self.pcm[rec.start : rec.end][:wanted]
        source = source.astype(np.float32) / 32768.0
        # Playing at rate * speed and resampling to `rate` is a transposition; resample_poly
        # low-passes first, so nothing above the new Nyquist folds back as aliasing.
        ratio = Fraction(rate, max(1, round(rec.rate * speed))).limit_denominator(256)
        out = signal.resample_poly(source, ratio.numerator, ratio.denominator).astype(np.float32)
        release = min(len(out), int(_RELEASE_S * rate))
        out[len(out) - release :] *= np.linspace(1.0, 0.0, release, dtype=np.float32)
        return out
