"""Where an audio tokenizer loses quality, on held-out world soundtracks (seeds 0..count-1).

    python -m reelpoet.models.eval.audio_diagnostics --checkpoint DIR [DIR ...]
    python -m reelpoet.models.eval.audio_diagnostics --pca 32 64

For a checkpoint: SI-SNR decoded from the encoder's continuous latent (no quantizer), from 4
and from 1 RVQ level, and how many of the world's impacts the onset detector still finds after
the round trip (`audio_onsets`, F1 within one video frame, as the video-to-audio evaluation
scores them). The gap between the first and the second column is what quantization costs,
the first column what the encoder and decoder cost.

`--media` adds, for each checkpoint and each real file of `../shared/data/media`, where its
log-mel distance (the evaluation's, 1024-point windows) comes from at 1 and at all levels: the
mean signed difference (decoded minus original: below zero, the decoded sound is quieter),
the distance on frames with sound, on frames at the edge of digital silence (a frame with sound
beside a silent one, or the reverse), and the share of frames that take level 0's most common
code (a codec that codes a recording with one code repeats one 20 ms frame: a 50 Hz buzz).

`--ceiling` adds, for each checkpoint and real file, the log-mel distance of a decode from the
encoder's continuous latents wherever the codes carry sound (silence stays as coded, so the
silence gate and the linear path beside silence act as in the coded decode): what the best
possible codebooks could give this encoder and decoder. Where that is above 0.7 times the
one-level distance, no change of codebooks alone meets issue 4's 30% gain on that file.

`--pca K` is the reference without a network: the filterbank (MDCT) coefficients projected on
their top K principal directions (fitted on world soundtracks of training seeds) and back,
unquantized and with k-means RVQ codebooks of the default's size on the projections.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from reelpoet.models.audio_spectra import LOG_FLOOR, MelSpectrogram, log_mel, si_snr
from reelpoet.models.audio_tokenizer import PRESETS, AudioTokenizer, windows_from_frames
from reelpoet.models.eval.audio_onsets import detect_onsets, impact_times, onset_f1
from reelpoet.models.eval.audio_tokenizer_eval import DEFAULT_MEDIA_DIR, media_items
from reelpoet.models.rvq import ResidualVectorQuantizer
from reelpoet.models.train.tokenizer_clips import FIRST_TRAINING_SEED
from reelpoet.models.trained import load_audio_tokenizer
from reelpoet.models.world import WorldConfig, make_sample

Transform = Callable[[torch.Tensor], torch.Tensor]  # (1, N) samples -> (1, N) samples


def mean_si_snr(clips: list[np.ndarray], transform: Transform) -> float:
    scores = []
    for clip in clips:
        x = torch.from_numpy(clip)[None]
        with torch.no_grad():
            scores.append(float(si_snr(x, transform(x)[:, : x.shape[1]])))
    return float(np.nanmean(scores))


def impact_counts(seeds: range, transform: Transform) -> tuple[int, int, int]:
    """(matched, detected, true) impacts over the world clips of `seeds`."""
    world, matched, detected, true = WorldConfig(), 0, 0, 0
    for seed in seeds:
        sample = make_sample(seed, world)
        x = torch.from_numpy(sample.audio)[None]
        with torch.no_grad():
            audio = transform(x)[0, : x.shape[1]].numpy()
        onsets, truth = detect_onsets(audio, world.sample_rate), impact_times(sample.truth)
        matched += onset_f1(onsets, truth, 1 / sample.truth.fps).matched
        detected, true = detected + len(onsets), true + len(truth)
    return matched, detected, true


def checkpoint_rows(model: AudioTokenizer, clips: list[np.ndarray], impact_seeds: range):
    def continuous(x: torch.Tensor) -> torch.Tensor:
        return model.decoder(model.encoder(model.pad(x)))

    def levels(count: int) -> Transform:
        return lambda x: model.decode(model.encode(x)[..., :count])

    matched, detected, true = impact_counts(impact_seeds, levels(model.cfg.num_levels))
    return {
        "continuous": mean_si_snr(clips, continuous),
        "4 levels": mean_si_snr(clips, levels(model.cfg.num_levels)),
        "1 level": mean_si_snr(clips, levels(1)),
        "impact F1": 2 * matched / max(1, detected + true),
        "impacts (matched / detected / true)": f"{matched} / {detected} / {true}",
    }


def media_rows(model: AudioTokenizer, items: list) -> dict[str, dict]:
    """Where each real file's log-mel distance comes from, at 1 and at all levels."""
    mel, silent_level = MelSpectrogram(1024, 80, model.cfg.sample_rate), math.log(LOG_FLOOR)
    rows = {}
    for item in items:
        x = torch.from_numpy(item.samples)[None]
        with torch.no_grad():
            codes = model.encode(x)
            original = log_mel(mel(x))[0]  # (bands, frames)
        sound = original.amax(0) > silent_level + 0.01
        beside_silence = sound & ~(sound.roll(1) & sound.roll(-1))
        beside_sound = ~sound & (sound.roll(1) | sound.roll(-1))
        edge = beside_silence | beside_sound
        share = torch.bincount(codes[0, :, 0]).max().item() / codes.shape[1]
        for count in (1, model.cfg.num_levels):
            with torch.no_grad():
                decoded = model.decode(codes[..., :count])[:, : x.shape[1]]
                difference = log_mel(mel(decoded))[0] - original
            distance = difference.abs().mean(0)  # per frame
            rows[f"{item.source}, {count} level{'s' if count > 1 else ''}"] = {
                "log-mel L1": float(distance.mean()),
                "signed": float(difference.mean()),
                "L1 on sound": float(distance[sound].mean()) if sound.any() else None,
                "L1 at silence edges": float(distance[edge].mean()) if edge.any() else None,
                "frames with level 0's top code": share,
            }
    return rows


