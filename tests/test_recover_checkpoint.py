"""Recovering torch checkpoints from shipped ONNX graphs (export/recover_checkpoint.py): the
weights come back as the bundle stores them, and the recovered networks compute what the
bundle's graphs compute."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from reelpoet.export.audio_tokenizer_onnx import export_audio_tokenizer
from reelpoet.export.fp16_weights import store_weights_as_fp16
from reelpoet.export.lm_onnx import export_lm, quantize_lm
from reelpoet.export.recover_checkpoint import (
    RecoveryError,
    recover_bundle,
    recover_model,
)
from reelpoet.export.video_tokenizer_onnx import export_video_tokenizer
from reelpoet.models.audio_tokenizer import PRESETS as AUDIO_PRESETS
from reelpoet.models.audio_tokenizer import AudioTokenizer
from reelpoet.models.lm import PrefixLM, preset_config
from reelpoet.models.trained import load_audio_tokenizer, load_video_tokenizer
from reelpoet.models.video_tokenizer import PRESETS as VIDEO_PRESETS
from reelpoet.models.video_tokenizer import VideoTokenizer
from reelpoet.sdk.token_layout import TokenLayout

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "sdk" / "bundles" / "default"


def _perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Stand-in for training: every parameter moved off its initial value (norm weights of 1
    and biases of 0 included, which exporters fold or share when they are all equal)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return model.eval()


def _half_graphs(paths: dict[str, Path], names: dict[str, str], out: Path) -> dict[str, Path]:
    """The export's graphs with weights stored as float16, as the bundle ships them."""
    return {
        graph: store_weights_as_fp16(paths[key], out / f"{graph}.onnx", min_elements=16)
        for graph, key in names.items()
    }


