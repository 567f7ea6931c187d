"""reelpoet runtime: media in and out, and (from later issues) local and remote inference.

Imports no torch: this package runs on numpy, PyAV, onnxruntime, OpenTimelineIO and httpx.
"""

from reelpoet.sdk.errors import (
    BundleError,
    BundleNotInstalledError,
    CorruptMediaError,
    InvalidRequestError,
    InvalidTimeRangeError,
    MediaError,
    MediaNotFoundError,
    MediaWriteError,
    ReelpoetError,
    UnsupportedMediaError,
)

__version__ = "0.1.0"

__all__ = [
    "BundleError",
    "BundleNotInstalledError",
    "CorruptMediaError",
    "InvalidRequestError",
    "InvalidTimeRangeError",
    "MediaError",
    "MediaNotFoundError",
    "MediaWriteError",
    "ReelpoetError",
    "UnsupportedMediaError",
    "__version__",
]
