"""`reelpoet <task> --timeline FILE --clip NAME -o NEW.otio`: the editor's model layer from the
command line, with the random-weights test bundle (right shapes and timing, meaningless
pictures) on a small real timeline. The result is placed as the panel places it, on a new
timeline; the input file is never written."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import opentimelineio as otio
import pytest

from reelpoet.editor_plugin import provenance
from reelpoet.sdk import cli
from reelpoet.sdk.media import probe, read_video, write_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RT = otio.opentime.RationalTime


@pytest.fixture
def cut(tmp_path, media_dir):
    """cut.otio: Clip-001 (frames 0-12 of example2.mp4 at 128x72) then Clip-002 (24-36)."""
    clip = read_video(media_dir / "example2.mp4", size=(128, 72), fit="stretch")
    write_video(tmp_path / "shot.mp4", clip.frames, clip.fps)
    track = otio.schema.Track(name="V1")
    for name, start in (("Clip-001", 0), ("Clip-002", 24)):
        span = otio.opentime.TimeRange(RT(start, 24), RT(12, 24))
        reference = otio.schema.ExternalReference(target_url="shot.mp4")
        track.append(otio.schema.Clip(name=name, media_reference=reference, source_range=span))
    timeline = otio.schema.Timeline(name="cut")
    timeline.tracks.append(track)
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _run(*args: str) -> int:
    return cli.main([*args, "--threads", "1"])


def test_extend_on_a_timeline_writes_a_new_one_with_the_extension_placed(cut, bundle_dir, capsys):
    before = cut.read_bytes()
    out = cut.parent / "cut_extended.otio"
    code = _run("extend", "--timeline", str(cut), "--clip", "Clip-001", "--seconds", "0.5",
                "-o", str(out), "--bundle", str(bundle_dir), "--prompt", "more")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert cut.read_bytes() == before  # the input is untouched
    track = otio.adapters.read_from_file(str(out)).tracks[0]
    spans = [(i.name, i.range_in_parent().start_time.value, i.duration().value) for i in track]
    assert spans[0] == ("Clip-001", 0, 12) and spans[2] == ("Clip-002", 24, 12)
    assert spans[1][1:] == (12, 12)  # 0.5 s at 24 fps, right after Clip-001
    meta = provenance.of(track[1])
    assert meta["task"] == "continuation" and meta["prompt"] == "more"
    assert meta["source"]["clip"] == "Clip-001" and meta["bundle_id"].startswith("test-")
    media = cut.parent / "cut_extended_media"
    assert track[1].media_reference.target_url.startswith("cut_extended_media/")
    (file,) = media.iterdir()
    info = probe(file).video
    assert (info.frame_count, info.fps, info.width, info.height) == (12, 24, 128, 72)
    assert "cut_extended.otio" in capsys.readouterr().out


def test_score_on_a_timeline_goes_on_an_audio_track(cut, bundle_dir, tmp_path):
    out = tmp_path / "elsewhere" / "scored.otio"
    out.parent.mkdir()
    assert _run("score", "--timeline", str(cut), "--clip", "Clip-002", "-o", str(out),
                "--bundle", str(bundle_dir)) == 0  # fmt: skip
    timeline = otio.adapters.read_from_file(str(out))
    audio = timeline.tracks[1]
    assert audio.kind == otio.schema.TrackKind.Audio
    assert [(type(i).__name__, i.duration().value) for i in audio] == [("Gap", 12), ("Clip", 12)]
    assert (out.parent / "scored_media").is_dir()
    # saved in another folder: every media URL is absolute, so the clips stay online
    urls = [c.media_reference.target_url for c in timeline.find_clips()]
    assert all(url.startswith("file://") for url in urls)


def test_inpaint_on_a_timeline_takes_a_png_mask(cut, bundle_dir, tmp_path, capsys):
    """A mask picture as the panel's brush saves it (PNG: PyAV alone cannot read stills)."""
    from PIL import Image

    picture = np.zeros((72, 128, 3), np.uint8)
    picture[10:40, 20:80] = 255
    Image.fromarray(picture).save(tmp_path / "mask.png")
    out = tmp_path / "fixed.otio"
    mask = str(tmp_path / "mask.png")
    code = _run("inpaint", "--timeline", str(cut), "--clip", "Clip-002", "--mask", mask,
                "-o", str(out), "--bundle", str(bundle_dir))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    placed = [c for c in otio.adapters.read_from_file(str(out)).find_clips() if provenance.of(c)]
    assert [provenance.of(c)["task"] for c in placed] == ["inpaint"]


def test_bad_timeline_requests_are_plain_errors_and_write_nothing(cut, bundle_dir, capsys):
    before = cut.read_bytes()
    out = cut.parent / "new.otio"
    common = ["--timeline", str(cut), "--bundle", str(bundle_dir)]
    assert _run("extend", *common, "--clip", "Clip-404", "-o", str(out)) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "Clip-404" in err and "Traceback" not in err
    for args, says in [
        (["--clip", "Clip-001", "-o", str(cut), "--overwrite"], "never replaced"),
        (["-o", str(out)], "--clip"),
        (["--clip", "Clip-001", "-o", str(cut.parent / "new.mp4")], ".otio"),
        (["--clip", "Clip-001", "-o", str(out), "--temperature", "2"], "--temperature"),
    ]:
        assert _run("extend", *common, *args) == cli.EXIT_USER_ERROR, args
        assert says in capsys.readouterr().err, args
    assert cut.read_bytes() == before
    assert sorted(p.name for p in cut.parent.iterdir()) == ["cut.otio", "shot.mp4"]


def test_help_explains_the_timeline_mode_and_the_cli_loads_no_qt():
    help_text = subprocess.run(
        [sys.executable, "-m", "reelpoet.sdk.cli", "inpaint", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--timeline" in help_text and "--clip" in help_text and "never written" in help_text
    code = (
        "import sys\n"
        "from reelpoet.sdk import cli\n"
        "from reelpoet.editor_plugin import timeline_commands\n"
        "print('PyQt6' in sys.modules)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