def pca_rows(components: int, clips: list[np.ndarray], subframes: int, fit_clips: int) -> dict:
    """The principal-component transform coder of the module docstring."""
    config = PRESETS["default"]
    bank = AudioTokenizer(dataclasses.replace(config, subframes=subframes))
    world = WorldConfig()
    fitting = [make_sample(FIRST_TRAINING_SEED + i, world).audio for i in range(fit_clips)]
    with torch.no_grad():
        frames = torch.cat(
            [bank.encoder.coefficients(bank.pad(torch.from_numpy(a)[None]))[0].T for a in fitting]
        )  # (frames, bank)
    basis = torch.linalg.svd(frames.double(), full_matrices=False)[2][:components].float()
    rvq = ResidualVectorQuantizer(config.num_levels, config.codebook_size, components)
    rvq.fit(frames @ basis.T)

    def project(x: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        latents = (bank.encoder.coefficients(bank.pad(x)).transpose(1, 2)) @ basis.T
        if levels is not None:
            latents = rvq.decode(rvq.encode(latents)[..., :levels])
        coefficients = (latents @ basis).transpose(1, 2)
        return _synthesize(bank, coefficients)

    return {
        "continuous": mean_si_snr(clips, project),
        "4 levels": mean_si_snr(clips, lambda x: project(x, config.num_levels)),
        "1 level": mean_si_snr(clips, lambda x: project(x, 1)),
    }


def _synthesize(model: AudioTokenizer, coefficients: torch.Tensor) -> torch.Tensor:
    """The decoder's overlap-add synthesis alone (its MDCT initialisation)."""
    decoder = model.decoder
    windows = windows_from_frames(coefficients, decoder.subframes)
    return decoder.synthesis(windows)[:, 0, decoder.sub_hop :]


def ceiling_rows(model: AudioTokenizer, items: list) -> dict[str, dict]:
    """Each real file's log-mel distance at 1 and all levels, and decoded from its continuous
    latents on every frame the codes carry as sound (zero latents stay zero)."""
    mel = MelSpectrogram(1024, 80, model.cfg.sample_rate)
    rows = {}
    for item in items:
        x = torch.from_numpy(item.samples)[None]
        with torch.no_grad():
            original = log_mel(mel(x))[0]
            latents = model.latents(x)
            codes = model.quantizer.encode(latents)  # what model.encode gives
            quantized = model.quantizer.decode(codes)
            sound = (quantized != 0).any(-1, keepdim=True)
            kept = torch.where(sound, latents, quantized)
            decodes = {
                "1 level": model.decode(codes[..., :1]),
                "4 levels": model.decode(codes),
                "unquantized where coded as sound": model.decoder(model.expand(kept)).clamp(-1, 1),
            }
            rows[item.source] = {
                name: float((log_mel(mel(y[:, : x.shape[1]]))[0] - original).abs().mean())
                for name, y in decodes.items()
            }
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", nargs="*", default=[], help="trained model folders")
    parser.add_argument("--pca", nargs="*", type=int, default=[], help="components to try")
    parser.add_argument("--pca-subframes", type=int, default=1, help="MDCT windows a frame")
    parser.add_argument("--pca-fit-clips", type=int, default=300)
    parser.add_argument("--media", action="store_true", help="where real files' distance is")
    parser.add_argument("--ceiling", action="store_true", help="real files, best codebooks")
    parser.add_argument("--media-dir", type=Path, default=DEFAULT_MEDIA_DIR)
    parser.add_argument("--count", type=int, default=32, help="held-out clips for SI-SNR")
    parser.add_argument("--impact-clips", type=int, default=128, help="held-out clips")
    args = parser.parse_args(argv)
    world = WorldConfig()
    clips = [make_sample(seed, world).audio for seed in range(args.count)]
    rows, media, ceiling = {}, {}, {}
    for folder in args.checkpoint:
        model = load_audio_tokenizer(Path(folder)).eval()
        rows[folder] = checkpoint_rows(model, clips, range(args.impact_clips))
        if args.media:
            for name, row in media_rows(model, media_items(args.media_dir)).items():
                media[f"{folder}: {name}"] = row
        if args.ceiling:
            for name, row in ceiling_rows(model, media_items(args.media_dir)).items():
                ceiling[f"{folder}: {name}"] = row
    for components in args.pca:
        rows[f"PCA {components}"] = pca_rows(
            components, clips, args.pca_subframes, args.pca_fit_clips
        )
    print_table(rows)
    for table in (media, ceiling):
        if table:
            print()
            print_table(table)


def print_table(rows: dict[str, dict]) -> None:
    columns = sorted({c for row in rows.values() for c in row}, key=list(_ORDER).index)
    print("| | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for name, row in rows.items():
        cells = [_cell(row.get(c)) for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")


_ORDER = (
    "continuous",
    "4 levels",
    "1 level",
    "impact F1",
    "impacts (matched / detected / true)",
    "log-mel L1",
    "signed",
    "L1 on sound",
    "L1 at silence edges",
    "frames with level 0's top code",
    "unquantized where coded as sound",
)


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
