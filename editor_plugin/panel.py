"""The editor panel (Qt): a QWidget a host application can put in a QDockWidget.

A thin view over the model: ``TimelineDocument`` holds the timeline and its undo history,
``actions`` prepares, renders and places results, ``nle_export`` writes NLE files. The panel
builds an ``ActionRequest`` from its form, renders it on a ``JobRunner`` thread (progress bar,
Cancel) and places the result on the UI thread as one undoable edit.
"""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from reelpoet.editor_plugin import actions, edits, media_paths, nle_export, provenance
from reelpoet.editor_plugin.actions import ActionRequest
from reelpoet.editor_plugin.errors import OverwriteRefusedError
from reelpoet.editor_plugin.jobs import JobRunner
from reelpoet.editor_plugin.timeline_document import READ_ADAPTERS, TimelineDocument
from reelpoet.editor_plugin.timeline_view import TimelineView
from reelpoet.editor_plugin.viewer import Viewer
from reelpoet.sdk.client import Client
from reelpoet.sdk.errors import CancelledError, ReelpoetError

AUTOSAVE_MS = 60_000  # a minute of work at most is lost to a crash
LABELS = {
    "extend": "Extend",
    "inpaint": "Inpaint",
    "outpaint": "Outpaint",
    "score": "Score",
    "generate": "Generate into gap",
    "stylize": "Stylize",
}


