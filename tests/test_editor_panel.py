"""The panel offscreen with a real local Client (the random-weights test bundle: right shapes and
timing, meaningless pictures): a timeline opens and draws offline media as offline, Extend runs
off the UI thread and places its clip, undo removes it, Cancel leaves everything as it was, a
rectangle drawn on the viewer is inpainted onto a layer above, and a score lands on an audio
track under its clip."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import: no display here

from reelpoet.editor_plugin import actions, provenance
from reelpoet.editor_plugin.actions import ActionRequest
from reelpoet.editor_plugin.edits import ItemRef
from reelpoet.sdk.media import read_video, write_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FIXTURES = Path(__file__).parent / "fixtures" / "editor"


@pytest.fixture(scope="module")
def qapp():
    from PyQt6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


@pytest.fixture
def panel(qapp, bundle_dir, tmp_path, media_dir):
    from reelpoet.editor_plugin.panel import EditorPanel

    clip = read_video(media_dir / "example2.mp4", size=(128, 72), fit="stretch")
    write_video(tmp_path / "example2.mp4", clip.frames, clip.fps)
    shutil.copy(FIXTURES / "two_shots.edl", tmp_path)
    widget = EditorPanel(bundle=str(bundle_dir), threads=1)
    widget.open_path(tmp_path / "two_shots.edl")
    yield widget
    widget.runner.cancel()
    widget.runner.wait()
    widget.deleteLater()


def _wait_for(condition, seconds=60.0) -> None:
    from PyQt6.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the job"
        QApplication.processEvents()
        time.sleep(0.01)


def test_extend_runs_off_the_ui_thread_is_placed_and_undone(panel):
    panel.select(ItemRef(0, 0))
    panel.task.setCurrentIndex(panel.task.findData("extend"))
    panel.seconds.setValue(0.5)
    panel.prompt.setText("the ball keeps rolling")
    steps = []
    panel.runner.progress.connect(lambda done, total: steps.append(done))
    started = time.monotonic()
    assert panel.start_action()
    assert panel.runner.running and not panel.run_button.isEnabled()  # returned at once
    assert time.monotonic() - started < 1.0
    _wait_for(lambda: not panel.runner.running)
    assert steps, "progress reached the UI thread"
    track = panel.document.timeline.tracks[0]
    assert [c.duration().value for c in track] == [12, 12, 12]
    meta = provenance.of(track[1])
    assert meta["task"] == "continuation" and meta["prompt"] == "the ball keeps rolling"
    manifest = (Path(panel.bundle.text()) / "manifest.json").read_bytes()
    assert meta["bundle_id"].startswith("test-")
    assert meta["bundle_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert panel.timeline_view.selection == ItemRef(0, 1)
    panel.undo_button.click()
    assert [c.name for c in panel.document.timeline.tracks[0]] == ["shot-a", "shot-b"]
    panel.redo_button.click()
    assert len(panel.document.timeline.tracks[0]) == 3


def test_cancel_leaves_the_timeline_and_media_folder_unchanged(panel):
    before = panel.document.snapshot()
    request = ActionRequest("extend", ItemRef(0, 1), seconds=4.0, variants=2)
    panel.runner.progress.connect(lambda done, total: panel.cancel_button.click())
    assert panel.start_action(request)
    _wait_for(lambda: not panel.runner.running)
    assert "cancelled" in panel.status.text()
    assert panel.document.snapshot() == before and not panel.document.history.can_undo
    assert not panel.document.media_folder.exists() or not any(
        panel.document.media_folder.iterdir()
    )
    assert panel.run_button.isEnabled()


def test_offline_clips_are_drawn_offline_and_refuse_actions(panel, shared_data):
    from PyQt6.QtGui import QColor

    from reelpoet.editor_plugin.timeline_view import COLOURS

    panel.open_path(shared_data / "timelines" / "simple_cut.otio")
    panel.resize(900, 600)
    view = panel.timeline_view
    image = view.grab().toImage()
    rect, _, _ = next(iter(view.item_rects()))
    offline = QColor(COLOURS["offline"]).rgb()
    row = int(rect.center().y())
    xs = range(int(rect.left()) + 2, int(rect.right()) - 2)
    assert sum(image.pixel(x, row) == offline for x in xs) > len(xs) // 4
    panel.select(ItemRef(0, 0))
    assert not panel.start_action() and "relink" in panel.status.text()


def test_a_rectangle_drawn_on_the_viewer_is_inpainted_on_a_layer_and_score_on_audio(panel):
    from PyQt6.QtCore import QPoint, Qt
    from PyQt6.QtTest import QTest

    panel.viewer.resize(256, 144)  # twice the 128x72 frame
    panel.select(ItemRef(0, 0))
    panel._show_frame(0.0)
    assert panel.viewer.frame.shape == (72, 128, 3)
    QTest.mousePress(panel.viewer, Qt.MouseButton.LeftButton, pos=QPoint(20, 10))
    QTest.mouseMove(panel.viewer, QPoint(100, 60))
    QTest.mouseRelease(panel.viewer, Qt.MouseButton.LeftButton, pos=QPoint(100, 60))
    panel.task.setCurrentIndex(panel.task.findData("inpaint"))
    assert actions.box_from_mask(panel.request().mask) == (10, 5, 50, 30)
    assert panel.start_action()
    _wait_for(lambda: not panel.runner.running)
    layer = panel.document.timeline.tracks[1]
    assert layer.kind == "Video" and [c.duration().value for c in layer] == [12]
    assert provenance.of(layer[0])["options"] == {"box": [10, 5, 50, 30], "mask": None}
    panel.select(ItemRef(0, 1))
    panel.task.setCurrentIndex(panel.task.findData("score"))
    assert panel.start_action()
    _wait_for(lambda: not panel.runner.running)
    audio = panel.document.timeline.tracks[2]
    assert audio.kind == "Audio" and [(type(i).__name__, i.duration().value) for i in audio] == [
        ("Gap", 12),
        ("Clip", 12),
    ]
