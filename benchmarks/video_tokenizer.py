"""Video tokenizer speed: clips per second to encode and to decode, torch eager vs onnxruntime,
measured in one run on the same weights, same threads and same clips; ratios printed.

    python benchmarks/video_tokenizer.py [--checkpoint runs/vt_video/checkpoint] [--threads 2]

Without --checkpoint a freshly initialised default model is measured (speed does not depend on
the weights' values). CUDA is measured too when torch and onnxruntime both see a GPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from reelpoet.export.video_tokenizer_onnx import export_video_tokenizer
from reelpoet.models.trained import load_video_tokenizer
from reelpoet.models.video_tokenizer import PRESETS, VideoTokenizer
from reelpoet.sdk.video_codec import VideoCodec, VideoCodecSpec


def clips_per_second(run: Callable[[], object], clips: int, min_seconds: float = 3.0) -> float:
    run()  # warm-up: first calls allocate and pick kernels
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds or count < 3:
        run()
        count += 1
    return count * clips / elapsed


def measure(model: VideoTokenizer, codec: VideoCodec, batch: int, device: str) -> dict:
    cfg = model.cfg
    frames = np.random.default_rng(0).integers(
        0, 256, (batch, cfg.num_frames, cfg.image_size, cfg.image_size, 3), np.uint8
    )
    pixels = torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float().div(255).to(device)
    model = model.to(device)
    codes_torch = model.encode(pixels)
    codes_numpy = codec.encode(frames)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def torch_encode():
        model.encode(pixels)
        sync()

    def torch_decode():
        model.decode(codes_torch)
        sync()

    return {
        "encode torch": clips_per_second(torch_encode, batch),
        "encode onnxruntime": clips_per_second(lambda: codec.encode(frames), batch),
        "decode torch": clips_per_second(torch_decode, batch),
        "decode onnxruntime": clips_per_second(lambda: codec.decode(codes_numpy), batch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = (
        load_video_tokenizer(args.checkpoint)
        if args.checkpoint
        else VideoTokenizer(PRESETS["default"])
    )
    model.eval()
    print(
        f"weights: {args.checkpoint or 'fresh default model'}; threads: {args.threads}; "
        f"batch: {args.batch} clips of {model.cfg.num_frames}x{model.cfg.image_size}^2"
    )
    with tempfile.TemporaryDirectory() as folder:
        paths = export_video_tokenizer(model, Path(folder))
        spec = VideoCodecSpec.from_config(model.cfg.to_dict())
        codec = VideoCodec(paths["encoder"], paths["decoder"], spec, threads=args.threads)
        devices = ["cpu"]
        if torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers():
            devices.append("cuda")
        for device in devices:
            # the codec picks CUDA itself when present; on CPU-only runs both sides are CPU
            results = measure(model, codec, args.batch, device)
            print(f"\n{device}: clips/s")
            for name, value in results.items():
                print(f"  {name:20s} {value:8.2f}")
            for stage in ("encode", "decode"):
                ratio = results[f"{stage} onnxruntime"] / results[f"{stage} torch"]
                print(f"  {stage}: onnxruntime / torch eager = {ratio:.2f}x")


if __name__ == "__main__":
    main()
