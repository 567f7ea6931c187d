"""Float16-stored weights: half the bytes, float32 arithmetic, outputs within one rounding."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from reelpoet.export.fp16_weights import store_weights_as_fp16


def _matmul_graph(path, weight: np.ndarray, bias: np.ndarray) -> None:
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["y0"]),
            helper.make_node("Add", ["y0", "b"], ["y"]),
        ],
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", weight.shape[1]])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.save(model, path)


def _run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_weights_stored_half_size_and_outputs_match(tmp_path):
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(128, 96)).astype(np.float32)
    bias = rng.normal(size=96).astype(np.float32)  # under MIN_ELEMENTS: stays float32
    _matmul_graph(tmp_path / "fp32.onnx", weight, bias)
    store_weights_as_fp16(tmp_path / "fp32.onnx", tmp_path / "fp16.onnx")

    stored = {i.name: i.data_type for i in onnx.load(tmp_path / "fp16.onnx").graph.initializer}
    assert stored == {"w__fp16": TensorProto.FLOAT16, "b": TensorProto.FLOAT}
    assert (tmp_path / "fp16.onnx").stat().st_size < 0.55 * (tmp_path / "fp32.onnx").stat().st_size

    x = rng.normal(size=(4, 128)).astype(np.float32)
    expected = x @ weight.astype(np.float16).astype(np.float32) + bias  # one rounding, then fp32
    np.testing.assert_allclose(_run(tmp_path / "fp16.onnx", x), expected, rtol=1e-5, atol=1e-4)
    assert not np.allclose(_run(tmp_path / "fp32.onnx", x), expected, rtol=1e-7, atol=0)


def test_weights_beyond_float16_range_are_refused(tmp_path):
    weight = np.full((64, 64), 1e6, dtype=np.float32)
    _matmul_graph(tmp_path / "big.onnx", weight, np.zeros(64, np.float32))
    try:
        store_weights_as_fp16(tmp_path / "big.onnx", tmp_path / "out.onnx")
    except ValueError as error:
        assert "does not fit in float16" in str(error)
    else:
        raise AssertionError("an overflowing weight was silently stored as inf")
    assert not (tmp_path / "out.onnx").exists()
