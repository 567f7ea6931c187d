"""Every task end to end on onnxruntime from an assembled bundle (random default video
tokenizer, tiny audio tokenizer and LM, a stand-in text encoder graph): shapes, kept pixels,
seeds, chaining, bad input and a tampered bundle."""

from __future__ import annotations

import numpy as np
import pytest

from reelpoet.sdk.errors import BundleError, InvalidRequestError
from reelpoet.sdk.pipeline import Pipeline
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.task_inputs import Box
from reelpoet.sdk.token_layout import TASK_SHAPES, Task


@pytest.fixture(scope="module")
def pipeline(bundle_dir):
    return Pipeline.open(bundle_dir, threads=1)


def _clip(pipeline, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = pipeline.size
    return rng.integers(0, 256, (pipeline.clip_frames, size, size, 3), dtype=np.uint8)


def _inputs(pipeline, task: Task) -> dict:
    shape = TASK_SHAPES[task]
    inputs = {}
    if shape.video_in:
        clip = _clip(pipeline)
        inputs["video"] = clip[0] if task == Task.IMAGE_TO_VIDEO else clip
    if shape.audio_in:
        inputs["audio"] = np.sin(np.arange(pipeline.clip_samples) / 7).astype(np.float32) * 0.3
    if task in (Task.INPAINT, Task.OUTPAINT):
        inputs["box"] = Box(16, 8, 48, 40)
    return inputs


@pytest.mark.parametrize("task", list(Task))
def test_every_task_runs_from_inputs_to_media(pipeline, task):
    out = pipeline.run(task, "a red ball moves left", **_inputs(pipeline, task))
    if TASK_SHAPES[task].output == "audio":
        assert out.frames is None
        assert out.audio.shape == (pipeline.clip_samples,) and out.audio.dtype == np.float32
        assert np.isfinite(out.audio).all() and np.abs(out.audio).max() <= 1
    else:
        assert out.audio is None
        frames = 1 if task == Task.TEXT_TO_IMAGE else pipeline.clip_frames
        assert out.frames.shape == (frames, 64, 64, 3) and out.frames.dtype == np.uint8


def test_kept_regions_come_back_bit_for_bit(pipeline):
    clip, box = _clip(pipeline, 1), Box(16, 8, 48, 40)
    inpainted = pipeline.run(Task.INPAINT, "", video=clip, box=box).frames
    outside = np.ones(clip.shape[:3], bool)
    outside[:, 8:40, 16:48] = False
    assert (inpainted[outside] == clip[outside]).all()
    assert not (inpainted[~outside] == clip[~outside]).all()
    outpainted = pipeline.run(Task.OUTPAINT, "", video=clip, box=box).frames
    assert (outpainted[~outside] == clip[~outside]).all()


def test_a_seed_reproduces_and_another_differs(pipeline):
    def run(seed):
        return pipeline.run(Task.TEXT_TO_VIDEO, "x", sampling=SamplingConfig(seed=seed)).frames

    assert (run(3) == run(3)).all()
    assert not (run(3) == run(4)).all()


def test_extend_chains_clips_with_one_progress_scale(pipeline):
    seen = []
    frames = pipeline.extend(_clip(pipeline), clips=2, on_step=lambda i, n: seen.append((i, n)))
    assert frames.shape == (2 * pipeline.clip_frames, 64, 64, 3)
    assert seen[-1] == (640, 640) and [i for i, _ in seen] == list(range(1, 641))


@pytest.mark.parametrize(
    "task, inputs, message",
    [
        (Task.CONTINUATION, {}, "needs video"),
        (Task.CONTINUATION, {"video": np.zeros((17, 32, 32, 3), np.uint8)}, r"\(T, 64, 64, 3\)"),
        (Task.CONTINUATION, {"video": np.zeros((17, 64, 64, 3), np.float32)}, "uint8"),
        (Task.CONTINUATION, {"video": np.zeros((9, 64, 64, 3), np.uint8)}, "at least 17"),
        (Task.INPAINT, {"video": np.zeros((17, 64, 64, 3), np.uint8)}, "box"),
        (
            Task.INPAINT,
            {"video": np.zeros((17, 64, 64, 3), np.uint8), "box": Box(60, 0, 70, 10)},
            "inside",
        ),
        (Task.TEXT_TO_VIDEO, {"video": np.zeros((17, 64, 64, 3), np.uint8)}, "no video"),
        (Task.AUDIO_TO_VIDEO, {"audio": np.zeros(1000, np.float32)}, "34000"),
    ],
)
def test_bad_inputs_get_clear_errors(pipeline, task, inputs, message):
    with pytest.raises(InvalidRequestError, match=message):
        pipeline.run(task, "", **inputs)


def test_a_tampered_bundle_is_refused(bundle_dir, tmp_path):
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    path = copy / "lm.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"lm\.onnx"):
        Pipeline.open(copy)
