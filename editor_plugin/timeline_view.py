"""The timeline drawn to scale (Qt): a ruler, one row per track, clips with their names, gaps
left empty, offline media hatched in red, generated clips in teal, the selection outlined and a
playhead. Click selects an item and moves the playhead; Ctrl+wheel (or ``zoom``) zooms."""

from __future__ import annotations

import opentimelineio as otio
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from reelpoet.editor_plugin import media_paths, provenance
from reelpoet.editor_plugin.edits import ItemRef

RULER, ROW, HEADER = 20, 44, 70  # pixels: ruler height, track row height, track name column
# Qt geometry is 32-bit: a clip hours long at a high zoom (or a hostile 10^9-frame one) is
# clamped to this many pixels rather than overflowing.
MAX_PIXELS = 1_000_000
COLOURS = {"clip": "#4a6fa5", "generated": "#2a9d8f", "offline": "#8b2e2e", "selected": "#ffd166"}


class TimelineView(QWidget):
    selected = pyqtSignal(object)  # ItemRef or None
    playhead_moved = pyqtSignal(float)  # seconds

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.document = None
        self.selection: ItemRef | None = None
        self.playhead = 0.0
        self.pixels_per_second = 60.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(RULER + ROW)

    def set_document(self, document) -> None:
        self.document = document
        self.selection = None
        self.refresh()

    def refresh(self) -> None:
        tracks = len(self.document.timeline.tracks) if self.document else 1
        seconds = self.document.timeline.duration().to_seconds() if self.document else 0
        self.setMinimumSize(int(self._x(seconds)) + 40, RULER + ROW * max(1, tracks))
        self.update()

    def zoom(self, factor: float) -> None:
        self.pixels_per_second = min(4000.0, max(0.5, self.pixels_per_second * factor))
        self.refresh()

    def set_playhead(self, seconds: float) -> None:
        self.playhead = max(0.0, seconds)
        self.update()

    def _x(self, seconds: float) -> float:
        return min(MAX_PIXELS, HEADER + seconds * self.pixels_per_second)

    def item_rects(self):
        """(rect, ItemRef, item) for every track item, in widget coordinates."""
        if self.document is None:
            return
        for t, track in enumerate(self.document.timeline.tracks):
            y = RULER + t * ROW
            for i, item in enumerate(track):
                if isinstance(item, otio.schema.Transition):
                    continue
                span = item.range_in_parent()
                x0 = self._x(span.start_time.to_seconds())
                x1 = self._x(span.end_time_exclusive().to_seconds())
                yield QRectF(x0, y + 2, max(1.0, x1 - x0), ROW - 4), ItemRef(t, i), item

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e1e1e"))
        self._paint_ruler(painter)
        if self.document is not None:
            for t, track in enumerate(self.document.timeline.tracks):
                label = QRectF(2, RULER + t * ROW, HEADER - 4, ROW)
                painter.setPen(QColor("#cccccc"))
                painter.drawText(label, Qt.AlignmentFlag.AlignVCenter, track.name or track.kind)
            for rect, ref, item in self.item_rects():
                self._paint_item(painter, rect, ref, item)
        x = self._x(self.playhead)
        painter.setPen(QPen(QColor("#ff3b30"), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()

    def _paint_ruler(self, painter) -> None:
        painter.setPen(QColor("#888888"))
        step = max(1, round(80 / self.pixels_per_second))  # a label every ~80 px
        seconds = 0
        while self._x(seconds) < min(self.width(), MAX_PIXELS - 1):
            painter.drawText(QPointF(self._x(seconds) + 2, RULER - 6), f"{seconds}s")
            seconds += step

    def _paint_item(self, painter, rect, ref: ItemRef, item) -> None:
        if isinstance(item, otio.schema.Clip):
            state = self._state(item)
            painter.fillRect(rect, QColor(COLOURS[state]))
            if state == "offline":
                painter.fillRect(rect, QBrush(QColor("#000000"), Qt.BrushStyle.BDiagPattern))
            name = item.name + ("  (OFFLINE)" if state == "offline" else "")
            painter.setPen(QColor("#ffffff"))
            painter.drawText(rect.adjusted(4, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter, name)
        if ref == self.selection:
            painter.setPen(QPen(QColor(COLOURS["selected"]), 2))
            painter.drawRect(rect)

    def _state(self, clip) -> str:
        if media_paths.media_status(clip, self.document.base_dir) != media_paths.ONLINE:
            return "offline"
        return "generated" if provenance.of(clip) else "clip"

    # -- input -------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        point = event.position()
        hit = next((ref for rect, ref, _ in self.item_rects() if rect.contains(point)), None)
        self.selection = hit
        self.selected.emit(hit)
        seconds = max(0.0, (point.x() - HEADER) / self.pixels_per_second)
        self.set_playhead(seconds)
        self.playhead_moved.emit(seconds)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)
            event.accept()
        else:
            super().wheelEvent(event)
