"""The runtime (`reelpoet.sdk`, `reelpoet.editor_plugin`) never imports torch, even where torch is
installed: every module is imported in a fresh interpreter and sys.modules is checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _runtime_modules() -> list[str]:
    modules = []
    for folder, package in (("sdk", "reelpoet.sdk"), ("editor_plugin", "reelpoet.editor_plugin")):
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules.append(".".join([package, *parts]))
    return modules


def test_runtime_modules_import_without_torch():
    modules = _runtime_modules()
    assert "reelpoet.sdk.cli" in modules  # the walk found the package, not an empty list
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'PyQt6'})\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"runtime imported: {result.stdout}"
