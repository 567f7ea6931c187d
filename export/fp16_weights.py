"""Store a graph's large float32 weights as float16 and cast them back to float32 inside the graph.

The tokenizers are convolution stacks: int8 dynamic quantization would change their arithmetic
(ConvInteger, slower on CPU and lossy where reconstructions are judged in dB), whereas half-size
storage costs one rounding of each weight and nothing at run time: onnxruntime folds each
`Cast(float16 constant)` into a float32 constant when it builds the session, so the graph computes
exactly as before, in float32, with the weights rounded once. This is what keeps the default
bundle under its size limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from reelpoet.sdk.atomic_file import atomic_output

# Small tensors (biases, norms, scalars) stay float32: rounding them saves nothing worth having.
MIN_ELEMENTS = 1024
# A float16-stored weight's initializer name: its float32 name (the Cast's output) plus this.
FP16_SUFFIX = "__fp16"


def store_weights_as_fp16(source: Path, path: Path, min_elements: int = MIN_ELEMENTS) -> Path:
    """Write `source` to `path` with float32 initializers of `min_elements` or more stored as
    float16 behind a Cast; return `path`."""
    model = onnx.load(source)
    graph = model.graph
    casts = []
    for index, initializer in enumerate(graph.initializer):
        if initializer.data_type != TensorProto.FLOAT:
            continue
        weights = numpy_helper.to_array(initializer)
        if weights.size < min_elements:
            continue
        if np.abs(weights).max() > np.finfo(np.float16).max:
            raise ValueError(f"{initializer.name} does not fit in float16")
        name = initializer.name  # read before CopyFrom: `initializer` is the element it rewrites
        half_name = name + FP16_SUFFIX
        graph.initializer[index].CopyFrom(
            numpy_helper.from_array(weights.astype(np.float16), half_name)
        )
        # The cast's output takes the weight's old name, so every consumer reads float32 as before.
        casts.append(helper.make_node("Cast", [half_name], [name], to=TensorProto.FLOAT))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)  # casts first: the node list must stay topologically sorted
    onnx.checker.check_model(model)
    with atomic_output(path) as temp:
        onnx.save(model, temp)
    return path
