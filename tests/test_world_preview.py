"""The preview script writes a viewable contact sheet, a WAV and the samples' JSON."""

from __future__ import annotations

import json
import wave

import numpy as np
from PIL import Image

from reelpoet.models.world import SceneTruth
from reelpoet.models.world.preview import main


def test_preview_writes_png_wav_and_json(tmp_path):
    assert main(["--count", "4", "--out", str(tmp_path), "--seed", "5"]) == 0
    with Image.open(tmp_path / "contact_sheet.png") as sheet:
        assert sheet.format == "PNG"
        width, height = sheet.size
        assert width >= 17 * 128 and height >= 4 * 128  # 17 frames a row, upscaled 2x
        assert (
            len(set(np.asarray(sheet.convert("L")).ravel().tolist())) > 50
        )  # pictures, not a blank sheet
    with wave.open(str(tmp_path / "soundtracks.wav"), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.getnframes() == 4 * (34000 + 4800)
    records = json.loads((tmp_path / "samples.json").read_text())
    assert [r["seed"] for r in records] == [5, 6, 7, 8]
    assert all(r["caption"] for r in records)
    SceneTruth.from_dict(records[0]["truth"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_preview_rejects_a_bad_size(tmp_path, capsys):
    assert main(["--count", "2", "--out", str(tmp_path), "--size", "0"]) == 2
    assert "width" in capsys.readouterr().err
    assert not (tmp_path / "contact_sheet.png").exists()
