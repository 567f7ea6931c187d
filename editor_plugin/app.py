"""``reelpoet-panel [timeline-or-media] [--bundle DIR]``: the panel in a window of its own, as a
dock widget the way a host application would hold it."""

from __future__ import annotations

import argparse
import sys

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QDockWidget, QMainWindow

from reelpoet.editor_plugin.panel import EditorPanel
from reelpoet.sdk.errors import ReelpoetError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reelpoet-panel", description=__doc__)
    parser.add_argument("path", nargs="?", help="a timeline (.otio .otioz .edl .xml .fcpxml .aaf)")
    parser.add_argument("--bundle", help="a model bundle folder (default: the installed one)")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QMainWindow()
    panel = EditorPanel(bundle=args.bundle)
    dock = QDockWidget("reelpoet", window)
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    panel.windowTitleChanged.connect(window.setWindowTitle)
    if args.path:
        try:
            panel.open_path(args.path)
        except ReelpoetError as exc:
            print(f"reelpoet-panel: {exc}", file=sys.stderr)
            return 2
    window.resize(1200, 800)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
