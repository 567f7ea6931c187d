"""The exported tokenizer matches torch (codes on >= 99.5% of positions, pixels within 1e-2 from
the same codes) on random and real input, and the runtime codec refuses bad input clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reelpoet.export.video_tokenizer_onnx import export_video_tokenizer
from reelpoet.models.video_tokenizer import PRESETS, VideoTokenizer
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import read_video
from reelpoet.sdk.video_codec import VideoCodec, VideoCodecSpec


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = VideoTokenizer(PRESETS["tiny"]).eval()
    with torch.no_grad():  # give the temporal taps weight, as training would
        for module in model.modules():
            if module.__class__.__name__ == "CausalTemporalConv":
                module.mix.weight.normal_(0, 0.05)
    paths = export_video_tokenizer(model, tmp_path_factory.mktemp("onnx"))
    codec = VideoCodec(
        paths["encoder"], paths["decoder"], VideoCodecSpec.from_config(model.cfg.to_dict())
    )
    return model, codec


def _torch_codes(model, frames: np.ndarray) -> np.ndarray:
    pixels = torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float() / 255
    return model.encode(pixels).numpy()


@pytest.mark.parametrize("num_frames", [1, 5, 9])
def test_codes_match_torch_on_random_input(exported, num_frames):
    model, codec = exported
    frames = np.random.default_rng(num_frames).integers(
        0, 256, (3, num_frames, 32, 32, 3), np.uint8
    )
    agreement = (codec.encode(frames) == _torch_codes(model, frames)).mean()
    assert agreement >= 0.995


def test_codes_and_pixels_match_torch_on_real_footage(exported, media_dir):
    model, codec = exported
    clip = read_video(media_dir / "smpte-2997.mp4", (1.0, 3.125), fps=8, size=(32, 32), fit="crop")
    frames = clip.frames[None, :17]
    codes = codec.encode(frames)
    assert codes.shape == (1, 5, 4, 4)
    assert (codes == _torch_codes(model, frames)).mean() >= 0.995
    reference = model.decode(torch.from_numpy(codes)).permute(0, 1, 3, 4, 2).numpy()
    decoded = codec.decode(codes).astype(np.float32) / 255
    assert np.abs(decoded - reference).max() <= 1e-2


def test_a_single_clip_without_batch_dim_round_trips(exported):
    _, codec = exported
    frames = np.zeros((5, 32, 32, 3), np.uint8)
    codes = codec.encode(frames)
    assert codes.shape == (2, 4, 4)
    assert codec.decode(codes).shape == (5, 32, 32, 3)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((4, 32, 32, 3), np.uint8), "1 \\+ 4k frames"),
        (np.zeros((5, 64, 64, 3), np.uint8), "resize"),
        (np.zeros((5, 32, 32), np.uint8), "RGB"),
        (np.zeros((5, 32, 32, 3), np.int32), "uint8 or float"),
        (np.full((5, 32, 32, 3), np.nan, np.float32), "NaN"),
        (np.full((5, 32, 32, 3), 2.0, np.float32), "\\[0, 1\\]"),
        (np.zeros((0, 5, 32, 32, 3), np.uint8), "empty"),
    ],
)
def test_bad_frames_are_refused_with_a_clear_error(exported, frames, message):
    _, codec = exported
    with pytest.raises(InvalidRequestError, match=message):
        codec.encode(frames)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (np.full((2, 4, 4), 64), "\\[0, 64\\)"),
        (np.full((2, 4, 4), -1), "\\[0, 64\\)"),
        (np.zeros((2, 8, 8), np.int64), "\\(t, 4, 4\\)"),
        (np.zeros((2, 4, 4), np.float32), "integers"),
    ],
)
def test_bad_codes_are_refused_with_a_clear_error(exported, codes, message):
    _, codec = exported
    with pytest.raises(InvalidRequestError, match=message):
        codec.decode(codes)


def test_a_broken_model_file_is_a_bundle_error(tmp_path):
    from reelpoet.sdk.errors import BundleError
    from reelpoet.sdk.onnx_session import create_session

    (tmp_path / "broken.onnx").write_bytes(b"not a graph")
    with pytest.raises(BundleError, match=r"broken\.onnx"):
        create_session(tmp_path / "broken.onnx")
    with pytest.raises(BundleError, match="missing"):
        create_session(tmp_path / "absent.onnx")
