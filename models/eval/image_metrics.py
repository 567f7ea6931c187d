"""Reconstruction metrics on uint8 frames: PSNR and SSIM (scikit-image's reference SSIM)."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB over a whole clip or image of uint8 pixels (peak 255)."""
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean SSIM over frames of (T, H, W, 3) uint8 clips (or one (H, W, 3) image)."""
    ref, out = np.atleast_3d(reference), np.atleast_3d(test)
    if ref.ndim == 3:
        ref, out = ref[None], out[None]
    scores = [
        structural_similarity(r, o, channel_axis=-1, data_range=255)
        for r, o in zip(ref, out, strict=True)
    ]
    return float(np.mean(scores))


def code_usage(codes: np.ndarray, vocabulary: int) -> tuple[float, float]:
    """(fraction of the vocabulary used, entropy of the code histogram in bits)."""
    counts = np.bincount(codes.ravel(), minlength=vocabulary)
    probs = counts[counts > 0] / counts.sum()
    return float((counts > 0).mean()), float(-(probs * np.log2(probs)).sum())
