"""The panel offscreen (pytest-qt's ``qtbot``; ``QT_QPA_PLATFORM=offscreen`` from conftest) with
a real local Client (the random-weights test bundle: right shapes and timing, meaningless
pictures) on a timeline whose media is a real file: Extend runs off the UI thread and places its
clip, undo removes it, Cancel mid-job leaves everything as it was, a rectangle drawn on the
viewer is inpainted onto a layer above, a score lands on an audio track under its clip, a gap
is filled from both its neighbours; every shared timeline opens and offline media is drawn
offline."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import opentimelineio as otio
import pytest

from reelpoet.editor_plugin import actions, provenance
from reelpoet.editor_plugin.actions import ActionRequest
from reelpoet.editor_plugin.edits import ItemRef
from reelpoet.editor_plugin.errors import UnsupportedTimelineError
from reelpoet.sdk.media import probe, read_video, write_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FIXTURES = Path(__file__).parent / "fixtures" / "editor"
JOB_MS = 120_000  # a job on the test bundle takes seconds; this only bounds a hang


@pytest.fixture
def panel(qtbot, bundle_dir, tmp_path, media_dir):
    from reelpoet.editor_plugin.panel import EditorPanel

    clip = read_video(media_dir / "example2.mp4", size=(128, 72), fit="stretch")
    write_video(tmp_path / "example2.mp4", clip.frames, clip.fps)
    shutil.copy(FIXTURES / "two_shots.edl", tmp_path)
    widget = EditorPanel(bundle=str(bundle_dir), threads=1)
    qtbot.addWidget(widget)  # closed and deleted after the test
    widget.open_path(tmp_path / "two_shots.edl")
    yield widget
    widget.runner.cancel()
    widget.runner.wait()


def _run(qtbot, panel, request=None) -> None:
    """Start an action from the panel and wait until its result is placed (or it failed)."""
    with qtbot.waitSignals([panel.runner.finished], timeout=JOB_MS):
        assert panel.start_action(request), panel.status.text()
    assert not panel.runner.running and panel.run_button.isEnabled()


def _spans(track) -> list[tuple[str, float, float]]:
    return [
        (type(i).__name__, i.range_in_parent().start_time.value, i.duration().value) for i in track
    ]


def test_extend_runs_off_the_ui_thread_is_placed_and_undone(qtbot, panel):
    panel.select(ItemRef(0, 0))
    panel.task.setCurrentIndex(panel.task.findData("extend"))
    panel.seconds.setValue(0.5)
    panel.prompt.setText("the ball keeps rolling")
    steps = []
    panel.runner.progress.connect(lambda done, total: steps.append((done, total)))
    with qtbot.waitSignal(panel.runner.finished, timeout=JOB_MS):
        started = time.monotonic()
        assert panel.start_action()
        assert panel.runner.running and not panel.run_button.isEnabled()  # returned at once
        assert time.monotonic() - started < 1.0
    assert steps and steps[-1][0] == steps[-1][1], "progress reached the UI thread, to the end"
    track = panel.document.timeline.tracks[0]
    assert _spans(track) == [("Clip", 0, 12), ("Clip", 12, 12), ("Clip", 24, 12)]
    meta = provenance.of(track[1])
    assert meta["task"] == "continuation" and meta["prompt"] == "the ball keeps rolling"
    manifest = (Path(panel.bundle.text()) / "manifest.json").read_bytes()
    assert meta["bundle_id"].startswith("test-")
    assert meta["bundle_sha256"] == hashlib.sha256(manifest).hexdigest()
    media = panel.document.base_dir / track[1].media_reference.target_url
    assert (probe(media).video.frame_count, probe(media).video.width) == (12, 128)
    assert panel.timeline_view.selection == ItemRef(0, 1)
    panel.undo_button.click()
    assert [c.name for c in panel.document.timeline.tracks[0]] == ["shot-a", "shot-b"]
    panel.redo_button.click()
    assert len(panel.document.timeline.tracks[0]) == 3


def test_cancel_mid_job_leaves_the_timeline_and_media_folder_unchanged(qtbot, panel):
    before = panel.document.snapshot()
    request = ActionRequest("extend", ItemRef(0, 1), seconds=4.0, variants=2)
    seen = []

    def cancel_once_under_way(done, total):
        seen.append((done, total))
        panel.cancel_button.click()

    panel.runner.progress.connect(cancel_once_under_way)
    with qtbot.waitSignal(panel.runner.failed, timeout=JOB_MS):
        assert panel.start_action(request)
    assert seen and seen[0][0] < seen[0][1]  # it was cancelled mid-job, not after
    assert "cancelled" in panel.status.text()
    assert panel.document.snapshot() == before and not panel.document.history.can_undo
    folder = panel.document.media_folder
    assert not folder.exists() or not any(folder.iterdir())
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_offline_clips_are_drawn_offline_and_refuse_actions(qtbot, panel, shared_data):
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


def test_every_shared_timeline_opens_in_the_panel(qtbot, panel, shared_data):
    paths = sorted((shared_data / "timelines").glob("*.otio"))
    assert len(paths) >= 6
    panel.resize(900, 600)
    for path in paths:
        try:
            panel.open_path(path)
        except UnsupportedTimelineError as exc:  # premiere_example: Marker.3, a newer OTIO
            assert "newer OpenTimelineIO" in str(exc), path
            continue
        clips = panel.document.timeline.find_clips()
        assert panel.document.base_dir == path.parent
        assert f"{len(clips)} clips" in panel.status.text(), path
        drawn = list(panel.timeline_view.item_rects())
        assert len(drawn) >= len(clips), path
        assert not panel.grab().isNull()


def test_a_rectangle_drawn_on_the_viewer_is_inpainted_on_a_layer_and_score_on_audio(qtbot, panel):
    from PyQt6.QtCore import QPoint, Qt

    panel.viewer.resize(256, 144)  # twice the 128x72 frame
    panel.select(ItemRef(0, 0))
    panel._show_frame(0.3)  # between frames 7 (0.2917 s) and 8: frame 7 shows
    assert panel.viewer.frame is not None, panel.viewer.message
    panel._show_frame(0.0)
    assert panel.viewer.frame.shape == (72, 128, 3)
    qtbot.mousePress(panel.viewer, Qt.MouseButton.LeftButton, pos=QPoint(20, 10))
    qtbot.mouseMove(panel.viewer, QPoint(100, 60))
    qtbot.mouseRelease(panel.viewer, Qt.MouseButton.LeftButton, pos=QPoint(100, 60))
    panel.task.setCurrentIndex(panel.task.findData("inpaint"))
    assert actions.box_from_mask(panel.request().mask) == (10, 5, 50, 30)
    _run(qtbot, panel)
    layer = panel.document.timeline.tracks[1]
    assert layer.kind == "Video" and _spans(layer) == [("Clip", 0, 12)]
    assert provenance.of(layer[0])["options"] == {"box": [10, 5, 50, 30], "mask": None}
    panel.select(ItemRef(0, 1))
    panel.task.setCurrentIndex(panel.task.findData("score"))
    _run(qtbot, panel)
    audio = panel.document.timeline.tracks[2]
    assert audio.kind == "Audio" and _spans(audio) == [("Gap", 0, 12), ("Clip", 12, 12)]
    assert provenance.of(audio[1])["task"] == "video_to_audio"


def test_generate_fills_a_gap_from_both_sides_to_its_exact_length(qtbot, panel):
    gap = otio.schema.Gap(duration=otio.opentime.RationalTime(20, 24))
    panel.document.apply("gap", lambda t: t.tracks[0].insert(1, gap))
    panel.select(ItemRef(0, 1))
    panel.task.setCurrentIndex(panel.task.findData("generate"))
    _run(qtbot, panel)
    track = panel.document.timeline.tracks[0]
    assert _spans(track) == [("Clip", 0, 12), ("Clip", 12, 20), ("Clip", 32, 12)]
    source = provenance.of(track[1])["source"]
    assert (source["before"]["clip"], source["after"]["clip"]) == ("shot-a", "shot-b")
    media = probe(panel.document.base_dir / track[1].media_reference.target_url).video
    assert (media.frame_count, media.fps, media.width, media.height) == (20, 24, 128, 72)


def test_the_docs_screenshots_are_taken_in_three_states(qtbot, bundle_dir, tmp_path):
    from PyQt6.QtGui import QImage

    from reelpoet.editor_plugin import screenshots

    assert screenshots.main(["--out", str(tmp_path), "--bundle", str(bundle_dir)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["panel_open.png", "panel_placed.png", "panel_running.png"]
    for name in names:
        path = tmp_path / name
        assert path.stat().st_size <= screenshots.MAX_BYTES
        assert QImage(str(path)).width() >= 600, name  # still readable


def test_autosave_runs_while_shown_and_a_failure_is_reported_not_raised(qtbot, panel, tmp_path):
    panel.show()
    assert panel._autosave.isActive()
    panel.document.apply("rename", lambda timeline: setattr(timeline, "name", "renamed"))
    shutil.rmtree(tmp_path)  # the project folder vanishes under the open, edited timeline
    panel._autosave_now()  # what the timer calls: must not raise into the event loop
    assert panel.status.text().startswith("autosave failed")
    panel.close()
    assert not panel._autosave.isActive()  # a closed panel writes nothing more
