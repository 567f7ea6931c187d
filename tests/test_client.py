"""The local Client on real media with the random test bundle: results come back at the source's
rate and size, kept pixels are the source's own, seeds reproduce, files are written, OTIO clips
are read by their source range, and bad calls get clear errors."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import opentimelineio as otio
import pytest

from reelpoet.sdk.client import Client
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import probe, read_video


@pytest.fixture(scope="module")
def client(bundle_dir):
    return Client.local(bundle_dir, threads=1)


@pytest.fixture(scope="module")
def short_clip(media_dir):
    return read_video(media_dir / "example2.mp4", (0.0, 1.0))


def test_text_to_video_lasts_as_asked_and_saves(client, tmp_path):
    result = client.text_to_video("a red ball moves left", seconds=3.0, seed=1)
    assert result.frames.shape == (24, 64, 64, 3) and result.fps == 8
    assert result.metadata["task"] == "text_to_video" and result.metadata["seed"] == 1
    path = result.save(tmp_path / "out.mp4")
    info = probe(path)
    assert info.video.frame_count == 24


def test_extend_is_conformed_to_the_source(client, short_clip):
    result = client.extend(short_clip, seconds=1.5, seed=2)
    assert result.fps == short_clip.fps
    assert result.frames.shape[1:] == short_clip.frames.shape[1:]
    assert len(result.frames) == round(1.5 * short_clip.fps)
    again = client.extend(short_clip, seconds=1.5, seed=2)
    assert (again.frames == result.frames).all()


def test_inpaint_keeps_every_pixel_outside_the_box(client, short_clip):
    box = (100, 50, 300, 200)
    result = client.inpaint(short_clip, box, "a blue square", seed=0)
    assert result.frames.shape == short_clip.frames.shape
    kept = np.ones(short_clip.frames.shape[:3], bool)
    kept[:, 50:200, 100:300] = False
    assert (result.frames[kept] == short_clip.frames[kept]).all()
    assert not (result.frames[~kept] == short_clip.frames[~kept]).all()


def test_outpaint_widens_around_the_untouched_source(client, short_clip):
    h, w = short_clip.frames.shape[1:3]
    result = client.outpaint(short_clip, aspect=2.0 * w / h)
    out_h, out_w = result.frames.shape[1:3]
    assert out_h == h and abs(out_w - 2 * w) <= 1
    x0 = (out_w - w) // 2
    assert (result.frames[:, :, x0 : x0 + w] == short_clip.frames).all()


def test_score_is_as_long_as_the_clip(client, short_clip, tmp_path):
    result = client.score(short_clip)
    assert result.frames is None and result.sample_rate == 16000
    assert len(result.audio) == round(short_clip.duration_s * 16000)
    assert result.save(tmp_path / "score.wav").stat().st_size > 1000
    with pytest.raises(InvalidRequestError, match="audio only"):
        result.save(tmp_path / "score.mp4")


def _otio_clip(url: str, start: int = 0, frames: int = 12, rate: float = 24.0):
    return otio.schema.Clip(
        name="shot",
        media_reference=otio.schema.ExternalReference(target_url=url),
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(frames, rate)
        ),
    )


def test_otio_media_is_found_from_the_timelines_folder_not_the_cwd(
    media_dir, tmp_path, monkeypatch
):
    from reelpoet.sdk.client import read_otio_clip

    folder = tmp_path / "project"
    (folder / "media").mkdir(parents=True)
    shutil.copy(media_dir / "example2.mp4", folder / "media" / "my shot #1.mp4")
    want = read_video(folder / "media" / "my shot #1.mp4", (0.5, 1.0)).frames
    monkeypatch.chdir(folder / "media")  # a cwd where the bare name would resolve
    relative = _otio_clip("media/my shot #1.mp4", start=12)
    assert np.array_equal(read_otio_clip(relative, media_root=folder).frames, want)
    with pytest.raises(InvalidRequestError, match="media_root"):
        read_otio_clip(_otio_clip("my shot #1.mp4"))  # never read from the cwd
    encoded = (folder / "media" / "my shot #1.mp4").as_uri()
    assert "%20" in encoded and "%23" in encoded
    assert np.array_equal(read_otio_clip(_otio_clip(encoded, start=12)).frames, want)
    localhost = encoded.replace("file://", "file://localhost")
    assert np.array_equal(read_otio_clip(_otio_clip(localhost, start=12), folder).frames, want)


@pytest.mark.parametrize(
    "url, message",
    [
        ("https://example.com/shot.mov", "not a local file"),
        ("s3://bucket/shot.mov", "not a local file"),
        ("file://server/share/shot.mov", "not a local file"),  # another host
        ("file:///tmp/%00evil.mov", "NUL"),
        ("", "no external media"),
    ],
)
def test_otio_media_that_is_not_a_local_file_is_refused(url, message, tmp_path):
    from reelpoet.sdk.client import read_otio_clip

    with pytest.raises(InvalidRequestError, match=message):
        read_otio_clip(_otio_clip(url), media_root=tmp_path)


def test_results_carry_the_bundle_id_and_its_manifest_sha256(client, bundle_dir):
    manifest = (bundle_dir / "manifest.json").read_bytes()
    digest, bundle_id = hashlib.sha256(manifest).hexdigest(), json.loads(manifest)["bundle_id"]
    for result in (client.text_to_image("a star", seed=1), client.text_to_audio("a drum")):
        assert result.metadata["bundle_sha256"] == digest
        assert result.metadata["bundle_id"] == bundle_id


def test_an_otio_clip_is_read_by_its_source_range(client, media_dir):
    path = media_dir / "smpte-2997.mp4"
    rate = probe(path).video.fps
    clip = otio.schema.Clip(
        name="bars",
        media_reference=otio.schema.ExternalReference(target_url=str(path)),
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(30, float(rate)), otio.opentime.RationalTime(15, float(rate))
        ),
    )
    result = client.stylize(clip, "in purple and orange")
    assert len(result.frames) == 15 and result.fps == rate


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c.text_to_video("x", seconds=0), "seconds"),
        (lambda c: c.text_to_video("x", seconds=1000), "seconds"),
        (lambda c: c.text_to_video(["x"]), "prompt must be a str"),
        (lambda c: c.text_to_video("x", colour="red"), "unknown option"),
        (lambda c: c.text_to_video("x", temperature=-1), "temperature"),
        (lambda c: c.outpaint(np.zeros(3), aspect=2), "a source is"),
        (lambda c: c.image_to_video(np.zeros((4, 4), np.uint8)), r"\(H, W, 3\)"),
    ],
)
def test_bad_calls_get_clear_errors(client, call, message):
    with pytest.raises(InvalidRequestError, match=message):
        call(client)


def test_demo_writes_playable_media_and_a_timeline_that_holds_them(bundle_dir, tmp_path):
    from reelpoet.sdk import cli

    out = tmp_path / "demo"
    assert cli.main(["demo", "--bundle", str(bundle_dir), "--out", str(out), "--threads", "1"]) == 0
    generated = probe(out / "generated.mp4")
    assert generated.video.frame_count == 17 and generated.video.width == 64
    extended = probe(out / "sample_extended.mp4")
    assert (extended.video.width, extended.video.height) == (1280, 720)
    timeline = otio.adapters.read_from_file(str(out / "demo.otio"))
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["big_buck_bunny_1s", "extension", "generated"]
    for clip in clips:
        assert (out / clip.media_reference.target_url).is_file()  # relative to the timeline
    assert clips[1].metadata["reelpoet"]["task"] == "continuation"
    assert clips[2].metadata["reelpoet"]["prompt"] == cli.DEMO_PROMPT
    # and it opens in the editor panel's document with every clip's media online
    from reelpoet.editor_plugin.media_paths import ONLINE, media_status
    from reelpoet.editor_plugin.timeline_document import TimelineDocument

    document = TimelineDocument.open(out / "demo.otio")
    opened = list(document.timeline.find_clips())
    assert [media_status(c, document.base_dir) for c in opened] == [ONLINE] * 3


def test_cancelling_stops_the_work_with_nothing_returned(client):
    from reelpoet.sdk.errors import CancelledError

    steps = []
    with pytest.raises(CancelledError):
        client.text_to_video(
            "x",
            seconds=4.25,
            progress=lambda i, n: steps.append(i),
            cancelled=lambda: len(steps) >= 10,
        )
    assert len(steps) == 10


def test_cli_task_commands_write_results_and_refuse_bad_calls(bundle_dir, tmp_path, capsys):
    from reelpoet.sdk import cli
    from reelpoet.sdk.cli import SAMPLE_CLIP

    common = ["--bundle", str(bundle_dir), "--threads", "1"]
    video = tmp_path / "t2v.mp4"
    assert cli.main(["text-to-video", "a red ball", "-o", str(video), *common]) == 0
    assert probe(video).video.frame_count == 17
    assert cli.main(["text-to-video", "a red ball", "-o", str(video), *common]) == 2
    assert "--overwrite" in capsys.readouterr().err  # an existing output is never replaced silently
    sound = tmp_path / "score.wav"
    assert cli.main(["score", str(SAMPLE_CLIP), "-o", str(sound), *common]) == 0
    assert probe(sound).audio.sample_rate == 16000
    bad_box = [
        "inpaint",
        str(SAMPLE_CLIP),
        "--box",
        "0",
        "0",
        "5000",
        "10",
        "-o",
        str(tmp_path / "i.mp4"),
    ]
    assert cli.main([*bad_box, *common]) == 2
    assert "inside the 1280x720 frame" in capsys.readouterr().err
    assert not (tmp_path / "i.mp4").exists()


def test_rate_scores_a_clip_with_the_lm(client, short_clip):
    score = client.rate(short_clip, "a person in a room")
    assert np.isfinite(score) and score <= 0
    assert score == client.rate(short_clip, "a person in a room")  # deterministic
    with pytest.raises(InvalidRequestError, match="prompt"):
        client.rate(short_clip, None)


def test_prompt_only_tasks_give_an_image_and_a_sound(client):
    image = client.text_to_image("a yellow star", seed=4)
    assert image.frames.shape == (1, 64, 64, 3) and image.metadata["task"] == "text_to_image"
    sound = client.text_to_audio("a ball bouncing", seed=4)
    assert sound.frames is None and sound.audio.shape == (34000,) and sound.sample_rate == 16000
    assert (client.text_to_audio("a ball bouncing", seed=4).audio == sound.audio).all()


@pytest.fixture(scope="module")
def small_clip(media_dir):
    """An odd size (150x90, not a multiple of the 64-pixel grid) keeps mask tests quick."""
    return read_video(media_dir / "example2.mp4", (0.0, 1.0), size=(150, 90), fit="stretch")


def test_an_inpainting_mask_works_like_its_box_and_keeps_every_other_pixel(client, small_clip):
    box = client.inpaint(small_clip, (13, 7, 101, 60), "a blue square", seed=0)
    mask = np.zeros(small_clip.frames.shape[1:3], bool)
    mask[7:60, 13:101] = True
    same = client.inpaint(small_clip, mask, "a blue square", seed=0)
    assert np.array_equal(same.frames, box.frames)
    masks = np.zeros(small_clip.frames.shape[:3], np.uint8)  # per frame, nonzero: regenerate
    masks[5:9, 30:61, 60:97] = 255
    result = client.inpaint(small_clip, masks, "a blue square", seed=0)
    kept = masks == 0
    assert (result.frames[kept] == small_clip.frames[kept]).all()
    assert not (result.frames[~kept] == small_clip.frames[~kept]).all()


def test_a_mask_picture_regenerates_its_white_pixels(client, small_clip, tmp_path):
    from PIL import Image

    picture = np.zeros(small_clip.frames.shape[1:], np.uint8)
    picture[20:60, 40:100] = 255
    path = tmp_path / "mask.png"  # lossless: a lossy codec's ringing would move the edges
    Image.fromarray(picture).save(path)
    result = client.inpaint(small_clip, path, seed=0)
    kept = np.ones(small_clip.frames.shape[:3], bool)
    kept[:, 20:60, 40:100] = False
    assert (result.frames[kept] == small_clip.frames[kept]).all()
    assert not (result.frames[~kept] == small_clip.frames[~kept]).all()


def test_a_mask_video_gives_each_frame_its_own_mask(client, small_clip, media_dir, tmp_path):
    import av

    count, (height, width) = small_clip.num_frames, small_clip.frames.shape[1:3]
    masks = np.zeros((count, height, width), bool)
    for t in range(count):  # a square moving right, frame by frame
        masks[t, 20:50, 10 + 3 * t : 40 + 3 * t] = True
    path = tmp_path / "matte.mkv"  # FFV1 RGB: lossless, so the edges are exactly these
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=int(small_clip.fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "bgr0"
        for mask in masks:
            picture = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    result = client.inpaint(small_clip, path, seed=0)
    assert (result.frames[~masks] == small_clip.frames[~masks]).all()
    assert not (result.frames[masks] == small_clip.frames[masks]).all()
    shorter = read_video(media_dir / "example2.mp4", (0.0, 0.5), size=(150, 90), fit="stretch")
    with pytest.raises(InvalidRequestError, match="one mask per frame"):
        client.inpaint(shorter, path)  # the matte is for another length


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.zeros((72, 128), bool), r"\(H, W\) or \(T, H, W\)"),  # not the clip's size
        (np.zeros((720, 1280), bool), "selects no pixel"),
        (np.ones((3, 720, 1280), bool), "one mask per frame"),
        (np.ones((720, 1280), np.float32), "bool or integer"),
        ((0, 0, 5000, 10), "inside the 1280x720 frame"),
    ],
)
def test_bad_masks_get_clear_errors(client, short_clip, mask, message):
    with pytest.raises(InvalidRequestError, match=message):
        client.inpaint(short_clip, mask)


def test_async_client_gives_the_sync_results(bundle_dir, client):
    import asyncio
    import threading

    from reelpoet.sdk.async_client import AsyncClient

    progress_threads = set()

    async def main():
        async with AsyncClient.local(bundle_dir, threads=1) as async_client:
            return await asyncio.gather(
                async_client.text_to_image(
                    "a star",
                    seed=3,
                    progress=lambda i, n: progress_threads.add(threading.get_ident()),
                ),
                async_client.text_to_audio("a drum", seed=3),
            )

    image, sound = asyncio.run(main())
    assert np.array_equal(image.frames, client.text_to_image("a star", seed=3).frames)
    assert np.array_equal(sound.audio, client.text_to_audio("a drum", seed=3).audio)
    assert progress_threads == {threading.get_ident()}  # called on the event loop's thread


def test_image_to_video_reads_a_still_picture_file(client, small_clip, tmp_path):
    from PIL import Image

    still = small_clip.frames[0]
    Image.fromarray(still).save(tmp_path / "still.png")
    from_file = client.image_to_video(tmp_path / "still.png", seed=0)
    from_array = client.image_to_video(still, seed=0)
    assert np.array_equal(from_file.frames, from_array.frames)
