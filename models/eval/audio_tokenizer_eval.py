"""Evaluate a trained audio tokenizer on audio it never trained on: held-out procedural
soundtracks (world seeds below FIRST_TRAINING_SEED), held-out speech (the corpus's `heldout`
folder: voices training never heard), held-out instrument notes and sound files, and every file
with sound in ../shared/data/media (read at 16 kHz mono: example.wav, crunching.mp3 and the audio
tracks of the videos). For each set: SI-SNR and log-mel L1 decoding from the first 1, 2, .., K
levels, and the use of each level's codes.

    python -m reelpoet.models.eval.audio_tokenizer_eval --checkpoint runs/audio_tokenizer/checkpoint
    python -m reelpoet.models.eval.audio_tokenizer_eval --onnx DIR   # the exported graphs

Metrics. SI-SNR (dB, higher is better) is averaged over items; silent items, which have none,
are left out. Log-mel L1 is the mean |log mel(x) - log mel(x^)| over 80 mel bands of 1024-sample
windows (natural log, floor 1e-5), lower is better. Code use: the share of the V codes of a level
that appear in the set's codes, and the entropy of their histogram in bits (at most log2 V).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from reelpoet.models.audio_spectra import MelSpectrogram, log_mel, si_snr
from reelpoet.models.audio_tokenizer import AudioTokenizer, AudioTokenizerConfig
from reelpoet.models.eval.image_metrics import code_usage
from reelpoet.models.train.audio_clips import (
    DEFAULT_RECORDINGS_DIR,
    DEFAULT_SOUNDFONT,
    DEFAULT_SPEECH_DIR,
    instrument_phrase,
    load_mono,
    recording_files,
    soundfont_notes,
    speech_files,
)
from reelpoet.models.train.soundfont import SoundFont
from reelpoet.models.trained import load_audio_tokenizer
from reelpoet.models.world import WorldConfig, make_sample

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MEDIA_DIR = REPO.parent / "shared" / "data" / "media"
MEDIA_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".mp4", ".webm", ".mov", ".mkv")
SAMPLE_RATE = 16000
CLIP_SAMPLES = 34000  # 2.125 s, the clip length of the world and the LM


class Codec(Protocol):
    """What the evaluation needs: the runtime AudioCodec or a torch model behind the same calls."""

    def encode(self, samples: np.ndarray, sample_rate: int) -> np.ndarray: ...  # (N,) -> (T, K)

    def decode(self, codes: np.ndarray, num_samples: int | None = None) -> np.ndarray: ...


class TorchCodec:
    """A torch AudioTokenizer with the runtime codec's encode/decode signatures."""

    def __init__(self, model: AudioTokenizer) -> None:
        self.model = model.eval()

    def encode(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        assert sample_rate == self.model.cfg.sample_rate, "the evaluation reads at the model rate"
        return self.model.encode(torch.from_numpy(samples)[None])[0].numpy()

    def decode(self, codes: np.ndarray, num_samples: int | None = None) -> np.ndarray:
        return self.model.decode(torch.from_numpy(codes)[None])[0, :num_samples].numpy()


@dataclass(frozen=True)
class Item:
    source: str
    samples: np.ndarray  # (N,) float32 mono at 16 kHz


def procedural_items(count: int) -> list[Item]:
    world = WorldConfig()  # seeds below FIRST_TRAINING_SEED: never trained on
    return [Item(f"world:{seed}", make_sample(seed, world).audio) for seed in range(count)]


def speech_items(folder: Path, count: int) -> list[Item]:
    return [Item(p.name, load_mono(p)) for p in speech_files(folder, "heldout")[:count]]


def instrument_items(soundfont: Path, count: int) -> list[Item]:
    font = SoundFont(soundfont)
    notes = soundfont_notes(font, held_out=True)
    rng = np.random.default_rng(0)
    return [
        Item(f"{font.path.name}#{i}", instrument_phrase(font, notes, rng, CLIP_SAMPLES))
        for i in range(count)
    ]


def recording_items(folder: Path) -> list[Item]:
    return [Item(p.name, load_mono(p)) for p in recording_files(folder, held_out=True)]


def media_items(folder: Path) -> list[Item]:
    """Every file with sound in `folder`, whole, at 16 kHz mono (channels averaged)."""
    items = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in MEDIA_SUFFIXES):
        items.append(Item(path.name, load_mono(path)))
    return items


def _log_mel_l1(mel: MelSpectrogram, reference: np.ndarray, estimate: np.ndarray) -> float:
    a, b = mel(torch.from_numpy(reference)[None]), mel(torch.from_numpy(estimate)[None])
    return float((log_mel(a) - log_mel(b)).abs().mean())


def _nanmean(values: list[float]) -> float | None:
    """Mean over the items that have a value (silent items have no SI-SNR); None if none do."""
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else None


