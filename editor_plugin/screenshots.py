"""Screenshots of the panel for the docs, taken offscreen on a real timeline:

    python -m reelpoet.editor_plugin.screenshots --out docs/images [--bundle PATH]

A throwaway project is made from a media file (default: the SDK's 1 s Big Buck Bunny sample):
two shots with a gap between. The panel opens it (``panel_open.png``), extends the first shot
(``panel_running.png``, grabbed while the job runs, progress bar and Cancel live) and shows the
extension placed (``panel_placed.png``). Any bundle makes them: the random-weights test bundle
gives the right layout and timing with meaningless pictures.

PyQt6 is imported inside ``main``, so the package's model layer stays importable without it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import opentimelineio as otio

from reelpoet.editor_plugin.edits import ItemRef
from reelpoet.sdk.media import read_video, write_video

SAMPLE = Path(__file__).resolve().parents[1] / "sdk" / "samples" / "big_buck_bunny_1s.webm"
PANEL_SIZE = (960, 780)  # the whole form shows at this size
MEDIA_SIZE = (320, 180)  # the project's copy of the media: results render in a second
ZOOM = 8  # the 1.25 s cut across most of the panel (60 px a second unzoomed)
MAX_BYTES = 150_000  # a screenshot larger than this is saved scaled down
RT = otio.opentime.RationalTime


def demo_project(folder: Path, media: Path) -> Path:
    """``folder/cut.otio``: the first and second half of ``media`` with a 0.25 s gap between,
    on one video track, the media copied beside it at MEDIA_SIZE."""
    clip = read_video(media, size=MEDIA_SIZE, fit="stretch")
    write_video(folder / "shot.mp4", clip.frames, clip.fps)
    rate, half = float(clip.fps), clip.num_frames // 2
    track = otio.schema.Track(name="V1")
    for name, start in (("shot-a", 0), ("shot-b", half)):
        span = otio.opentime.TimeRange(RT(start, rate), RT(half, rate))
        reference = otio.schema.ExternalReference(target_url="shot.mp4")
        track.append(otio.schema.Clip(name=name, media_reference=reference, source_range=span))
    track.insert(1, otio.schema.Gap(duration=RT(round(rate / 4), rate)))
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.append(track)
    path = folder / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def save(widget, path: Path) -> Path:
    """``widget`` as a PNG of 256 colours (the UI needs no more; generated noise is
    incompressible in full colour), scaled down until it is under MAX_BYTES."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtGui import QImage

    image = widget.grab().toImage()
    scale = 1.0
    while True:
        shown = image.scaledToWidth(
            round(image.width() * scale), Qt.TransformationMode.SmoothTransformation
        )
        shown = shown.convertToFormat(
            QImage.Format.Format_Indexed8, Qt.ImageConversionFlag.AvoidDither
        )
        shown.save(str(path), "PNG", 0)  # 0: smallest file
        if path.stat().st_size <= MAX_BYTES or scale < 0.5:
            return path
        scale *= 0.85


def take(panel, out: Path) -> list[Path]:
    """The three states, as PNGs in ``out``; the panel holds a timeline already."""
    from PyQt6.QtCore import QEventLoop

    panel.timeline_view.zoom(ZOOM)
    panel.select(ItemRef(0, 0))
    show_at(panel, 0.2)
    shots = [save(panel, out / "panel_open.png")]
    panel.task.setCurrentIndex(panel.task.findData("extend"))
    panel.seconds.setValue(0.5)
    panel.prompt.setText("the bunny keeps walking")

    def grab_once_under_way(done: int, total: int) -> None:
        if len(shots) == 1 and done >= total * 0.4:
            shots.append(save(panel, out / "panel_running.png"))

    panel.runner.progress.connect(grab_once_under_way)
    loop = QEventLoop()
    panel.runner.finished.connect(loop.quit)
    panel.runner.failed.connect(lambda exc: (loop.quit(), print(exc, file=sys.stderr)))
    if not panel.start_action():
        raise SystemExit(f"extend did not start: {panel.status.text()}")
    loop.exec()
    show_at(panel, 0.7)  # a frame of the extension
    shots.append(save(panel, out / "panel_placed.png"))
    return shots


def show_at(panel, seconds: float) -> None:
    """Move the playhead as a click on the ruler does: the viewer follows it."""
    panel.timeline_view.set_playhead(seconds)
    panel.timeline_view.playhead_moved.emit(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="PNG folder")
    parser.add_argument("--bundle", help="model bundle folder (default: the installed one)")
    parser.add_argument("--media", type=Path, default=SAMPLE, help="footage for the timeline")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    from reelpoet.editor_plugin.panel import EditorPanel

    app = QApplication.instance() or QApplication([])
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        panel = EditorPanel(bundle=args.bundle, threads=args.threads)
        panel.resize(*PANEL_SIZE)
        panel.open_path(demo_project(Path(folder), args.media))
        panel.show()
        app.processEvents()
        for path in take(panel, args.out):
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
        panel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
