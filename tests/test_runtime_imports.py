"""What the runtime may import: every module is imported in a fresh interpreter and sys.modules
is checked, so a heavy import fails here even where torch and PyQt6 are installed.

- `reelpoet.sdk` and `reelpoet.editor_plugin`, every module: no torch.
- `reelpoet.editor_plugin` itself and its model layer: no PyQt6, so the CLI and scripts edit
  timelines without a display.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EDITOR = "reelpoet.editor_plugin"
# The Qt layer is the panel itself: these modules import PyQt6 at the top, as Qt code does. Any
# other module of the package is model layer and must not (add a new widget module here).
QT_MODULES = {f"{EDITOR}.{name}" for name in ("app", "jobs", "panel", "timeline_view", "viewer")}


def _modules(folder: str, package: str) -> list[str]:
    modules = []
    for path in sorted((REPO / folder).rglob("*.py")):
        parts = path.relative_to(REPO / folder).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join([package, *parts]))
    return modules


def _leaked(modules: list[str], roots: set[str]) -> list[str]:
    """The modules under ``roots`` that importing ``modules`` loads, in a fresh interpreter."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"leaked = sorted(m for m in sys.modules if m.split('.')[0] in {roots!r})\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [m for m in result.stdout.strip().split(",") if m]


def test_runtime_modules_import_without_torch():
    modules = _modules("sdk", "reelpoet.sdk") + _modules("editor_plugin", EDITOR)
    assert "reelpoet.sdk.cli" in modules  # the walk found the package, not an empty list
    assert QT_MODULES.issubset(modules)  # the Qt layer is imported here too
    assert _leaked(modules, {"torch"}) == []


def test_editor_model_layer_imports_without_qt():
    editor = _modules("editor_plugin", EDITOR)
    assert QT_MODULES.issubset(editor), "QT_MODULES names a module that is gone"
    model = [m for m in editor if m not in QT_MODULES]
    assert EDITOR in model and f"{EDITOR}.timeline_document" in model
    assert _leaked(model, {"PyQt6"}) == []
