"""Audio tokenizer data: the SoundFont reader (on a small .sf2 written here), the training mix
(determinism, range, held-out splits), the espeak-ng corpus builder (skipped without espeak-ng)
and the evaluation's table."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct

import numpy as np
import pytest
import torch

from reelpoet.models.audio_spectra import MelSpectrogram, log_mel
from reelpoet.models.audio_tokenizer import PRESETS, AudioTokenizer
from reelpoet.models.eval.audio_tokenizer_eval import Item, TorchCodec, format_tables, score
from reelpoet.models.train.audio_clips import (
    AudioClips,
    AudioMix,
    blips,
    is_held_out,
    recording_files,
    soundfont_notes,
    with_silence_gap,
)
from reelpoet.models.train.soundfont import SoundFont
from reelpoet.sdk.media import write_wav

SF_RATE = 32000


def _chunk(ident: bytes, data: bytes) -> bytes:
    return ident + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def _sample_header(name: bytes, start: int, end: int, loop: tuple[int, int]) -> bytes:
    return struct.pack("<20s5IBbHH", name, start, end, *loop, SF_RATE, 60, 0, 0, 1)


def write_soundfont(path) -> None:
    """Two recordings: a looped 400 Hz sine (0.5 s) and an unlooped noise burst (0.2 s)."""
    t = np.arange(SF_RATE // 2) / SF_RATE
    sine = np.sin(2 * np.pi * 400 * t) * 0.5
    burst = np.random.default_rng(0).standard_normal(6400) * np.exp(-np.arange(6400) / 1000) * 0.3
    gap = np.zeros(46)  # the format asks for 46 zero samples after each recording
    pcm = (np.concatenate([sine, gap, burst, gap]) * 32767).astype("<i2").tobytes()
    burst_start = len(sine) + 46
    headers = b"".join(
        [
            _sample_header(b"Sine", 0, len(sine), (8000, 8000 + 80 * 50)),  # 50 whole periods
            _sample_header(b"Burst", burst_start, burst_start + 6400, (0, 0)),
            _sample_header(b"EOS", 0, 0, (0, 0)),
        ]
    )
    instruments = b"".join(struct.pack("<20sH", n, b) for n, b in [(b"A", 0), (b"B", 1), (b"E", 2)])
    bags = b"".join(struct.pack("<HH", g, 0) for g in (0, 2, 3))
    # zone 0: sampleModes 1 (loop) + sampleID 0; zone 1: sampleID 1 (no loop); terminal
    zones = [(54, 1), (53, 0), (53, 1), (0, 0)]
    generators = b"".join(struct.pack("<HH", op, amount) for op, amount in zones)
    body = b"sfbk" + _chunk(b"LIST", b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1)))
    body += _chunk(b"LIST", b"sdta" + _chunk(b"smpl", pcm))
    pdta = [(b"inst", instruments), (b"ibag", bags), (b"igen", generators), (b"shdr", headers)]
    body += _chunk(b"LIST", b"pdta" + b"".join(_chunk(k, v) for k, v in pdta))
    path.write_bytes(_chunk(b"RIFF", body))


def _peak_hz(samples: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.fixture
def soundfont(tmp_path):
    path = tmp_path / "test.sf2"
    write_soundfont(path)
    return path


def test_soundfont_recordings_loop_and_transpose(soundfont):
    font = SoundFont(soundfont)
    assert [r.name for r in font.recordings] == ["Sine", "Burst"]
    assert [r.looped for r in font.recordings] == [True, False]  # from the zones' sampleModes
    held = font.note(0, 1.0, 0.0)  # 1 s from a 0.5 s recording: the loop repeats
    assert len(held) == pytest.approx(16000, abs=2)
    assert _peak_hz(held) == pytest.approx(400, abs=3)
    assert _peak_hz(font.note(0, 1.0, 12.0)) == pytest.approx(800, abs=5)  # an octave up
    assert len(font.note(1, 1.0, 0.0)) == pytest.approx(3200, abs=2)  # unlooped: it just ends


def test_soundfont_rejects_other_files(tmp_path):
    path = tmp_path / "not.sf2"
    path.write_bytes(b"RIFF\0\0\0\0WAVE")
    with pytest.raises(ValueError, match="not a SoundFont"):
        SoundFont(path)


@pytest.fixture
def sources(tmp_path, soundfont):
    rng = np.random.default_rng(0)
    speech = tmp_path / "speech" / "train"
    speech.mkdir(parents=True)
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    for i in range(3):
        write_wav(speech / f"{i:05d}.wav", rng.standard_normal(20000) * 0.1, 16000)
    for i in range(24):
        write_wav(sounds / f"sound{i:02d}.wav", rng.standard_normal(4000) * 0.1, 22050)
    (sounds / "link.wav").symlink_to(sounds / "sound00.wav")  # counted once
    return AudioMix(
        crop_samples=8000,
        speech_fraction=0.3,
        instrument_fraction=0.3,
        recording_fraction=0.3,
        speech_dir=str(tmp_path / "speech"),
        soundfont=str(soundfont),
        recordings_dir=str(sounds),
    )


def test_held_out_splits_are_disjoint_and_stable(sources):
    train = recording_files(sources.recordings_dir, held_out=False)
    held = recording_files(sources.recordings_dir, held_out=True)
    assert len(train) + len(held) == 24 and not set(train) & set(held)
    assert {p.name for p in held} == {"sound05.wav", "sound19.wav"}  # SHA-256 of the names
    assert is_held_out("sound05.wav") and not is_held_out("sound06.wav")
    font = SoundFont(sources.soundfont)
    both = soundfont_notes(font, True) + soundfont_notes(font, False)
    assert sorted(both) == [0, 1]


def test_training_batches_are_deterministic_and_in_range(sources):
    clips = AudioClips(sources, seed=3)
    batch = clips.batch(8, rank=0, step=5)
    assert batch.shape == (8, 8000) and batch.dtype == torch.float32
    assert batch.abs().max() <= 1.0 and (batch.abs().amax(-1) > 0).all()
    assert torch.equal(batch, AudioClips(sources, seed=3).batch(8, rank=0, step=5))
    assert not torch.equal(batch, clips.batch(8, rank=1, step=5))


def test_silence_gaps_are_exact_zeros_with_short_ramps():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.uniform(0.5, 1.0, 8000).astype(np.float32)
        y = with_silence_gap(x, rng)
        silent = np.flatnonzero(y == 0)
        assert 0.1 * 8000 - 1 <= len(silent) <= 0.7 * 8000 + 1
        assert len(silent) == silent[-1] - silent[0] + 1  # one stretch
        changed = np.flatnonzero(y != x)
        assert len(changed) <= len(silent) + 2 * 16  # a 1 ms ramp each side at most
        assert np.all(np.abs(np.diff(y / x)) <= 1 / 16 + 1e-6)  # no step: no click


def test_gap_fraction_puts_digital_silence_in_that_share_of_clips():
    world_only = AudioMix(
        crop_samples=8000, speech_fraction=0, instrument_fraction=0, recording_fraction=0
    )

    def clips_with_a_gap(mix: AudioMix) -> int:  # >= 10% of the clip exactly silent
        return int(((AudioClips(mix, seed=1).batch(64, 0, 0) == 0).sum(-1) >= 800).sum())

    silent_anyway = clips_with_a_gap(world_only)  # a scene can be silent: nothing on screen
    assert silent_anyway <= 4
    added = clips_with_a_gap(dataclasses.replace(world_only, gap_fraction=0.5)) - silent_anyway
    assert 18 <= added <= 44


def test_blips_are_short_sounds_in_exact_zeros():
    rng = np.random.default_rng(3)
    for _ in range(30):
        x = blips(rng, 8000)
        sounding = np.flatnonzero(x != 0)
        assert 0 < len(sounding) <= 4 * 0.3 * 16000
        assert (x == 0).mean() >= 0.1 and np.abs(x).max() <= 4.0
        assert np.all(x[: sounding[0]] == 0)  # silence up to the first sound, exactly


def test_blip_fraction_draws_blips_at_its_share():
    world_only = AudioMix(
        crop_samples=8000,
        speech_fraction=0,
        instrument_fraction=0,
        recording_fraction=0,
        mix_fraction=0,
    )
    with_blips = dataclasses.replace(world_only, blip_fraction=0.5)
    assert with_blips.weights.tolist() == [0.5, 0, 0, 0, 0.5]
    batch = AudioClips(with_blips, seed=1).batch(64, 0, 0)
    # blips leave most of a clip at exact zero
    mostly_silent = int(((batch == 0).float().mean(-1) >= 0.3).sum())
    assert 20 <= mostly_silent <= 44
    with pytest.raises(ValueError):
        dataclasses.replace(world_only, blip_fraction=1.1)


def test_a_missing_speech_corpus_says_how_to_build_it(tmp_path):
    mix = AudioMix(speech_dir=str(tmp_path / "nowhere"), instrument_fraction=0.0)
    with pytest.raises(FileNotFoundError, match="speech_corpus"):
        AudioClips(mix, seed=0)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_speech_corpus_holds_out_utterances_and_voices(tmp_path):
    from reelpoet.models.train.speech_corpus import build

    entries = build(tmp_path, utterances=3, seed=0)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["utterances"] == entries
    assert [e["split"] for e in entries] == ["heldout", "train", "train"]
    held_voice = entries[0]["voice"].split("+")[1]
    assert all(e["voice"].split("+")[1] != held_voice for e in entries[1:])
    assert all((tmp_path / e["file"]).stat().st_size > 1000 for e in entries)


def test_evaluation_scores_every_level_and_prints_tables():
    torch.manual_seed(0)
    model = AudioTokenizer(PRESETS["tiny"])
    rng = np.random.default_rng(0)
    items = [
        Item(f"noise{i}", (rng.standard_normal(5000) * 0.2).astype(np.float32)) for i in (0, 1)
    ]
    items.append(Item("silence", np.zeros(3000, np.float32)))  # no SI-SNR, still scored
    result = score(items, TorchCodec(model), model.cfg)
    assert result["items"] == 3 and len(result["codes_used"]) == model.cfg.num_levels
    assert set(result["si_snr"]) == {1, 2, 3, 4} and result["si_snr"][4] is not None
    table = format_tables({"noise": result}, model.cfg.num_levels)
    assert "| noise | 3 |" in table and "SI-SNR 4L" in table and "level 3" in table


def test_diagnostics_separate_network_and_quantizer_losses():
    from reelpoet.models.eval.audio_diagnostics import checkpoint_rows, pca_rows
    from reelpoet.models.world import WorldConfig, make_sample

    clips = [make_sample(seed, WorldConfig()).audio for seed in (3, 4)]
    every = pca_rows(320, clips, subframes=1, fit_clips=12)  # a full basis: nothing lost
    few = pca_rows(8, clips, subframes=2, fit_clips=12)
    assert every["continuous"] > 60 and every["continuous"] > every["4 levels"]
    assert few["continuous"] < 30 and few["4 levels"] > few["1 level"]
    torch.manual_seed(0)
    rows = checkpoint_rows(AudioTokenizer(PRESETS["tiny"]).eval(), clips, range(2))
    assert rows["continuous"] < 0 and 0 <= rows["impact F1"] <= 1  # untrained
    assert rows["impacts (matched / detected / true)"].count("/") == 2


def test_media_rows_say_where_a_files_distance_comes_from():
    from types import SimpleNamespace

    from reelpoet.models.eval.audio_diagnostics import media_rows
    from reelpoet.models.eval.audio_tokenizer_eval import Item

    class HalfAsLoud:  # a "codec" that returns the sound at half its amplitude, one code
        cfg = SimpleNamespace(num_levels=4, sample_rate=16000)

        def encode(self, x):
            self.x = x
            return torch.zeros(1, x.shape[1] // 320, 4, dtype=torch.long)

        def decode(self, codes):
            return self.x * 0.5

    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000) * 0.1).astype(np.float32)
    beeps = np.zeros(16000, np.float32)
    beeps[4000:8000] = 0.3 * np.sin(np.arange(4000) * 0.4)
    rows = media_rows(HalfAsLoud(), [Item("noise", noise), Item("beeps", beeps)])
    assert set(rows) == {f"{n}, {k}" for n in ("noise", "beeps") for k in ("1 level", "4 levels")}
    noisy = rows["noise, 4 levels"]
    assert noisy["signed"] == pytest.approx(np.log(0.5), abs=0.01)  # quieter: below zero
    assert noisy["L1 at silence edges"] is None and noisy["frames with level 0's top code"] == 1
    beeping = rows["beeps, 1 level"]
    assert np.log(0.5) < beeping["signed"] < 0  # silent frames add nothing
    # on sound, at most log 2 (bands under the log floor in both count as equal)
    assert 0.3 < beeping["L1 on sound"] <= -np.log(0.5) + 0.01
    assert beeping["L1 at silence edges"] is not None


def test_ceiling_rows_decode_the_continuous_latents_where_the_codes_carry_sound():
    from reelpoet.models.eval.audio_diagnostics import ceiling_rows

    rng = np.random.default_rng(1)
    sound = np.zeros(16000, np.float32)  # silence, then noise: both kinds of frame
    sound[8000:] = rng.standard_normal(8000).astype(np.float32) * 0.2
    items = [Item("half", sound)]
    torch.manual_seed(0)
    model = AudioTokenizer(PRESETS["tiny"]).eval()
    x = torch.from_numpy(sound)[None]
    with torch.no_grad():
        continuous = model.decoder(model.expand(model.latents(x))).clamp(-1, 1)
        mel = MelSpectrogram(1024, 80, 16000)
        expected = float((log_mel(mel(continuous)) - log_mel(mel(x))).abs().mean())
    # nothing coded as silence: the ceiling is the plain continuous decode
    model.quantizer.silence_norm = 0.0
    row = ceiling_rows(model, items)["half"]
    assert row["unquantized where coded as sound"] == pytest.approx(expected, rel=1e-5)
    assert row["unquantized where coded as sound"] != pytest.approx(row["4 levels"], rel=1e-3)
    # every frame coded as silence (code 0 is the zero vector at every level): the ceiling
    # keeps the codes' silence and equals the coded decode
    frames = model.encode(x).shape[1]
    with torch.no_grad():  # what fitting does (`zero_code`); an untrained model's are random
        model.quantizer.codebooks[:, 0] = 0
    levels = model.cfg.num_levels
    model.quantizer.encode = lambda z: torch.zeros(1, frames, levels, dtype=torch.long)
    row = ceiling_rows(model, items)["half"]
    assert row["unquantized where coded as sound"] == pytest.approx(row["4 levels"], abs=1e-6)
