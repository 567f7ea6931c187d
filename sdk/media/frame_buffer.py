"""A preallocated, growable ``(T, H, W, 3)`` uint8 array that frames are copied into.

Stacking a list of decoded frames at the end needs twice the memory and, for HD clips, takes
longer than decoding; writing each frame into its slot of one array as it arrives avoids both.
"""

from __future__ import annotations

import numpy as np


class FrameBuffer:
    """Append-only frames; ``array()`` is a view of the frames appended so far."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, capacity)
        self._data: np.ndarray | None = None  # allocated at the first frame, when H, W are known
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, frame: np.ndarray) -> None:
        if self._data is None:
            self._data = np.empty((self._capacity, *frame.shape), np.uint8)
        elif self._count == self._data.shape[0]:  # the estimate was short (variable frame rate)
            grown = np.empty((2 * self._count, *frame.shape), np.uint8)
            grown[: self._count] = self._data
            self._data = grown
        self._data[self._count] = frame
        self._count += 1

    def array(self) -> np.ndarray:
        assert self._data is not None and self._count > 0, "callers check len() first"
        return self._data[: self._count]
