"""Shared pytest fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
# Qt widget tests (pytest-qt) run without a display; set before any QApplication is made.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``: real sample files kept outside git."""
    data = REPO.parent / "shared" / "data"
    if not data.is_dir():
        pytest.skip(f"shared sample data not found at {data} (it lives beside the repo)")
    return data


@pytest.fixture(scope="session")
def media_dir(shared_data: Path) -> Path:
    """``<repo>/../shared/data/media``: smpte-2997.mp4, example2.mp4, example.wav, ..."""
    media = shared_data / "media"
    if not media.is_dir():
        pytest.skip(f"shared media samples not found at {media}")
    return media


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from a second thread, and beside a busy process torch's thread
    handoff costs 100x (measured: 2.9 ms a decode step at 1 thread, 317 ms at 2). Modules of
    tiny-model tests opt in: pytestmark = pytest.mark.usefixtures("one_torch_thread")."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _stand_in_text_encoder(folder: Path) -> Path:
    """(input_ids, attention_mask) -> (B, T, 384): sin(id * w), a graph of four nodes."""
    import onnx
    from onnx import TensorProto, helper

    from reelpoet.models.text_encoder import package_model_dir
    from reelpoet.sdk import text_encoder as text_files

    folder.mkdir()
    weights = helper.make_tensor("w", TensorProto.FLOAT, [384], np.linspace(0.01, 1, 384))
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids_f", "axis"], ["ids_3d"]),
        helper.make_node("Mul", ["ids_3d", "w"], ["scaled"]),
        helper.make_node("Sin", ["scaled"], ["last_hidden_state"]),
    ]
    axis = helper.make_tensor("axis", TensorProto.INT64, [1], [2])
    graph = helper.make_graph(
        nodes,
        "stand_in_text",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["B", "T"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["B", "T"]),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["B", "T", 384])],
        [weights, axis],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.save(model, folder / text_files.QUANTIZED_FILE)
    spec = text_files.TextEncoderSpec("stand-in", "0" * 64, "Apache-2.0")
    (folder / text_files.CONFIG_FILE).write_text(json.dumps(spec.to_dict()))
    tokenizer = (package_model_dir() / "tokenizer.json").read_bytes()
    (folder / text_files.TOKENIZER_FILE).write_bytes(tokenizer)
    return folder


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory):
    """A bundle of random networks (default video tokenizer, tiny audio tokenizer and LM, a
    stand-in text encoder): for runtime plumbing tests, assembled once per session."""
    import torch

    from reelpoet.export.assemble_bundle import assemble_bundle
    from reelpoet.models.audio_tokenizer import PRESETS as AUDIO_PRESETS
    from reelpoet.models.audio_tokenizer import AudioTokenizer
    from reelpoet.models.lm import LMConfig, PrefixLM
    from reelpoet.models.tokenizer_layout import layout_for
    from reelpoet.models.video_tokenizer import PRESETS as VIDEO_PRESETS
    from reelpoet.models.video_tokenizer import VideoTokenizer

    root = tmp_path_factory.mktemp("pipeline")
    torch.manual_seed(0)
    video = VideoTokenizer(VIDEO_PRESETS["default"]).eval()
    audio = AudioTokenizer(AUDIO_PRESETS["tiny"]).eval()
    layout = layout_for(video, audio)
    lm = PrefixLM(LMConfig.from_layout(layout, width=32, depth=2, heads=2, mlp_hidden=64)).eval()
    text = _stand_in_text_encoder(root / "text")
    provenance = {"note": "random weights, for tests"}
    assemble_bundle(root / "bundle", video, audio, lm, text, provenance, name="test")
    return root / "bundle"