def _fp16(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.half().float() if tensor.numel() >= 16 else tensor


def test_video_tokenizer_weights_come_back_as_stored(tmp_path):
    model = _perturbed(VideoTokenizer(VIDEO_PRESETS["tiny"]), seed=1)
    paths = export_video_tokenizer(model, tmp_path / "export")
    names = {"video_encoder": "encoder", "video_decoder": "decoder"}
    graphs = _half_graphs(paths, names, tmp_path)
    recovered = recover_model("video_tokenizer", graphs, model.cfg.to_dict())
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(recovered.state_dict()[name], _fp16(tensor), msg=name)


def test_audio_tokenizer_weights_and_codebooks_come_back(tmp_path):
    model = _perturbed(AudioTokenizer(AUDIO_PRESETS["tiny"]), seed=2)
    with torch.no_grad():
        model.quantizer.codebooks.add_(torch.randn_like(model.quantizer.codebooks))
    paths = export_audio_tokenizer(model, tmp_path / "export")
    names = {"audio_encoder": "encoder", "audio_decoder": "decoder"}
    graphs = _half_graphs(paths, names, tmp_path)
    recovered = recover_model("audio_tokenizer", graphs, model.cfg.to_dict())
    for name, param in model.named_parameters():
        torch.testing.assert_close(recovered.state_dict()[name], _fp16(param), msg=name)
    quantizer = recovered.quantizer
    torch.testing.assert_close(quantizer.codebooks, _fp16(model.quantizer.codebooks))
    # EMA statistics restart from the codebooks, so the next training step keeps them.
    torch.testing.assert_close(quantizer.embed_sum, quantizer.codebooks)
    assert quantizer.initialized.item() == 1.0


def test_lm_weights_come_back_within_the_int8_rounding(tmp_path):
    layout = TokenLayout()
    model = _perturbed(PrefixLM(preset_config("tiny", layout)), seed=3)
    fp32 = export_lm(model, tmp_path)["lm"]
    int8 = quantize_lm(fp32, tmp_path / "lm_int8.onnx")
    recovered = recover_model("lm", {"lm": int8}, model.cfg.to_dict())
    for name, param in model.named_parameters():
        got = recovered.state_dict()[name]
        if param.ndim < 2:
            torch.testing.assert_close(got, param, msg=name)  # norms stay float32
            continue
        # int8 with one scale per output channel (or per table): off by at most half a step.
        step = param.abs().max() / 127
        assert (got - param).abs().max() <= step * 0.51 + 1e-6, name
        assert not torch.equal(got, PrefixLM(model.cfg).state_dict()[name]), name


def test_a_graph_of_another_model_is_refused(tmp_path):
    model = VideoTokenizer(VIDEO_PRESETS["tiny"]).eval()
    paths = export_video_tokenizer(model, tmp_path)
    graphs = {"video_encoder": paths["encoder"], "video_decoder": paths["decoder"]}
    wider = {**model.cfg.to_dict(), "hi_channels": model.cfg.hi_channels * 2}
    with pytest.raises(RecoveryError):
        recover_model("video_tokenizer", graphs, wider)


def test_the_default_bundles_video_tokenizer_recovers_its_codes(tmp_path):
    """The shipped tokenizer, recovered, codes and decodes a clip as the shipped graphs do."""
    folders = recover_bundle(DEFAULT_BUNDLE, tmp_path, models=["video_tokenizer"])
    state = json.loads((folders["video_tokenizer"] / "state.json").read_text())
    assert state["step"] > 0 and state["recovered_from"]["bundle_id"].startswith("reelpoet-")
    model = load_video_tokenizer(folders["video_tokenizer"])
    pixels = np.random.default_rng(0).random((1, 5, 3, 64, 64), dtype=np.float32)
    encoder = ort.InferenceSession(str(DEFAULT_BUNDLE / "video_encoder.onnx"))
    shipped_codes = encoder.run(None, {"pixels": pixels})[0]
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(pixels)).numpy()
        decoded = model.decode(torch.from_numpy(shipped_codes)).numpy()
    assert (codes == shipped_codes).mean() >= 0.995
    decoder = ort.InferenceSession(str(DEFAULT_BUNDLE / "video_decoder.onnx"))
    np.testing.assert_allclose(decoded, decoder.run(None, {"codes": shipped_codes})[0], atol=1e-4)


def test_the_default_bundles_audio_tokenizer_recovers_its_codes(tmp_path):
    """Its encoder holds convs whose zero biases the exporter dropped; recovered as zeros, the
    network codes and decodes a second of sound as the shipped graphs do."""
    folders = recover_bundle(DEFAULT_BUNDLE, tmp_path, models=["audio_tokenizer"])
    model = load_audio_tokenizer(folders["audio_tokenizer"])
    t = np.arange(16000) / 16000
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t)
    noise = np.random.default_rng(0).normal(0, 0.05, 16000)
    samples = (chirp + noise).astype(np.float32)[None]
    encoder = ort.InferenceSession(str(DEFAULT_BUNDLE / "audio_encoder.onnx"))
    shipped_codes = encoder.run(None, {encoder.get_inputs()[0].name: samples})[0]
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(samples)).numpy()
        decoded = model.decode(torch.from_numpy(shipped_codes)).numpy()
    assert codes.shape == shipped_codes.shape
    assert (codes == shipped_codes).mean() >= 0.995
    decoder = ort.InferenceSession(str(DEFAULT_BUNDLE / "audio_decoder.onnx"))
    expected = decoder.run(None, {decoder.get_inputs()[0].name: shipped_codes})[0]
    np.testing.assert_allclose(decoded, expected, atol=1e-3)


def test_a_bundle_without_provenance_is_refused(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    manifest = json.loads((DEFAULT_BUNDLE / "manifest.json").read_text())
    manifest["provenance"] = {}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RecoveryError, match="no model_config for video_tokenizer"):
        recover_bundle(bundle, tmp_path / "out", models=["video_tokenizer"])
    assert not (tmp_path / "out").exists()
