"""The `reelpoet` command: help a new user can follow, and plain errors instead of tracebacks."""

from __future__ import annotations

import json

import pytest

from reelpoet.sdk import cli
from reelpoet.sdk.bundle_location import BUNDLE_ENV_VAR, locate_bundle
from reelpoet.sdk.errors import BundleNotInstalledError


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "probe" in out


def test_demo_without_a_bundle_says_so_plainly(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(BUNDLE_ENV_VAR, raising=False)
    code = cli.main(["demo", "--bundle", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_NO_BUNDLE
    assert "No model bundle is installed" in err and "Traceback" not in err


def test_bundle_is_found_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1}))
    monkeypatch.setenv(BUNDLE_ENV_VAR, str(tmp_path))
    assert locate_bundle() == tmp_path
    monkeypatch.setenv(BUNDLE_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(BundleNotInstalledError, match=BUNDLE_ENV_VAR):
        locate_bundle()


def test_probe_reports_a_real_file(media_dir, capsys):
    assert cli.main(["probe", str(media_dir / "example2.mp4")]) == 0
    out = capsys.readouterr().out
    assert "1280x720" in out and "24.000 fps" in out


def test_probe_of_a_missing_file_is_a_plain_error(tmp_path, capsys):
    assert cli.main(["probe", str(tmp_path / "gone.mp4")]) == cli.EXIT_USER_ERROR
    assert "gone.mp4" in capsys.readouterr().err


def test_serve_help_says_how_to_run_a_server(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["serve", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for option in ("--token-file", "--no-auth", "--data-dir", "--queue-size", "--max-upload-mb"):
        assert option in out
    assert "REELPOET_TOKEN" in out and "loopback" in out