def score(items: list[Item], codec: Codec, cfg: AudioTokenizerConfig) -> dict:
    """Metrics of one set at 1..K levels, and the code use of each level."""
    mel = MelSpectrogram(1024, 80, cfg.sample_rate)
    snr = {k: [] for k in range(1, cfg.num_levels + 1)}
    mel_l1 = {k: [] for k in range(1, cfg.num_levels + 1)}
    all_codes = []
    for item in items:
        codes = codec.encode(item.samples, cfg.sample_rate)  # (T, K)
        all_codes.append(codes)
        for k in snr:
            decoded = codec.decode(codes[:, :k], len(item.samples))
            ref, est = torch.from_numpy(item.samples), torch.from_numpy(decoded)
            snr[k].append(float(si_snr(ref, est)))
            mel_l1[k].append(_log_mel_l1(mel, item.samples, decoded))
    stacked = np.concatenate(all_codes)  # (frames, K)
    usage = [code_usage(stacked[:, k], cfg.codebook_size) for k in range(cfg.num_levels)]
    return {
        "items": len(items),
        "seconds": sum(len(i.samples) for i in items) / cfg.sample_rate,
        "si_snr": {k: _nanmean(v) for k, v in snr.items()},
        "log_mel_l1": {k: float(np.mean(v)) for k, v in mel_l1.items()},
        "codes_used": [u for u, _ in usage],
        "code_entropy_bits": [e for _, e in usage],
    }


def evaluation_sets(args: argparse.Namespace) -> dict[str, list[Item]]:
    """Every set whose source is present; a missing one is reported and left out."""
    makers = {
        "procedural (held-out seeds)": lambda: procedural_items(args.procedural_count),
        "speech (held-out voices)": lambda: speech_items(args.speech_dir, args.speech_count),
        "instruments (held-out notes)": lambda: instrument_items(
            args.soundfont, args.instrument_count
        ),
        "sound files (held out)": lambda: recording_items(args.recordings_dir),
    }
    sets = {}
    for name, make in makers.items():
        try:
            sets[name] = make()
        except (FileNotFoundError, ValueError) as exc:
            print(f"skipping {name}: {exc}")
    for item in media_items(args.media_dir):
        sets[f"media: {item.source}"] = [item]
    return sets


def format_tables(results: dict[str, dict], num_levels: int) -> str:
    levels = range(1, num_levels + 1)
    snr_head = " | ".join(f"SI-SNR {k}L" for k in levels)
    mel_head = " | ".join(f"log-mel L1 {k}L" for k in levels)
    lines = [
        f"| set | items | seconds | {snr_head} | {mel_head} |",
        "| --- | ---: | ---: |" + " ---: |" * (2 * num_levels),
    ]
    for name, r in results.items():
        snrs = " | ".join("n/a" if v is None else f"{v:.2f}" for v in r["si_snr"].values())
        mels = " | ".join(f"{v:.3f}" for v in r["log_mel_l1"].values())
        lines.append(f"| {name} | {r['items']} | {r['seconds']:.1f} | {snrs} | {mels} |")
    lines += ["", "Code use per level: share of the codebook used (entropy in bits).", ""]
    lines.append("| set | " + " | ".join(f"level {k}" for k in range(num_levels)) + " |")
    lines.append("| --- |" + " ---: |" * num_levels)
    for name, r in results.items():
        cells = " | ".join(
            f"{u:.1%} ({e + 0.0:.2f})"  # + 0.0: no "-0.00"
            for u, e in zip(r["codes_used"], r["code_entropy_bits"], strict=True)
        )
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def _codec(args: argparse.Namespace) -> tuple[Codec, AudioTokenizerConfig]:
    if args.onnx is None:
        model = load_audio_tokenizer(args.checkpoint)
        return TorchCodec(model), model.cfg
    from reelpoet.sdk.audio_codec import AudioCodec, AudioCodecSpec

    config = json.loads((args.onnx / "audio_tokenizer.json").read_text())
    spec = AudioCodecSpec.from_config(config)
    codec = AudioCodec(args.onnx / "audio_encoder.onnx", args.onnx / "audio_decoder.onnx", spec)
    return codec, AudioTokenizerConfig.from_dict(config)


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate an audio tokenizer.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="a training checkpoint folder")
    source.add_argument("--onnx", type=Path, help="a folder written by audio_tokenizer_onnx")
    parser.add_argument("--media-dir", type=Path, default=DEFAULT_MEDIA_DIR)
    parser.add_argument("--speech-dir", type=Path, default=Path(DEFAULT_SPEECH_DIR))
    parser.add_argument("--soundfont", type=Path, default=Path(DEFAULT_SOUNDFONT))
    parser.add_argument("--recordings-dir", type=Path, default=Path(DEFAULT_RECORDINGS_DIR))
    parser.add_argument("--procedural-count", type=int, default=64)
    parser.add_argument("--speech-count", type=int, default=40)
    parser.add_argument("--instrument-count", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    codec, cfg = _codec(args)
    results = {name: score(items, codec, cfg) for name, items in evaluation_sets(args).items()}
    print(format_tables(results, cfg.num_levels))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
