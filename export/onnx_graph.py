"""Export one method of a trained network (`encode`, `decode`, ...) as an ONNX graph with
dynamic dimensions and its weights embedded, written atomically.

Lessons from doing it (torch 2.13, the dynamo exporter): example sizes of 0 or 1 are
specialised into the graph, so examples use 2 or more; weights go to a side file unless
`external_data=False`; a fresh wrapper module starts in training mode, so it is put in eval.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from reelpoet.sdk.atomic_file import atomic_output


class _MethodGraph(nn.Module):
    """`model.<method>` as `forward`, for the exporter."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.method)(tensor)


def export_method(
    model: nn.Module,
    method: str,
    example: torch.Tensor,
    names: tuple[str, str],
    dims: dict[int, object],
    path: Path,
) -> Path:
    """Write `model.<method>(example)` as a graph with input/output `names` and dynamic `dims`
    (torch.export.Dim by axis of the input) to `path`."""
    graph = _MethodGraph(model, method).eval()
    with atomic_output(path) as temp:
        torch.onnx.export(
            graph,
            (example,),
            temp,
            dynamo=True,
            external_data=False,
            input_names=[names[0]],
            output_names=[names[1]],
            dynamic_shapes=(dims,),  # by position: the wrapper names its argument `tensor`
            verbose=False,
        )
    return path
