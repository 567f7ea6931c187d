"""The package installs as one `reelpoet` namespace, editable and as a wheel, and the wheel's
runtime imports without torch in a fresh virtual environment."""

from __future__ import annotations

import configparser
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import opentimelineio as otio
import pytest

from reelpoet.sdk import media

REPO = Path(__file__).resolve().parents[1]
TOP_FOLDERS = {
    "sdk": "reelpoet.sdk",
    "editor_plugin": "reelpoet.editor_plugin",
    "export": "reelpoet.export",
    "models": "reelpoet.models",
}


def _declared_packages() -> set[str]:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}


def _packages_on_disk() -> set[str]:
    found = set()
    for folder, package in TOP_FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            found.add(".".join([package, *relative.parts]))
    return found


def test_every_package_folder_is_declared_in_setup_cfg():
    missing = _packages_on_disk() - _declared_packages()
    assert not missing, f"add these to [options] packages in setup.cfg: {sorted(missing)}"


def test_declared_packages_exist():
    stale = _declared_packages() - _packages_on_disk()
    assert not stale, f"setup.cfg lists packages with no folder: {sorted(stale)}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
        str(REPO),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    (built,) = out.glob("reelpoet-*.whl")
    return built


def test_wheel_installs_only_the_reelpoet_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert top_level == {"reelpoet"}, top_level
    assert "reelpoet/__init__.py" not in names  # a PEP 420 namespace, so other dists can extend it
    assert "reelpoet/sdk/media/__init__.py" in names
    assert not any(name.startswith("reelpoet/tests") for name in names)


def test_wheel_runtime_imports_without_torch_in_a_fresh_venv(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    probe = (
        "import importlib.util, sys, reelpoet.sdk, reelpoet.editor_plugin, reelpoet.sdk.media;"
        "assert importlib.util.find_spec('torch') is None, 'torch is installed';"
        "assert 'torch' not in sys.modules;"
        "print(reelpoet.sdk.__file__)"
    )
    result = subprocess.run([python, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert str(env_dir) in result.stdout and "site-packages" in result.stdout
    cli = subprocess.run([env_dir / "bin" / "reelpoet", "--help"], capture_output=True, text=True)
    assert cli.returncode == 0 and "demo" in cli.stdout

    # The main job on the shipped bundle, from the installed wheel alone: text to video, then the
    # packaged sample clip extended, both written and referenced by the timeline.
    out = tmp_path / "demo"
    demo = subprocess.run(
        [env_dir / "bin" / "reelpoet", "demo", "--out", out, "--threads", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr
    bundle_dir = "reelpoet/sdk/bundles/default/"
    assert any(name.startswith(bundle_dir) for name in zipfile.ZipFile(wheel).namelist())
    timeline = otio.adapters.read_from_file(str(out / "demo.otio"))
    clips = list(timeline.find_clips())
    assert [c.media_reference.target_url for c in clips] == [
        "big_buck_bunny_1s.webm",
        "sample_extended.mp4",
        "generated.mp4",
    ]
    for clip in clips[1:]:
        info = media.probe(out / clip.media_reference.target_url)
        assert info.video.frame_count > 1  # a real decodable video, not an empty container
        assert clip.metadata["reelpoet"]["task"] in {"continuation", "text_to_video"}
