"""The video tokenizer at run time: frames -> integer codes -> frames, on onnxruntime.

Inputs are checked here, before onnxruntime sees them, so a wrong size or a NaN gives a reelpoet
error that says what to do instead of a crash deep inside a graph.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.onnx_session import create_session

SPATIAL_STRIDE = 8
TEMPORAL_STRIDE = 4


@dataclass(frozen=True)
class VideoCodecSpec:
    image_size: int  # frames are image_size x image_size
    codebook_bits: int  # codes are integers in [0, 2^bits)

    @classmethod
    def from_config(cls, config: dict) -> VideoCodecSpec:
        return cls(int(config["image_size"]), int(config["codebook_bits"]))

    @property
    def vocabulary(self) -> int:
        return 2**self.codebook_bits


def _as_batch(array: np.ndarray, dims: int) -> tuple[np.ndarray, bool]:
    """Accept one clip or a batch of clips; return (batch, whether a batch was given)."""
    if array.ndim == dims - 1:
        return array[None], False
    return array, True


class VideoCodec:
    """Encoder and decoder ONNX graphs with the checks a caller's data needs."""

    def __init__(
        self,
        encoder: str | os.PathLike[str],
        decoder: str | os.PathLike[str],
        spec: VideoCodecSpec,
        threads: int | None = None,
    ) -> None:
        self.spec = spec
        self._encoder = create_session(encoder, threads)
        self._decoder = create_session(decoder, threads)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) or (B, T, H, W, 3) frames, uint8 or floats in [0, 1] -> int64 codes
        (t, h, w) or (B, t, h, w), with T = 1 + 4(t - 1) and h = H / 8."""
        batch, batched = _as_batch(np.asarray(frames), 5)
        pixels = self._check_frames(batch)
        (codes,) = self._encoder.run(None, {"pixels": pixels.transpose(0, 1, 4, 2, 3)})
        return codes if batched else codes[0]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(t, h, w) or (B, t, h, w) integer codes -> uint8 frames (T, H, W, 3) or (B, ...)."""
        batch, batched = _as_batch(np.asarray(codes), 4)
        checked = self._check_codes(batch)
        (pixels,) = self._decoder.run(None, {"codes": checked})
        frames = np.round(pixels.transpose(0, 1, 3, 4, 2) * 255).astype(np.uint8)
        return frames if batched else frames[0]

    def _check_frames(self, frames: np.ndarray) -> np.ndarray:
        side = self.spec.image_size
        if frames.ndim != 5 or frames.shape[2:] != (side, side, 3):
            raise InvalidRequestError(
                f"frames must be (T, {side}, {side}, 3) or (B, T, {side}, {side}, 3) RGB, got "
                f"{frames.shape}; resize with reelpoet.sdk.media.resize_frames first"
            )
        if frames.shape[0] == 0:
            raise InvalidRequestError("the batch of clips is empty")
        if (frames.shape[1] - 1) % TEMPORAL_STRIDE:
            raise InvalidRequestError(
                f"a clip must have 1 + 4k frames (1, 5, 9, 13, 17, ...), got {frames.shape[1]}"
            )
        if frames.dtype == np.uint8:
            return frames.astype(np.float32) / 255.0
        if not np.issubdtype(frames.dtype, np.floating):
            raise InvalidRequestError(
                f"frames must be uint8 or float in [0, 1], not {frames.dtype}"
            )
        if not np.isfinite(frames).all():
            raise InvalidRequestError("frames contain NaN or infinite values")
        if frames.min() < 0.0 or frames.max() > 1.0:
            raise InvalidRequestError(
                f"float frames must lie in [0, 1], got [{frames.min():.3g}, {frames.max():.3g}]"
            )
        return frames.astype(np.float32)

    def _check_codes(self, codes: np.ndarray) -> np.ndarray:
        side = self.spec.image_size // SPATIAL_STRIDE
        if codes.ndim != 4 or codes.shape[2:] != (side, side) or 0 in codes.shape[:2]:
            raise InvalidRequestError(
                f"codes must be (t, {side}, {side}) or (B, t, {side}, {side}), got {codes.shape}"
            )
        if not np.issubdtype(codes.dtype, np.integer):
            raise InvalidRequestError(f"codes must be integers, not {codes.dtype}")
        if codes.min() < 0 or codes.max() >= self.spec.vocabulary:
            raise InvalidRequestError(
                f"codes must lie in [0, {self.spec.vocabulary}), got [{codes.min()}, {codes.max()}]"
            )
        return codes.astype(np.int64)
