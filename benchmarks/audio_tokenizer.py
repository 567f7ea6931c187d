"""Audio tokenizer speed: seconds of audio coded per second of wall time, torch eager against the
exported graphs on onnxruntime (the runtime's AudioCodec, 10 s chunks), one timed run each after
a short warm-up, on the same procedural soundtrack.

    python benchmarks/audio_tokenizer.py [--checkpoint runs/audio_tokenizer/checkpoint]
        [--seconds 60] [--threads 2]

Without --checkpoint a freshly initialised default model is timed (speed does not depend on the
weights, only on the architecture). The goal in docs/audio_tokenizer.md: >= 20x real time on 2
CPU cores with onnxruntime, for encoding and for decoding.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from reelpoet.export.audio_tokenizer_onnx import export_audio_tokenizer
from reelpoet.models.audio_tokenizer import PRESETS, AudioTokenizer
from reelpoet.models.trained import load_audio_tokenizer
from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.sdk.audio_codec import AudioCodec, AudioCodecSpec

CHUNK_SECONDS = 10.0


def soundtrack(seconds: float, rate: int) -> np.ndarray:
    """Procedural soundtracks (held-out seeds) one after another: (N,) float32."""
    pieces, total, seed = [], 0, 0
    while total < seconds * rate:
        pieces.append(make_sample(seed, WorldConfig()).audio)
        total, seed = total + len(pieces[-1]), seed + 1
    return np.concatenate(pieces)[: int(seconds * rate)]


def _timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def torch_speed(model: AudioTokenizer, audio: np.ndarray) -> tuple[float, float]:
    """(encode, decode) seconds, 10 s pieces like the runtime's chunks (without their context)."""
    step = int(CHUNK_SECONDS * model.cfg.sample_rate)
    pieces = [torch.from_numpy(audio[i : i + step])[None] for i in range(0, len(audio), step)]
    model.decode(model.encode(pieces[0][:, : model.cfg.hop * 50]))  # warm-up
    encode_s, codes = _timed(lambda: [model.encode(p) for p in pieces])
    decode_s, _ = _timed(lambda: [model.decode(c) for c in codes])
    return encode_s, decode_s


def onnx_speed(codec: AudioCodec, audio: np.ndarray, rate: int) -> tuple[float, float]:
    codec.decode(codec.encode(audio[:rate], rate))  # warm-up
    encode_s, codes = _timed(lambda: codec.encode(audio, rate))
    decode_s, _ = _timed(lambda: codec.decode(codes))
    return encode_s, decode_s


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the audio tokenizer, torch vs onnxruntime.")
    parser.add_argument("--checkpoint", type=Path, help="a training checkpoint folder")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio to code")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both engines")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.checkpoint is None:
        print("no --checkpoint given: timing a freshly initialised default model")
        torch.manual_seed(0)
        model = AudioTokenizer(PRESETS["default"]).eval()
    else:
        model = load_audio_tokenizer(args.checkpoint)
    rate = model.cfg.sample_rate
    audio = soundtrack(args.seconds, rate)
    with tempfile.TemporaryDirectory() as folder:
        paths = export_audio_tokenizer(model, Path(folder))
        spec = AudioCodecSpec.from_config(json.loads(paths["config"].read_text()))
        size_mb = (paths["encoder"].stat().st_size + paths["decoder"].stat().st_size) / 1e6
        codec = AudioCodec(paths["encoder"], paths["decoder"], spec, threads=args.threads)
        ort_times = onnx_speed(codec, audio, rate)
    torch_times = torch_speed(model, audio)
    seconds = len(audio) / rate
    print(f"{seconds:.0f} s of audio, {args.threads} threads, ONNX graphs {size_mb:.2f} MB")
    print("| engine | encode (x real time) | decode (x real time) |")
    print("| --- | ---: | ---: |")
    for name, (enc, dec) in (("torch eager", torch_times), ("onnxruntime", ort_times)):
        print(f"| {name} | {seconds / enc:.1f} | {seconds / dec:.1f} |")
    ratios = [t / o for t, o in zip(torch_times, ort_times, strict=True)]
    print(f"| onnxruntime / torch | {ratios[0]:.2f}x | {ratios[1]:.2f}x |")


if __name__ == "__main__":
    main()
