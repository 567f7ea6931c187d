"""Evaluate the LM task by task: bits per output token on held-out sequences, and checks of
generated samples read off the decoded frames and audio by our own detectors
(`world_detector`, `audio_onsets`), never off the tokens.

    python -m reelpoet.models.eval.lm_eval --checkpoint runs/lm/checkpoint \
        --heldout runs/lm_cache/heldout --samples 64 --engine onnx-fp32 --json out/lm_eval.json

Held-out data: world seeds below `FIRST_TRAINING_SEED` (the cache built with `--held-out`);
text-to-video and text-to-image prompts are written with `heldout_caption`, whose wordings never
occur in training captions, over single-object scenes (so "the main object" is defined).
Writes contact sheets (PNG) and soundtracks (WAV) of the first samples to `--samples-dir`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from reelpoet.export.lm_onnx import export_lm, quantize_lm
from reelpoet.models.eval.audio_onsets import (
    detect_onsets,
    dominant_pitch,
    expected_tone_pitches,
    impact_times,
    onset_f1,
    pitch_agreement,
)
from reelpoet.models.eval.world_detector import drift, read_clip, seam_psnr
from reelpoet.models.lm import PrefixLM
from reelpoet.models.lm_sampler import generate
from reelpoet.models.text_encoder import encode_prompts, load_text_encoder
from reelpoet.models.train.lm_tasks import TaskSequences, load_cache
from reelpoet.models.train.train_lm import sequence_loss
from reelpoet.models.trained import load_audio_tokenizer, load_lm, load_video_tokenizer
from reelpoet.models.world import WorldConfig, make_sample
from reelpoet.models.world.heldout_captions import heldout_caption
from reelpoet.models.world.truth import SceneTruth
from reelpoet.sdk.lm_engine import GenerationRequest, LMEngine
from reelpoet.sdk.media import write_wav
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.token_layout import Task, TokenLayout

SAMPLING = SamplingConfig(temperature=0.9, top_k=256, guidance_scale=3.0)
Generate = Callable[[GenerationRequest, SamplingConfig], list[int]]
SINGLE_OBJECT = WorldConfig(min_objects=1, max_objects=1)
EXTENSIONS = 4  # a clip and four continuations: 85 frames, 10.6 s


@dataclass
class Models:
    lm: PrefixLM
    layout: TokenLayout
    generate: Generate
    video: torch.nn.Module
    audio: torch.nn.Module
    text: torch.nn.Module
    sampling: SamplingConfig = SAMPLING  # the shipped defaults; lm_eval's flags change them

    def prompt(self, captions: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        embeddings, mask = encode_prompts(self.text, captions)
        return list(zip(embeddings.numpy(), mask.numpy(), strict=True))

    @torch.no_grad()
    def frames(self, codes: list[int]) -> np.ndarray:
        """Video codes (raster t, y, x) -> (T, H, W, 3) float frames in [0, 1]."""
        latent_frames = len(codes) // 64
        grid = torch.tensor(codes).view(1, latent_frames, 8, 8)
        return self.video.decode(grid)[0].permute(0, 2, 3, 1).clamp(0, 1).numpy()

    @torch.no_grad()
    def sound(self, codes: list[int]) -> np.ndarray:
        levels = self.layout.audio_levels
        return self.audio.decode(torch.tensor(codes).view(1, -1, levels))[0, :34000].numpy()


def bits_per_token(models: Models, sequences: TaskSequences, task: Task, count: int) -> float:
    rng = np.random.default_rng(0)
    losses = []
    with torch.no_grad():
        for _ in range(max(1, count // 8)):
            batch = sequences.batch(task, 8, rng)
            losses.append(sequence_loss(models.lm, batch).item())
    return float(np.mean(losses)) / math.log(2)


def _truth(records: dict, index: int) -> SceneTruth:
    return SceneTruth.from_dict(json.loads(str(records["truth"][index])))


def text_to_video(models: Models, task: Task, count: int, sheet: list) -> dict:
    """Colour, direction and camera of held-out prompts with unseen wordings."""
    colour, direction, camera = [], [], []
    seeds = list(range(count))
    samples = [make_sample(s, SINGLE_OBJECT) for s in seeds]
    captions = [heldout_caption(s.truth, seed) for s, seed in zip(samples, seeds, strict=True)]
    prompts = models.prompt(captions)
    for sample, (text, mask), seed in zip(samples, prompts, seeds, strict=True):
        request = GenerationRequest(task, text, mask)
        sampling = dataclasses.replace(models.sampling, seed=seed)
        frames = models.frames(models.generate(request, sampling))
        reading = read_clip(frames)
        obj = sample.truth.objects[0]
        colour.append(reading.main_colour == obj.colour)
        if task == Task.TEXT_TO_VIDEO:
            if obj.motion in ("move", "still"):
                expected = obj.direction if obj.motion == "move" else "still"
                direction.append(reading.scene_direction == expected)
            camera.append(reading.camera.move == sample.truth.camera.move)
        if len(sheet) < 8:
            sheet.append(frames)
    out = {"samples": count, "colour_correct": float(np.mean(colour))}
    if direction:
        out["direction_correct"] = float(np.mean(direction))
        out["direction_samples"] = len(direction)
        out["camera_correct"] = float(np.mean(camera))
    return out


def continuation(models: Models, pairs: dict, count: int) -> dict:
    """Seam PSNR of generated continuations against real consecutive frames, and drift of
    colour and object count over a 10 s video made by extending again and again."""
    seams, real, agreement, count_ranges = [], [], [], []
    prompts = models.prompt([str(c) for c in pairs["caption"][:count]])
    long_world = WorldConfig(num_frames=34)
    for i, (text, mask) in enumerate(prompts):
        seed = int(pairs["seed"][i])
        clip = pairs["video"][i].tolist()
        pieces = [models.frames(clip)]
        for step in range(EXTENSIONS if i < count // 4 else 1):
            sampling = dataclasses.replace(models.sampling, seed=seed * 10 + step)
            clip = models.generate(GenerationRequest(Task.CONTINUATION, text, mask, clip), sampling)
            pieces.append(models.frames(clip))
        seams.append(seam_psnr(pieces[0][-1], pieces[1][0]))
        truth_frames = make_sample(seed, long_world).frames.astype(np.float32) / 255
        real.append(seam_psnr(truth_frames[16], truth_frames[17]))
        if len(pieces) > 2:
            report = drift(np.concatenate(pieces), window=17, stride=17)
            agreement.append(report.colour_agreement)
            count_ranges.append(report.count_range)
    return {
        "samples": count,
        "seam_psnr_db": _finite_mean(seams),
        "real_consecutive_psnr_db": _finite_mean(real),
        "long_videos": len(agreement),
        "long_colour_agreement": float(np.mean(agreement)) if agreement else None,
        "long_count_range_mean": float(np.mean(count_ranges)) if count_ranges else None,
    }


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf


def masked_fill(models: Models, task: Task, clips: dict, count: int) -> dict:
    """Inpainting/outpainting: PSNR of the kept region and of the filled one, each against the
    ground-truth render."""
    box_key, in_key = (
        ("inpaint_box", "inpaint_in") if task == Task.INPAINT else ("outpaint_box", "outpaint_in")
    )
    kept, filled = [], []
    prompts = models.prompt([str(c) for c in clips["caption"][:count]])
    for i, (text, mask) in enumerate(prompts):
        request = GenerationRequest(task, text, mask, clips[in_key][i].tolist())
        sampling = dataclasses.replace(models.sampling, seed=i)
        frames = models.frames(models.generate(request, sampling))
        truth = make_sample(int(clips["seed"][i])).frames.astype(np.float32) / 255
        x0, y0, x1, y1 = (int(v) for v in clips[box_key][i])
        inside = np.zeros(frames.shape[:3], dtype=bool)
        inside[:, y0:y1, x0:x1] = True
        # Inpainting keeps what is outside the box; outpainting keeps what is inside it.
        keep = ~inside if task == Task.INPAINT else inside
        kept.append(_psnr(frames[keep], truth[keep]))
        filled.append(_psnr(frames[~keep], truth[~keep]))
    return {
        "samples": count,
        "kept_psnr_db": float(np.mean(kept)),
        "filled_psnr_db": float(np.mean(filled)),
    }


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 10 * math.log10(1 / max(mse, 1e-10))


def video_to_audio(models: Models, clips: dict, count: int, sounds: list) -> dict:
    """Impact onsets of the generated soundtrack against the video's bounces (one frame)."""
    scores = []
    prompts = models.prompt([str(c) for c in clips["caption"][:count]])
    for i, (text, mask) in enumerate(prompts):
        truth = _truth(clips, i)
        request = GenerationRequest(Task.VIDEO_TO_AUDIO, text, mask, clips["video"][i].tolist())
        sampling = dataclasses.replace(models.sampling, seed=i)
        audio = models.sound(models.generate(request, sampling))
        scores.append(onset_f1(detect_onsets(audio, 16000), impact_times(truth), 1 / truth.fps))
        if len(sounds) < 4:
            sounds.append(("video_to_audio", audio))
    return {
        "samples": count,
        "onset_f1": float(np.mean([s.f1 for s in scores])),
        "onset_precision": float(np.mean([s.precision for s in scores])),
        "onset_recall": float(np.mean([s.recall for s in scores])),
    }


