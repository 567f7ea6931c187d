"""The viewer (Qt): the frame under the playhead, and a mask drawn on it for inpainting.

Frames come from ``reelpoet.sdk.media.read_video`` (frame-accurate). The mask is a rectangle
(drag) or a brush (paint), kept at the shown media's size; ``painted_mask`` gives it for
inpainting (``actions`` sends a filled rectangle as a box, any other shape as the mask).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from reelpoet.editor_plugin.actions import box_from_mask
from reelpoet.sdk.errors import ReelpoetError
from reelpoet.sdk.media import probe, read_video

BRUSH_RADIUS = 0.03  # of the frame's width: a brush stroke about 1/16 of the picture across


class Viewer(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.frame: np.ndarray | None = None  # (H, W, 3) uint8 shown
        self.message = "no clip"
        self.mask_mode = "rect"  # or "brush"
        self.mask: np.ndarray | None = None  # (H, W) bool, source pixels
        self._drag_from: tuple[int, int] | None = None
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_media(self, path, seconds: float) -> None:
        """The frame of ``path`` showing at ``seconds`` (from its first frame): the one that
        starts at or before it (a range that starts between two frames holds none)."""
        try:
            info = probe(path).video
            if info is None:
                self.show_message(f"{Path(path).name} has no picture")
                return
            start = math.floor(seconds * info.fps + 1e-6) / info.fps  # tolerates 0.2 * 24 = 4.8
            clip = read_video(path, (float(start), float(start + 1 / info.fps)))
        except ReelpoetError as exc:  # unreadable media, or a time past its end
            self.show_message(str(exc))
            return
        self.frame, self.message = clip.frames[0], ""
        if self.mask is None or self.mask.shape != self.frame.shape[:2]:
            self.mask = np.zeros(self.frame.shape[:2], bool)
        self.update()

    def show_message(self, text: str) -> None:
        self.frame, self.message = None, text
        self.update()

    def clear_mask(self) -> None:
        if self.mask is not None:
            self.mask[:] = False
        self.update()

    def painted_mask(self) -> np.ndarray | None:
        """A copy of the (H, W) mask in source pixels, or None when nothing is painted."""
        return None if self.mask is None or not self.mask.any() else self.mask.copy()

    def mask_box(self) -> tuple[int, int, int, int] | None:
        return None if self.mask is None else box_from_mask(self.mask)

    # -- drawing -----------------------------------------------------------------------------------
    def _image_rect(self) -> QRectF:
        h, w = self.frame.shape[:2]
        scale = min(self.width() / w, self.height() / h)
        return QRectF(
            (self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale
        )

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#000000"))
        if self.frame is None:
            painter.setPen(QColor("#ff6b6b"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
        else:
            target = self._image_rect()
            painter.drawImage(target, _qimage(self.frame))
            if self.mask is not None and self.mask.any():
                overlay = np.zeros((*self.mask.shape, 4), np.uint8)
                overlay[self.mask] = (255, 40, 40, 110)
                painter.drawImage(target, _qimage(overlay, QImage.Format.Format_RGBA8888))
                box = self.mask_box()
                painter.setPen(QPen(QColor("#ffd166"), 1, Qt.PenStyle.DashLine))
                painter.drawRect(self._to_widget(box))
        painter.end()

    def _to_widget(self, box) -> QRectF:
        target, (h, w) = self._image_rect(), self.frame.shape[:2]
        sx, sy = target.width() / w, target.height() / h
        x0, y0, x1, y1 = box
        return QRectF(target.x() + x0 * sx, target.y() + y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy)

    def _to_source(self, point: QPointF) -> tuple[int, int]:
        target, (h, w) = self._image_rect(), self.frame.shape[:2]
        x = (point.x() - target.x()) * w / target.width()
        y = (point.y() - target.y()) * h / target.height()
        return int(np.clip(x, 0, w)), int(np.clip(y, 0, h))

    # -- mask input --------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if self.frame is None:
            return
        self._drag_from = self._to_source(event.position())
        if self.mask_mode == "rect":
            self.mask[:] = False
        self.mouseMoveEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_from is None:
            return
        x, y = self._to_source(event.position())
        if self.mask_mode == "rect":
            (x0, x1), (y0, y1) = (
                sorted((self._drag_from[0], x)),
                sorted((self._drag_from[1], y)),
            )
            self.mask[:] = False
            self.mask[y0:y1, x0:x1] = True
        else:
            self.paint_brush(x, y)
        self.update()

    def mouseReleaseEvent(self, event) -> None:
        self._drag_from = None

    def paint_brush(self, x: int, y: int) -> None:
        h, w = self.mask.shape
        radius = max(1.0, BRUSH_RADIUS * w)
        ys, xs = np.ogrid[:h, :w]
        self.mask |= (xs - x) ** 2 + (ys - y) ** 2 <= radius**2


def _qimage(pixels: np.ndarray, fmt=QImage.Format.Format_RGB888) -> QImage:
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    # copy(): the QImage must own its bytes, the numpy buffer may go away
    return QImage(pixels.data, w, h, pixels.strides[0], fmt).copy()