class EditorPanel(QWidget):
    def __init__(self, parent=None, bundle: str | None = None, threads=None) -> None:
        super().__init__(parent)
        self.threads = threads  # onnxruntime threads per session (None: its default)
        self.document: TimelineDocument | None = None
        self.runner = JobRunner(self)
        self._clients: dict[str, object] = {}  # bundle folder -> Client, opened once
        self.confirm = self._ask  # (question) -> bool; tests replace it
        self.status = QLabel("Open a timeline or a media file")
        self.timeline_view, self.viewer = TimelineView(), Viewer()
        self._build(bundle)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_rendered)
        self.runner.failed.connect(self._on_failed)
        self.timeline_view.selected.connect(self._on_selected)
        self.timeline_view.playhead_moved.connect(self._show_frame)
        self._autosave = QTimer(self, interval=AUTOSAVE_MS, timeout=self._autosave_now)
        self._play = QTimer(self, timeout=self._advance)

    # -- layout ------------------------------------------------------------------------------------
    def _build(self, bundle) -> None:
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.timeline_view)
        split = QSplitter()
        split.setOrientation(split.orientation().Vertical)
        split.addWidget(self.viewer)
        split.addWidget(scroll)
        layout = QVBoxLayout(self)
        layout.addLayout(self._toolbar())
        layout.addWidget(split, 1)
        layout.addLayout(self._form(bundle))
        layout.addWidget(self.status)

    def _button(self, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        return button

    def _toolbar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.undo_button = self._button("Undo", lambda: self._history("undo"))
        self.redo_button = self._button("Redo", lambda: self._history("redo"))
        self.play_button = self._button("Play", self.toggle_play)
        for widget in (
            self._button("Open…", self._open_dialog),
            self._button("Save", lambda: self.save()),
            self._button("Save As…", self._save_as_dialog),
            self._button("Export…", self._export_dialog),
            self.undo_button,
            self.redo_button,
            self._button("Relink…", self._relink_dialog),
            self.play_button,
            self._button("Zoom +", lambda: self.timeline_view.zoom(1.25)),
            self._button("Zoom −", lambda: self.timeline_view.zoom(0.8)),
        ):
            row.addWidget(widget)
        row.addStretch(1)
        return row

    def _form(self, bundle) -> QFormLayout:
        form = QFormLayout()
        self.task = QComboBox()
        for task in actions.TASKS:
            self.task.addItem(LABELS[task], task)
        self.prompt = QLineEdit(placeholderText="optional prompt")
        self.seconds = QDoubleSpinBox(minimum=0.125, maximum=60, value=2.0, singleStep=0.125)
        self.head = QCheckBox("at the head (before the clip)")
        self.new_track = QCheckBox("on a new track")
        self.aspect = QDoubleSpinBox(minimum=0.2, maximum=5, value=16 / 9, decimals=3)
        self.mask_mode = QComboBox()
        self.mask_mode.addItems(["rect", "brush"])
        self.mask_mode.currentTextChanged.connect(self._set_mask_mode)
        self.variants = QSpinBox(minimum=1, maximum=actions.MAX_VARIANTS, value=1)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.prores = QCheckBox("ProRes .mov (else H.264 .mp4)")
        self.bundle = QLineEdit(bundle or "", placeholderText="bundle folder (default)")
        self.server = QLineEdit(placeholderText="server URL (empty: run locally)")
        self.token = QLineEdit(placeholderText="server token")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.variant_choice = QComboBox(enabled=False)
        self.variant_choice.activated.connect(self._pick_variant)
        self.progress = QProgressBar()
        self.run_button = self._button("Run", self.start_action)
        self.cancel_button = self._button("Cancel", self.runner.cancel)
        self.cancel_button.setEnabled(False)
        run = QHBoxLayout()
        for widget in (self.run_button, self.progress, self.cancel_button):
            run.addWidget(widget)
        for label, widget in (
            ("Action", self.task), ("Prompt", self.prompt), ("Seconds", self.seconds),
            ("", self.head), ("", self.new_track), ("Outpaint aspect", self.aspect),
            ("Inpaint mask", self.mask_mode), ("Variants", self.variants),
            ("Seed", self.seed), ("", self.prores), ("Bundle", self.bundle),
            ("Server", self.server), ("Token", self.token),
            ("Active variant", self.variant_choice),
        ):  # fmt: skip
            form.addRow(label, widget)
        form.addRow(run)
        return form

    # -- documents ---------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> None:
        self.set_document(TimelineDocument.open(path))

    def set_document(self, document: TimelineDocument) -> None:
        self.document = document
        document.listeners.append(self._on_changed)
        self.timeline_view.set_document(document)
        self._on_changed()
        clips = document.timeline.find_clips()
        offline = [c for c in clips if media_paths.clip_media_path(c, document.base_dir) is None]
        status = f"{document.name}: {len(clips)} clips, {len(offline)} offline"
        if document.restored_records:
            status += f", {document.restored_records} generation records from the export sidecar"
        self.status.setText(status)
        autosave = document.newer_autosave()
        if autosave and self.confirm(f"Open the newer autosave {autosave.name}?"):
            recovered = TimelineDocument.open(autosave)
            recovered.path, recovered.base_dir = None, document.base_dir
            self.set_document(recovered)

    def save(self, path: str | Path | None = None) -> Path | None:
        """Save; asks before replacing an existing file (the one opened included)."""
        try:
            return self.document.save(path)
        except OverwriteRefusedError as exc:
            if self.document.path is None and path is None:
                return self._save_as_dialog()
            if self.confirm(f"{exc}\n\nReplace it?"):
                return self.document.save(path, overwrite=True)
        return None

    def _history(self, step: str) -> None:
        if self.document is not None:
            getattr(self.document, step)()

    def _on_changed(self) -> None:
        doc = self.document
        self.undo_button.setEnabled(doc.history.can_undo)
        self.undo_button.setToolTip(doc.history.undo_text)
        self.redo_button.setEnabled(doc.history.can_redo)
        self.redo_button.setToolTip(doc.history.redo_text)
        self.timeline_view.refresh()
        self._on_selected(self.timeline_view.selection)
        title = f"{doc.name}{' *' if doc.is_modified else ''}"
        self.setWindowTitle(f"reelpoet — {title}")

    def _autosave_now(self) -> None:
        """Runs from a timer: a failure (the folder gone, the disk full) is reported in the
        status line, never raised into the event loop, and the next tick tries again."""
        if self.document is None:
            return
        try:
            self.document.autosave()
        except (ReelpoetError, OSError) as exc:
            self.status.setText(f"autosave failed: {exc}")

    def showEvent(self, event) -> None:
        self._autosave.start()  # autosave while the panel is open, not after it is closed
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        self._autosave.stop()
        super().closeEvent(event)

    # -- selection, viewer, play -------------------------------------------------------------------
    def select(self, ref) -> None:
        self.timeline_view.selection = ref
        self.timeline_view.update()
        self._on_selected(ref)

    def _on_selected(self, ref) -> None:
        self.variant_choice.clear()
        item = self._item(ref)
        keys = provenance.variants(item) if isinstance(item, otio.schema.Clip) else []
        for key in keys:
            self.variant_choice.addItem(key, key)
        self.variant_choice.setEnabled(len(keys) > 1)
        if keys:
            self.variant_choice.setCurrentIndex(keys.index(item.active_media_reference_key))
        if item is not None:
            self.status.setText(self._describe(item))

    def _item(self, ref):
        if ref is None or self.document is None:
            return None
        try:
            return ref.item(self.document.timeline)
        except ReelpoetError:
            return None

    def _describe(self, item) -> str:
        meta = provenance.of(item)
        if meta:
            return f"{item.name}: {meta['task']}, seed {meta['seed']}, {meta['prompt']!r}"
        if isinstance(item, otio.schema.Clip):
            return f"{item.name}: {media_paths.media_status(item, self.document.base_dir)}"
        return f"gap of {item.duration().to_seconds():.3f} s"

    def _show_frame(self, seconds: float) -> None:
        """The top video track's clip under the playhead, as the cut shows it."""
        for track in reversed(self.document.timeline.video_tracks()):
            for item in track.find_clips(shallow_search=True):
                span = item.range_in_parent()
                offset = seconds - span.start_time.to_seconds()
                if 0 <= offset < span.duration.to_seconds():
                    self._show_item_frame(item, offset)
                    return
        self.viewer.show_message("no clip under the playhead")

    def _show_item_frame(self, clip, offset: float) -> None:
        path = media_paths.clip_media_path(clip, self.document.base_dir)
        if path is None:
            self.viewer.show_message(f"OFFLINE: {clip.name}")
            return
        start, _ = actions.media_seconds(clip, clip.trimmed_range())
        self.viewer.show_media(path, start + offset)

    def toggle_play(self) -> None:
        if self._play.isActive():
            self._play.stop()
            self.play_button.setText("Play")
        elif self.document is not None:
            rate = self.document.timeline.duration().rate or 24
            self._play.start(max(1, round(1000 / rate)))
            self.play_button.setText("Pause")

    def _advance(self) -> None:
        rate = self.document.timeline.duration().rate or 24
        seconds = self.timeline_view.playhead + 1 / rate
        if seconds >= self.document.timeline.duration().to_seconds():
            self.toggle_play()
            return
        self.timeline_view.set_playhead(seconds)
        self._show_frame(seconds)

    def _set_mask_mode(self, mode: str) -> None:
        self.viewer.mask_mode = mode

    # -- actions -----------------------------------------------------------------------------------
    def request(self) -> ActionRequest:
        """The form as an ActionRequest on the selected item."""
        task = self.task.currentData()
        return ActionRequest(
            task,
            self.timeline_view.selection,
            prompt=self.prompt.text(),
            seconds=self.seconds.value(),
            head=self.head.isChecked(),
            new_track=self.new_track.isChecked(),
            mask=self.viewer.painted_mask() if task == "inpaint" else None,
            aspect=self.aspect.value(),
            variants=self.variants.value(),
            seed=self.seed.value(),
            prores=self.prores.isChecked(),
        )

    def start_action(self, request: ActionRequest | None = None) -> bool:
        """Prepare on this thread, render on the runner's; False (and why, in the status
        line) if it cannot start."""
        request = request or self.request()
        if self.document is None or request.target is None:
            self.status.setText("Select a clip (or a gap, to generate into it)")
            return False
        url, bundle = self.server.text().strip(), self.bundle.text().strip() or None
        try:
            job = actions.prepare(self.document, request)
        except ReelpoetError as exc:
            self.status.setText(str(exc))
            return False
        where = (url, self.token.text().strip(), bundle)
        self.runner.start(
            lambda progress, cancelled: actions.render(
                job, self._client(*where), progress, cancelled
            )
        )
        self._running(True, f"{LABELS[request.task]}: {job.name}…")
        return True

    def _client(self, url: str, token: str, bundle: str | None):
        """A server's client when a URL is set, else the local one for the bundle; opened on
        first use, on the worker thread (loading a bundle takes a while)."""
        key = f"{url}|{token}" if url else f"local|{bundle or ''}"
        if key not in self._clients:
            self._clients[key] = (
                Client.remote(url, token or None) if url else Client.local(bundle, self.threads)
            )
        return self._clients[key]

    def _running(self, running: bool, text: str) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setValue(0)
        self.status.setText(text)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)

    def _on_rendered(self, rendered) -> None:
        try:
            ref = actions.place(self.document, rendered)
        except ReelpoetError as exc:
            self._running(False, str(exc))
            return
        self.select(ref)
        name = ref.item(self.document.timeline).name
        if rendered.job.adds_variants:
            count = len(rendered.files)
            self._running(False, f"added {count} variant(s) to {name}; see Active variant")
        else:
            self._running(False, f"placed {name}")

    def _on_failed(self, exc: BaseException) -> None:
        if isinstance(exc, CancelledError):
            self._running(False, "cancelled: the timeline is unchanged")
        else:
            self._running(False, f"failed: {exc}")

    def _pick_variant(self, index: int) -> None:
        ref, key = self.timeline_view.selection, self.variant_choice.itemData(index)
        self.document.apply(f"Variant {key}", lambda t: edits.set_variant(t, ref, key))

    # -- dialogs -----------------------------------------------------------------------------------
    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "reelpoet", question)
        return answer == QMessageBox.StandardButton.Yes

    def _open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in READ_ADAPTERS)
        name, _ = QFileDialog.getOpenFileName(
            self, "Open", "", f"Timelines ({patterns});;Media (*.mp4 *.mov *.webm *.mkv)"
        )
        if name:
            try:
                self.open_path(name)
            except ReelpoetError as exc:
                self.status.setText(str(exc))

    def _save_as_dialog(self) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save As", f"{self.document.name}.otio", "OTIO (*.otio *.otioz)"
        )
        return self.save(name) if name else None

    def _export_dialog(self) -> None:
        filters = ";;".join(f"{f} (*{s})" for f, (_, s, _) in nle_export.FORMATS.items())
        name, _ = QFileDialog.getSaveFileName(self, "Export", self.document.name, filters)
        if not name:
            return
        overwrite = Path(name).exists() and self.confirm(f"Replace {name}?")
        try:
            report = nle_export.export_timeline(
                self.document.timeline, self.document.base_dir, name, overwrite=overwrite
            )
        except ReelpoetError as exc:
            self.status.setText(str(exc))
            return
        gaps = ", ".join(report.replaced_by_gaps)
        skipped = f"; exported as gaps (no media): {gaps}" if gaps else ""
        self.status.setText(f"exported {report.path.name}{skipped} {' '.join(report.notes)}")

    def _relink_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Relink offline media from")
        if folder and self.document is not None:
            base = self.document.base_dir
            count = self.document.apply(
                "Relink", lambda t: media_paths.relink(t, base, Path(folder))
            )
            self.status.setText(f"relinked {count} clip(s)")