def text_to_audio(models: Models, clips: dict, count: int, sounds: list) -> dict:
    """Pitch of the generated tones against the objects' tones the prompt implies, and the
    number of impacts against the truth's."""
    agreement, impacts = [], []
    prompts = models.prompt([str(c) for c in clips["caption"][:count]])
    for i, (text, mask) in enumerate(prompts):
        truth = _truth(clips, i)
        sampling = dataclasses.replace(models.sampling, seed=i)
        audio = models.sound(
            models.generate(GenerationRequest(Task.TEXT_TO_AUDIO, text, mask), sampling)
        )
        times = np.arange(truth.num_frames) / truth.fps
        check = pitch_agreement(dominant_pitch(audio, 16000, times), expected_tone_pitches(truth))
        if check.checked:
            agreement.append(check.agreement)
        impacts.append(abs(len(detect_onsets(audio, 16000)) - len(impact_times(truth))))
        if len(sounds) < 8:
            sounds.append(("text_to_audio", audio))
    return {
        "samples": count,
        "pitch_agreement": float(np.mean(agreement)) if agreement else None,
        "impact_count_error_mean": float(np.mean(impacts)),
    }


def write_samples(folder: Path, sheets: dict[str, list[np.ndarray]], sounds: list) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, clips in sheets.items():
        if not clips:
            continue
        rows = [np.concatenate(list(c), axis=1) for c in clips]  # each clip: frames side by side
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
        image = (np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)
        Image.fromarray(image).save(folder / f"{name}.png")
    for i, (name, audio) in enumerate(sounds):
        write_wav(folder / f"{name}_{i}.wav", audio, 16000)


