"""End-to-end latency as real-time factors (seconds taken / seconds of video produced): "extend a
clip by 2.125 s" and "10 s from text" (a text-to-video clip and four extensions, 10.6 s), through
the runtime pipeline on onnxruntime, with classifier-free guidance (two streams) as shipped.

    python benchmarks/end_to_end.py [--bundle PATH] [--threads 2]

Without --bundle, a bundle of freshly initialised default-size networks is assembled first
(speed does not depend on the weights' values; the text encoder is the real int8 MiniLM).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from reelpoet.sdk.pipeline import Pipeline
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.token_layout import Task

SAMPLING = SamplingConfig(temperature=0.9, top_k=256, guidance_scale=3.0, seed=0)


def fresh_bundle(folder: Path) -> Path:
    from reelpoet.export.assemble_bundle import assemble_bundle
    from reelpoet.export.text_encoder_onnx import export_text_encoder
    from reelpoet.models.audio_tokenizer import PRESETS as AUDIO_PRESETS
    from reelpoet.models.audio_tokenizer import AudioTokenizer
    from reelpoet.models.lm import PrefixLM, preset_config
    from reelpoet.models.text_encoder import load_text_encoder
    from reelpoet.models.tokenizer_layout import layout_for
    from reelpoet.models.video_tokenizer import PRESETS as VIDEO_PRESETS
    from reelpoet.models.video_tokenizer import VideoTokenizer

    torch.manual_seed(0)
    video = VideoTokenizer(VIDEO_PRESETS["default"]).eval()
    audio = AudioTokenizer(AUDIO_PRESETS["default"]).eval()
    lm = PrefixLM(preset_config("default", layout_for(video, audio))).eval()
    text_dir = folder / "text"
    export_text_encoder(text_dir, load_text_encoder())
    provenance = {"note": "fresh weights, for speed measurements only"}
    assemble_bundle(folder / "bundle", video, audio, lm, text_dir, provenance, name="speed")
    return folder / "bundle"


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bundle = args.bundle or fresh_bundle(Path(folder))
        pipeline = Pipeline.open(bundle, threads=args.threads)
        clip_seconds = pipeline.clip_frames / pipeline.fps
        size = pipeline.size
        clip = np.random.default_rng(0).integers(
            0, 256, (pipeline.clip_frames, size, size, 3), dtype=np.uint8
        )
        prompt = "a red ball bounces around over a striped background, the camera pans left"
        pipeline.extend(clip, 1, prompt, SAMPLING)  # warm-up
        extend = min(timed(lambda: pipeline.extend(clip, 1, prompt, SAMPLING)) for _ in range(2))

        def ten_seconds():
            first = pipeline.run(Task.TEXT_TO_VIDEO, prompt, sampling=SAMPLING).frames
            pipeline.extend(first, 4, prompt, SAMPLING)

        long = timed(ten_seconds)
    print(
        f"bundle: {args.bundle or 'fresh default-size networks'}; threads {args.threads}; "
        f"guidance 3.0 (2 streams)"
    )
    rtf = extend / clip_seconds
    print(f"  extend by {clip_seconds:.3f} s: {extend:.2f} s, real-time factor {rtf:.2f}")
    produced = 5 * clip_seconds
    print(f"  {produced:.1f} s from text: {long:.2f} s, real-time factor {long / produced:.2f}")


if __name__ == "__main__":
    main()
