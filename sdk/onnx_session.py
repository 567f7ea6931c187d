"""onnxruntime sessions: the CUDA provider when this machine can really run it, the CPU provider
otherwise, with thread counts set explicitly (onnxruntime's default of one spinning thread per
core starves the rest of an editor's process).

onnxruntime-gpu lists CUDAExecutionProvider even where the CUDA libraries are missing, then
logs errors and falls back to CPU on every session. We ask for CUDA once, quietly, and remember
whether it took, so CPU-only machines get neither the noise nor the repeated attempt.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import onnxruntime as ort

from reelpoet.sdk.errors import BundleError

_log = logging.getLogger(__name__)
_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_QUIET = 4  # onnxruntime logger severity: fatal only
_cuda_works: bool | None = None  # unknown until the first session tries it


def _options(threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _open(path: Path, threads: int | None) -> ort.InferenceSession:
    global _cuda_works
    # TensorRT is left out on purpose: it compiles engines for minutes on first use.
    wants_cuda = _cuda_works is not False and _CUDA in ort.get_available_providers()
    if not wants_cuda:
        return ort.InferenceSession(str(path), _options(threads), providers=[_CPU])
    options = _options(threads)
    options.log_severity_level = _QUIET
    ort.set_default_logger_severity(_QUIET)  # the provider-library error goes to this logger
    try:
        session = ort.InferenceSession(str(path), options, providers=[_CUDA, _CPU])
    finally:
        ort.set_default_logger_severity(2)  # back to onnxruntime's default (warnings)
    _cuda_works = _CUDA in session.get_providers()
    if not _cuda_works:
        _log.info("onnxruntime's CUDA provider is not usable here; running on the CPU")
    return session


def create_session(
    path: str | os.PathLike[str], threads: int | None = None
) -> ort.InferenceSession:
    """Open one ONNX graph; a missing or unreadable file is a BundleError naming it."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"model file {path} is missing; reinstall or re-export the bundle")
    try:
        return _open(path, threads)
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise BundleError(f"cannot load model file {path}: {exc}") from exc