def load_models(args: argparse.Namespace, workdir: Path) -> Models:
    state = json.loads((Path(args.checkpoint) / "state.json").read_text())
    layout = (
        TokenLayout.from_dict(state["token_layout"]) if "token_layout" in state else TokenLayout()
    )
    lm = load_lm(args.checkpoint)
    if args.engine == "torch":
        generate_fn: Generate = lambda request, sampling: generate(lm, layout, request, sampling)  # noqa: E731
    else:
        paths = export_lm(lm, workdir)
        graph = paths["lm"]
        if args.engine == "onnx-int8":
            graph = quantize_lm(graph, workdir / "lm_int8.onnx")
        engine = LMEngine.from_files(graph, paths["config"], layout, threads=args.threads)
        generate_fn = engine.generate
    return Models(
        lm,
        layout,
        generate_fn,
        load_video_tokenizer(args.video_checkpoint),
        load_audio_tokenizer(args.audio_checkpoint),
        load_text_encoder(),
    )


def evaluate(
    models: Models,
    heldout: Path,
    count: int,
    samples_dir: Path | None,
    tasks: set[Task] | None = None,
) -> dict:
    """A row per task (of `tasks`, or every task the cache has): bits per token, and the
    generated-sample checks where the task has some."""
    records = load_cache(heldout)
    sequences = TaskSequences(records, models.layout)
    chosen = [t for t in sequences.tasks if tasks is None or t in tasks]
    results: dict[str, dict] = {}
    for task in chosen:
        results[task.value] = {"bits_per_token": bits_per_token(models, sequences, task, count)}
    sheets: dict[str, list] = {"text_to_video": [], "text_to_image": []}
    sounds: list = []
    clips = records["clips"]
    checks = {
        Task.TEXT_TO_VIDEO: lambda: text_to_video(
            models, Task.TEXT_TO_VIDEO, count, sheets["text_to_video"]
        ),
        Task.TEXT_TO_IMAGE: lambda: text_to_video(
            models, Task.TEXT_TO_IMAGE, count, sheets["text_to_image"]
        ),
        Task.CONTINUATION: lambda: continuation(models, records["pairs"], count),
        Task.INPAINT: lambda: masked_fill(models, Task.INPAINT, clips, count),
        Task.OUTPAINT: lambda: masked_fill(models, Task.OUTPAINT, clips, count),
        Task.VIDEO_TO_AUDIO: lambda: video_to_audio(models, clips, count, sounds),
        Task.TEXT_TO_AUDIO: lambda: text_to_audio(models, clips, count, sounds),
    }
    for task in chosen:
        if task in checks and (task != Task.CONTINUATION or "pairs" in records):
            results[task.value].update(checks[task]())
    if samples_dir is not None:
        write_samples(samples_dir, sheets, sounds)
    return results


