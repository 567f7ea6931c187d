"""The editor's model layer without Qt or a bundle: opening every format, placing each kind of
result with the right timing, exact undo/redo, provenance and variants, saves that never replace
the user's file unasked, autosave, and hostile media paths. A stand-in client returns results
shaped as ``Client`` returns them (the source's rate and size), instantly."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from reelpoet.editor_plugin import actions, edits, media_paths, nle_export, provenance
from reelpoet.editor_plugin.actions import ActionRequest
from reelpoet.editor_plugin.edits import ItemRef, find_clip
from reelpoet.editor_plugin.errors import (
    OfflineMediaError,
    OverwriteRefusedError,
    PlacementError,
    UnsupportedTimelineError,
)
from reelpoet.editor_plugin.timeline_document import TimelineDocument
from reelpoet.sdk.client import Result
from reelpoet.sdk.errors import CancelledError, InvalidRequestError
from reelpoet.sdk.media import probe, read_video, write_video

FIXTURES = Path(__file__).parent / "fixtures" / "editor"
RT = otio.opentime.RationalTime


class StandInClient:
    """The Client's methods as the editor calls them; frames are the seed's grey level."""

    def __init__(self):
        self.calls = []
        self.sources = []  # the Clip each source-taking call got
        self.regions = []  # what inpaint got: a box or a mask
        self.heads = []  # extend's head argument, call by call

    def _result(self, task, frames, fps, seed, prompt, progress, cancelled):
        for step in range(4):
            if cancelled is not None and cancelled():
                raise CancelledError("cancelled")
            if progress is not None:
                progress(step + 1, 4)
        meta = {"task": task, "prompt": prompt, "seed": seed, "bundle_id": "stand-in-00000000",
                "bundle_sha256": "5e" * 32}  # fmt: skip
        self.calls.append((task, seed))
        return Result(frames, Fraction(fps), None, None, meta)

    def _like(self, clip, count, seed, level=0):
        return np.full((count, clip.height, clip.width, 3), (seed * 20 + level) % 256, np.uint8)

    def extend(self, clip, seconds, prompt="", head=False, seed=0, progress=None, cancelled=None):
        self.sources.append(clip)
        self.heads.append(head)
        frames = self._like(clip, round(seconds * clip.fps), seed, 200 if head else 0)
        return self._result("continuation", frames, clip.fps, seed, prompt, progress, cancelled)

    def inpaint(self, clip, mask, prompt="", seed=0, progress=None, cancelled=None):
        self.sources.append(clip)
        self.regions.append(mask)
        frames = self._like(clip, clip.num_frames, seed)
        return self._result("inpaint", frames, clip.fps, seed, prompt, progress, cancelled)

    def stylize(self, clip, prompt, seed=0, progress=None, cancelled=None):
        frames = self._like(clip, clip.num_frames, seed)
        return self._result("stylize", frames, clip.fps, seed, prompt, progress, cancelled)

    def score(self, clip, prompt="", seed=0, progress=None, cancelled=None):
        result = self._result("video_to_audio", None, 8, seed, prompt, progress, cancelled)
        audio = np.zeros(round(clip.duration_s * 16000), np.float32)
        return Result(None, None, audio, 16000, result.metadata)

    def image_to_video(self, image, prompt="", seed=0, progress=None, cancelled=None):
        frames = np.repeat(image[None], 17, axis=0)  # one model clip: 2.125 s at 8 fps
        return self._result("image_to_video", frames, 8, seed, prompt, progress, cancelled)

    def text_to_video(self, prompt, seconds, seed=0, progress=None, cancelled=None):
        frames = np.zeros((round(seconds * 8), 64, 64, 3), np.uint8)
        return self._result("text_to_video", frames, 8, seed, prompt, progress, cancelled)


@pytest.fixture(scope="module")
def small_media(media_dir, tmp_path_factory) -> Path:
    """example2.mp4 (2 s at 24 fps) at 128x72: real footage, cheap to write results for."""
    clip = read_video(media_dir / "example2.mp4", size=(128, 72), fit="stretch")
    return write_video(tmp_path_factory.mktemp("media") / "example2.mp4", clip.frames, clip.fps)


@pytest.fixture
def project(tmp_path, small_media) -> Path:
    """A folder with the EDL fixture and the media it names."""
    shutil.copy(small_media, tmp_path)
    shutil.copy(FIXTURES / "two_shots.edl", tmp_path)
    return tmp_path


@pytest.fixture
def doc(project) -> TimelineDocument:
    return TimelineDocument.open(project / "two_shots.edl")


def _starts(track) -> list[tuple[str, float, float]]:
    return [
        (type(i).__name__, i.range_in_parent().start_time.value, i.duration().value) for i in track
    ]


# -- opening ------------------------------------------------------------------------------------
def test_every_shared_timeline_opens_or_says_why(shared_data):
    paths = sorted((shared_data / "timelines").glob("*.otio"))
    assert len(paths) >= 6
    for path in paths:
        try:
            document = TimelineDocument.open(path)
        except UnsupportedTimelineError as exc:  # premiere_example uses Marker.3 (OTIO 0.19)
            assert "newer OpenTimelineIO" in str(exc) and "Marker.3" in str(exc), path
            continue
        clips = document.timeline.find_clips()
        assert clips, path
        # their media are on another machine: offline, never crashing
        states = {media_paths.media_status(c, document.base_dir) for c in clips}
        assert media_paths.ONLINE not in states, path


def test_an_edl_and_a_media_file_open_as_timelines(doc, project):
    clips = doc.timeline.find_clips()
    assert [c.name for c in clips] == ["shot-a", "shot-b"]
    assert doc.path is None  # not an .otio: saving needs a save-as
    assert media_paths.media_status(clips[0], doc.base_dir) == media_paths.ONLINE
    around = TimelineDocument.around_media(project / "example2.mp4")
    (clip,) = around.timeline.find_clips()
    assert clip.duration() == RT(48, 24)
    with pytest.raises(UnsupportedTimelineError, match="neither a timeline"):
        TimelineDocument.open(project / "notes.txt")


# -- placing results ------------------------------------------------------------------------------
def test_extension_is_inserted_after_its_clip_with_its_length(doc):
    client = StandInClient()
    request = ActionRequest("extend", ItemRef(0, 0), seconds=0.5, prompt="more")
    ref = actions.run_action(doc, client, request)
    assert ref == ItemRef(0, 1)
    assert _starts(doc.timeline.tracks[0]) == [("Clip", 0, 12), ("Clip", 12, 12), ("Clip", 24, 12)]
    placed = ref.item(doc.timeline)
    meta = provenance.of(placed)
    assert meta["task"] == "continuation" and meta["prompt"] == "more" and meta["seed"] == 0
    assert meta["source"]["clip"] == "shot-a" and meta["source"]["duration"] == 12
    assert meta["options"] == {"seconds": 0.5, "head": False, "new_track": False}
    assert meta["bundle_sha256"] == "5e" * 32  # the client's, not hashed by the editor
    path = media_paths.clip_media_path(placed, doc.base_dir)
    assert path.parent == doc.media_folder and probe(path).video.frame_count == 12
    assert probe(path).video.width == 128  # the source's size
    assert meta["id"] in placed.name and meta["id"] in placed.markers[0].name


def test_head_extension_on_a_new_track_ends_where_the_clip_starts(doc):
    request = ActionRequest("extend", ItemRef(0, 1), seconds=0.25, head=True, new_track=True)
    ref = actions.run_action(doc, StandInClient(), request)
    assert ref.track == 1 and len(doc.timeline.tracks) == 2
    assert _starts(doc.timeline.tracks[0]) == [("Clip", 0, 12), ("Clip", 12, 12)]  # untouched
    assert _starts(doc.timeline.tracks[1]) == [("Gap", 0, 6), ("Clip", 6, 6)]


def test_score_goes_on_an_audio_track_aligned_to_its_clip(doc):
    ref = actions.run_action(doc, StandInClient(), ActionRequest("score", ItemRef(0, 1)))
    track = doc.timeline.tracks[ref.track]
    assert track.kind == otio.schema.TrackKind.Audio
    assert _starts(track) == [("Gap", 0, 12), ("Clip", 12, 12)]
    assert media_paths.clip_media_path(ref.item(doc.timeline), doc.base_dir).suffix == ".wav"


def test_a_layer_fills_a_free_track_and_a_gap_is_filled(doc):
    doc.apply("gap", lambda t: t.tracks[0].insert(1, otio.schema.Gap(duration=RT(20, 24))))
    layer = actions.run_action(doc, StandInClient(), ActionRequest("stylize", ItemRef(0, 2)))
    assert _starts(doc.timeline.tracks[layer.track]) == [("Gap", 0, 32), ("Clip", 32, 12)]
    request = ActionRequest("generate", ItemRef(0, 1), prompt="a red ball")
    filled = actions.run_action(doc, StandInClient(), request)
    assert _starts(doc.timeline.tracks[0])[:2] == [("Clip", 0, 12), ("Clip", 12, 20)]
    path = media_paths.clip_media_path(filled.item(doc.timeline), doc.base_dir)
    info = probe(path).video
    assert (info.width, info.height, info.fps) == (128, 72, 24)  # the neighbour's, not 64x64
    again = StandInClient()
    assert actions.run_action(doc, again, ActionRequest("generate", filled, seed=4)) == filled
    assert again.calls == [("continuation", 4)] * 2  # from both sides of the gap, again
    assert provenance.variants(filled.item(doc.timeline)) == ["seed_0", "seed_4"]


def test_a_gap_is_filled_from_both_sides_to_its_exact_length(doc, project):
    doc.apply("gap", lambda t: t.tracks[0].insert(1, otio.schema.Gap(duration=RT(20, 24))))
    client = StandInClient()
    ref = actions.run_action(doc, client, ActionRequest("generate", ItemRef(0, 1), prompt="p"))
    assert _starts(doc.timeline.tracks[0]) == [("Clip", 0, 12), ("Clip", 12, 20), ("Clip", 32, 12)]
    assert client.calls == [("continuation", 0)] * 2 and client.heads == [False, True]
    media = project / "example2.mp4"
    tail, head = client.sources  # shot-a (media 0-0.5 s) continued, shot-b (1-1.5 s) led into
    assert np.array_equal(tail.frames, read_video(media, (0.0, 0.5)).frames)
    assert np.array_equal(head.frames, read_video(media, (1.0, 1.5)).frames)
    # 13 + 13 frames generated, overlapping by a 6-frame (0.25 s) crossfade: exactly 20
    assert [s.num_frames for s in client.sources] == [12, 12]
    path = media_paths.clip_media_path(ref.item(doc.timeline), doc.base_dir)
    info = probe(path).video
    assert (info.frame_count, info.fps, info.width, info.height) == (20, 24, 128, 72)
    levels = read_video(path).frames.mean(axis=(1, 2, 3))  # tail grey 0, head grey 200
    assert levels[:7].max() < 10 and levels[-7:].min() > 190
    assert np.all(np.diff(levels[6:14]) > 10)  # the dissolve from one into the other
    source = provenance.of(ref.item(doc.timeline))["source"]
    assert (source["before"]["clip"], source["after"]["clip"]) == ("shot-a", "shot-b")
    assert source["after"]["seconds"] == [1.0, 1.5] and source["gap_frames"] == 20


def test_a_gap_with_one_neighbour_is_made_from_it_alone(doc):
    doc.apply("gap", lambda t: t.tracks[0].insert(0, otio.schema.Gap(duration=RT(9, 24))))
    client = StandInClient()
    ref = actions.run_action(doc, client, ActionRequest("generate", ItemRef(0, 0), seed=2))
    assert client.heads == [True] and client.sources[0].num_frames == 12  # leads into shot-a
    assert _starts(doc.timeline.tracks[0])[:2] == [("Clip", 0, 9), ("Clip", 9, 12)]
    source = provenance.of(ref.item(doc.timeline))["source"]
    assert source["before"] is None and source["after"]["clip"] == "shot-a"
    path = media_paths.clip_media_path(ref.item(doc.timeline), doc.base_dir)
    assert probe(path).video.frame_count == 9
    lonely = otio.schema.Track(name="V2")
    lonely.append(otio.schema.Gap(duration=RT(30, 24)))
    doc.apply("track", lambda t: t.tracks.append(lonely))
    alone = StandInClient()
    actions.run_action(doc, alone, ActionRequest("generate", ItemRef(1, 0), prompt="a ball"))
    assert alone.calls == [("text_to_video", 0)] and alone.sources == []
    long_gap = ActionRequest("generate", ItemRef(1, 1))
    doc.apply("long gap", lambda t: t.tracks[1].append(otio.schema.Gap(duration=RT(24 * 61, 24))))
    with pytest.raises(InvalidRequestError, match="at most 60 s"):
        actions.prepare(doc, long_gap)


def test_undo_and_redo_restore_exactly(doc):
    before = doc.snapshot()
    actions.run_action(doc, StandInClient(), ActionRequest("extend", ItemRef(0, 0), variants=2))
    after = doc.snapshot()
    assert after != before and doc.is_modified
    doc.undo()
    assert doc.snapshot() == before and not doc.history.can_undo
    doc.redo()
    assert doc.snapshot() == after


def test_variants_are_media_references_and_switch(doc):
    client = StandInClient()
    request = ActionRequest("extend", ItemRef(0, 0), variants=3, seed=5)
    ref = actions.run_action(doc, client, request)
    assert client.calls == [("continuation", 5), ("continuation", 6), ("continuation", 7)]
    clip = ref.item(doc.timeline)
    assert provenance.variants(clip) == ["seed_5", "seed_6", "seed_7"]
    assert clip.active_media_reference_key == "seed_5"
    from reelpoet.editor_plugin.edits import set_variant

    doc.apply("variant", lambda t: set_variant(t, ref, "seed_7"))
    clip = ref.item(doc.timeline)
    assert provenance.of(clip)["seed"] == 7 and "seed 7" in clip.markers[0].name
    assert len(clip.markers) == 1
    assert media_paths.clip_media_path(clip, doc.base_dir).name.endswith("seed7.mp4")
    doc.undo()
    assert ref.item(doc.timeline).active_media_reference_key == "seed_5"


def test_cancel_and_a_moved_clip_leave_the_timeline_and_folder_as_they_were(doc):
    before = doc.snapshot()
    request = ActionRequest("extend", ItemRef(0, 0), variants=3)
    job = actions.prepare(doc, request)
    done = []
    with pytest.raises(CancelledError):
        actions.render(job, StandInClient(), lambda i, n: done.append(i), lambda: len(done) >= 6)
    assert doc.snapshot() == before and list(doc.media_folder.iterdir()) == []
    rendered = actions.render(actions.prepare(doc, request), StandInClient())
    doc.apply("trim", lambda t: setattr(t.tracks[0][0], "name", "renamed"))
    with pytest.raises(PlacementError, match="changed while"):
        actions.place(doc, rendered)
    assert doc.history.undo_text == "trim"


def test_the_bounding_box_of_a_mask():
    mask = np.zeros((10, 20), bool)
    assert actions.box_from_mask(mask) is None
    mask[2:5, 3] = mask[7, 11] = True
    assert actions.box_from_mask(mask) == (3, 2, 12, 8)


def test_a_painted_mask_reaches_the_client_as_painted_and_a_rectangle_as_a_box(doc):
    painted = np.zeros((72, 128), bool)  # the media's size; an L, not its bounding box
    painted[10:40, 20:30] = painted[30:40, 20:90] = True
    client = StandInClient()
    ref = actions.run_action(doc, client, ActionRequest("inpaint", ItemRef(0, 0), mask=painted))
    sent = client.regions[-1]
    assert isinstance(sent, np.ndarray) and np.array_equal(sent, painted)
    assert client.sources[-1].frames.shape[1:3] == (72, 128)
    options = provenance.of(ref.item(doc.timeline))["options"]
    assert options["box"] == [20, 10, 90, 40]
    assert np.array_equal(provenance.mask_from_runs(options["mask"]), painted)
    twice = np.repeat(np.repeat(painted, 2, axis=0), 2, axis=1)  # painted on a 256x144 frame
    actions.run_action(doc, client, ActionRequest("inpaint", ItemRef(0, 1), mask=twice))
    assert np.array_equal(client.regions[-1], painted)  # at the source media's size
    rectangle = np.zeros((72, 128), bool)
    rectangle[5:30, 10:50] = True
    actions.run_action(doc, client, ActionRequest("inpaint", ItemRef(0, 1), mask=rectangle))
    assert client.regions[-1] == (10, 5, 50, 30)
    with pytest.raises(InvalidRequestError, match="empty"):
        actions.prepare(doc, ActionRequest("inpaint", ItemRef(0, 1), mask=np.zeros_like(rectangle)))
    # the inpainted layer again: more variants with the recorded mask, not a new layer
    tracks = len(doc.timeline.tracks)
    actions.run_action(doc, client, ActionRequest("inpaint", ref, variants=2))
    assert len(doc.timeline.tracks) == tracks
    assert np.array_equal(client.regions[-1], painted)
    assert provenance.variants(ref.item(doc.timeline)) == ["seed_0", "seed_1", "seed_2"]


def test_rerunning_an_action_on_its_clip_adds_variants_to_it(doc):
    first = StandInClient()
    request = ActionRequest("extend", ItemRef(0, 0), seconds=0.5, prompt="more")
    ref = actions.run_action(doc, first, request)
    before = doc.snapshot()
    again = StandInClient()
    rerun = ActionRequest("extend", ref, seconds=3.0, prompt="other", variants=2)
    assert actions.run_action(doc, again, rerun) == ref
    assert _starts(doc.timeline.tracks[0]) == [("Clip", 0, 12), ("Clip", 12, 12), ("Clip", 24, 12)]
    assert again.calls == [("continuation", 1), ("continuation", 2)]  # seed 0 is taken
    assert np.array_equal(again.sources[0].frames, first.sources[0].frames)  # shot-a, again
    clip = ref.item(doc.timeline)
    assert provenance.variants(clip) == ["seed_0", "seed_1", "seed_2"]
    assert clip.active_media_reference_key == "seed_1"
    meta = provenance.of(clip)
    assert meta["prompt"] == "other" and meta["options"]["seconds"] == 0.5  # fits the clip
    path = media_paths.clip_media_path(clip, doc.base_dir)
    assert path.name.endswith("seed1.mp4") and probe(path).video.frame_count == 12
    doc.apply("variant", lambda t: edits.set_variant(t, ref, "seed_0"))
    assert provenance.of(ref.item(doc.timeline))["prompt"] == "more"
    doc.undo()
    doc.undo()
    assert doc.snapshot() == before


# -- saving ---------------------------------------------------------------------------------------
def test_save_never_replaces_a_file_unasked_and_keeps_media_links(doc, project, tmp_path_factory):
    with pytest.raises(OverwriteRefusedError, match="Save As"):
        doc.save()
    target = project / "cut.otio"
    target.write_text("the user's file")
    with pytest.raises(OverwriteRefusedError, match="confirm"):
        doc.save(target)
    assert target.read_text() == "the user's file"
    doc.save(target, overwrite=True)
    actions.run_action(doc, StandInClient(), ActionRequest("extend", ItemRef(0, 0)))
    doc.save()  # confirmed once for this session
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "moved.otio"
    doc.save(elsewhere)
    moved = TimelineDocument.open(elsewhere)
    states = {media_paths.media_status(c, moved.base_dir) for c in moved.timeline.find_clips()}
    assert states == {media_paths.ONLINE}  # relative links were rebased
    again = TimelineDocument.open(target)
    with pytest.raises(OverwriteRefusedError):
        again.save()  # a new session asks again


def test_autosave_writes_a_sidecar_only_when_there_is_something_new(doc, project):
    assert doc.autosave() is None
    actions.run_action(doc, StandInClient(), ActionRequest("extend", ItemRef(0, 0)))
    path = doc.autosave()
    assert path.name == ".Two Shots.reelpoet-autosave.otio" and path.parent == project
    assert doc.autosave() is None  # nothing new since
    restored = otio.adapters.read_from_file(str(path))
    assert len(restored.tracks[0]) == 3
    assert not (project / "two_shots.edl").read_text().count("extend")


# -- hostile timelines ----------------------------------------------------------------------------
HOSTILE_URLS = [
    "../../../../etc/passwd.mov",
    "https://example.com/shot.mov",
    "s3://bucket/shot.mov",
    "file://server/share/shot.mov",
    "file:///no/such/file.mov",
    "C:\\media\\shot.mov",
    "",
    "file:///tmp/%00evil.mov",
]


def test_hostile_media_paths_are_offline_and_never_written(tmp_path, media_dir):
    track = otio.schema.Track(name="V1")
    for n, url in enumerate(HOSTILE_URLS):
        ref = otio.schema.ExternalReference(target_url=url)
        span = otio.opentime.TimeRange(RT(0, 24), RT(10**9 if n == 0 else 24, 24))  # huge
        track.append(
            otio.schema.Clip(name=f"ünïcode ✂ {n}", media_reference=ref, source_range=span)
        )
    timeline = otio.schema.Timeline(name="hostile ✂")
    timeline.tracks.append(track)
    path = tmp_path / "hostile.otio"
    otio.adapters.write_to_file(timeline, str(path))
    doc = TimelineDocument.open(path)
    for n, clip in enumerate(doc.timeline.find_clips()):
        assert media_paths.media_status(clip, doc.base_dir) != media_paths.ONLINE
        with pytest.raises(OfflineMediaError, match="relink"):
            actions.prepare(doc, ActionRequest("extend", ItemRef(0, n)))
    shutil.copy(media_dir / "example2.mp4", tmp_path / "shot.mov")  # a real file to relink to
    from reelpoet.editor_plugin.media_paths import relink

    count = doc.apply("relink", lambda t: relink(t, doc.base_dir, tmp_path))
    urls = [c.media_reference.target_url for c in doc.timeline.find_clips()]
    assert count == 1  # only the missing local path named shot.mov (a Windows one)
    assert urls[1:4] == HOSTILE_URLS[1:4]  # web and UNC URLs with that name are left alone
    assert urls[5].endswith("/shot.mov")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.otio", "shot.mov"]
    assert find_clip(doc.timeline, "ünïcode ✂ 2") == ItemRef(0, 2)


# -- export round trips ---------------------------------------------------------------------------
@pytest.fixture
def generated(doc) -> TimelineDocument:
    """The EDL cut with an extension after shot-a, a stylized layer over shot-b and a score."""
    client = StandInClient()
    actions.run_action(doc, client, ActionRequest("extend", ItemRef(0, 0), seconds=0.5, seed=3))
    actions.run_action(doc, client, ActionRequest("stylize", ItemRef(0, 2), prompt="purple"))
    actions.run_action(doc, client, ActionRequest("score", ItemRef(0, 1)))
    return doc


def _generated_clips(timeline) -> dict[str, tuple[str, float, float]]:
    out = {}
    for track in timeline.tracks:
        for item in track:
            meta = provenance.of(item)
            if isinstance(item, otio.schema.Clip) and meta:
                span = item.range_in_parent()
                out[meta["id"]] = (track.kind, span.start_time.to_frames(), span.duration.value)
    return out


@pytest.mark.parametrize("fmt", ["fcp7", "fcpx", "aaf", "edl"])
def test_generated_clips_survive_export_and_reimport(generated, tmp_path, fmt):
    suffix = nle_export.FORMATS[fmt][1]
    report = nle_export.export_timeline(
        generated.timeline, generated.base_dir, tmp_path / f"cut{suffix}"
    )
    back = nle_export.read_back(report.path)
    want = _generated_clips(generated.timeline)
    got = _generated_clips(back)
    if fmt == "edl":  # one picture track: the layer covers shot-b's time; audio is not written
        assert any("audio" in n for n in report.notes)
        want = {k: v for k, v in want.items() if v[0] == "Video"}
        want = {k: ("Video", *v[1:]) for k, v in want.items()}
    assert len(want) >= 2 and got == want
    ext = next(c for c in back.find_clips() if provenance.of(c) and provenance.of(c)["seed"] == 3)
    assert (
        provenance.of(ext)["task"] == "continuation"
        and provenance.of(ext)["options"]["seconds"] == 0.5
    )
    with pytest.raises(OverwriteRefusedError):
        nle_export.export_timeline(generated.timeline, generated.base_dir, report.path)
    # Opening the export in the panel's document restores the same records from the sidecar.
    reopened = TimelineDocument.open(report.path)
    assert _generated_clips(reopened.timeline) == want
    assert (
        reopened.restored_records >= len(want) and reopened.path is None
    )  # FCPX: clip + its audio
    report.sidecar.write_text("{ not json")  # a damaged sidecar: the file opens, bare
    assert TimelineDocument.open(report.path).restored_records == 0


def test_only_real_media_goes_out_and_the_sidecar_keeps_all(shared_data, tmp_path):
    source = TimelineDocument.open(shared_data / "timelines" / "generator_reference_test.otio")
    for fmt in ("fcp7", "fcpx", "aaf"):  # each crashes or refuses on a GeneratorReference
        path = tmp_path / f"out{nle_export.FORMATS[fmt][1]}"
        report = nle_export.export_timeline(source.timeline, source.base_dir, path)
        assert report.replaced_by_gaps == [c.name for c in source.timeline.find_clips()]
        back = otio.adapters.read_from_file(str(path))
        assert back.find_clips() == []  # a gap in its place (readers drop a trailing gap)
    sidecar = otio.adapters.read_from_file(str(report.sidecar))
    assert isinstance(sidecar.find_clips()[0].media_reference, otio.schema.GeneratorReference)


def test_a_clip_placed_over_side_by_side_gaps_keeps_later_items_in_time():
    from reelpoet.editor_plugin.edits import place_free

    track = otio.schema.Track()
    for item in (otio.schema.Gap(duration=RT(5, 24)), otio.schema.Gap(duration=RT(5, 24))):
        track.append(item)
    track.append(
        otio.schema.Clip(name="after", source_range=otio.opentime.TimeRange(RT(0, 24), RT(4, 24)))
    )
    new = otio.schema.Clip(name="new", source_range=otio.opentime.TimeRange(RT(0, 24), RT(8, 24)))
    assert place_free(track, RT(1, 24), new) == 1
    assert _starts(track) == [("Gap", 0, 1), ("Clip", 1, 8), ("Gap", 9, 1), ("Clip", 10, 4)]
    with pytest.raises(PlacementError, match="not free"):
        place_free(track, RT(0, 24), new.deepcopy())
