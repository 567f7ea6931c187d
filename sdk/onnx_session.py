"""onnxruntime sessions: the CUDA provider when this machine has one, the CPU provider otherwise,
with thread counts set explicitly (onnxruntime's default of one thread per core also spins
threads while idle, which starves the rest of an editor's process)."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort

from reelpoet.sdk.errors import BundleError


def _providers() -> list[str]:
    available = ort.get_available_providers()
    # TensorRT is left out on purpose: it compiles engines for minutes on first use.
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def create_session(
    path: str | os.PathLike[str], threads: int | None = None
) -> ort.InferenceSession:
    """Open one ONNX graph; a missing or unreadable file is a BundleError naming it."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"model file {path} is missing; reinstall or re-export the bundle")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=_providers())
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise BundleError(f"cannot load model file {path}: {exc}") from exc