def format_table(results: dict[str, dict]) -> str:
    lines = ["| task | bits/token | generated-sample checks |", "| --- | ---: | --- |"]
    for task, r in results.items():
        checks = ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in r.items()
            if k != "bits_per_token"
        )
        lines.append(f"| {task} | {r['bits_per_token']:.3f} | {checks} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--heldout", type=Path, default=Path("runs/lm_cache/heldout"))
    parser.add_argument(
        "--video-checkpoint", type=Path, default=Path("runs/shipped/video_tokenizer")
    )
    parser.add_argument(
        "--audio-checkpoint", type=Path, default=Path("runs/shipped/audio_tokenizer")
    )
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument(
        "--engine", choices=("torch", "onnx-fp32", "onnx-int8"), default="onnx-fp32"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples-dir", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--tasks", help="comma-separated tasks to evaluate (default: all), e.g. text_to_video"
    )
    parser.add_argument("--temperature", type=float, default=SAMPLING.temperature)
    parser.add_argument("--top-k", type=int, default=SAMPLING.top_k)
    parser.add_argument("--top-p", type=float, default=SAMPLING.top_p)
    parser.add_argument("--guidance-scale", type=float, default=SAMPLING.guidance_scale)
    args = parser.parse_args()
    try:
        tasks = None if args.tasks is None else {Task(t.strip()) for t in args.tasks.split(",")}
    except ValueError as exc:
        parser.error(f"--tasks: {exc}; tasks are {', '.join(t.value for t in Task)}")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir:
        models = load_models(args, Path(workdir))
        models.sampling = SamplingConfig(
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            guidance_scale=args.guidance_scale,
        )
        results = evaluate(models, args.heldout, args.samples, args.samples_dir, tasks)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
