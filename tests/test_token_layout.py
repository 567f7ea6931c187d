"""The token layout: disjoint vocabulary ranges, code <-> token round trips, every task's sequence
grammar, prefix/loss masks, and a manifest round trip that refuses a mismatch."""

from __future__ import annotations

import pytest

from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.token_layout import TASK_SHAPES, Task, TokenLayout

LAYOUT = TokenLayout()


def test_vocabulary_ranges_are_disjoint_and_cover_everything():
    special = set(range(LAYOUT.video_offset))
    video, audio = set(LAYOUT.video_range()), set(LAYOUT.audio_range())
    assert not (special & video) and not (video & audio) and not (special & audio)
    assert special | video | audio == set(range(LAYOUT.vocab_size))
    assert LAYOUT.vocab_size == len(LAYOUT.special_tokens) + 4096 + 4 * 1024
    levels = [set(LAYOUT.audio_range(level)) for level in range(4)]
    assert set().union(*levels) == audio and sum(map(len, levels)) == len(audio)


def test_codes_round_trip_through_tokens():
    video = [0, 1, 4095, 17]
    assert LAYOUT.tokens_to_video(LAYOUT.video_to_tokens(video)) == video
    audio = [5, 1023, 0, 512, 7, 8, 9, 10]  # two frames of four levels
    tokens = LAYOUT.audio_to_tokens(audio)
    assert LAYOUT.tokens_to_audio(tokens) == audio
    assert [t in LAYOUT.audio_range(i % 4) for i, t in enumerate(tokens)] == [True] * 8


@pytest.mark.parametrize("bad", [-1, 4096])
def test_codes_outside_the_vocabulary_are_refused(bad):
    with pytest.raises(InvalidRequestError, match="outside"):
        LAYOUT.video_to_tokens([bad])
    with pytest.raises(InvalidRequestError, match="outside"):
        LAYOUT.tokens_to_video([LAYOUT.video_offset + bad])


def _inputs(task: Task) -> dict:
    shape = TASK_SHAPES[task]
    return {
        "video_in": [3] * LAYOUT.input_length(task) if shape.video_in else None,
        "audio_in": [2] * 428 if shape.audio_in else None,
    }


@pytest.mark.parametrize("task", list(Task))
def test_every_task_assembles_with_its_grammar(task):
    out_len = LAYOUT.output_length(task)
    seq = LAYOUT.assemble(task, **_inputs(task), output=[1] * out_len)
    tokens = seq.tokens
    assert tokens[0] == LAYOUT.special("bos") and tokens[1] == LAYOUT.task_token(task)
    assert tokens[-1] == LAYOUT.special("eos")
    slots = tokens[seq.text_start : seq.text_start + LAYOUT.text_slots]
    assert set(slots) == {LAYOUT.special("text_slot")}
    assert tokens[seq.text_start - 1] == LAYOUT.special("bot_i")
    assert tokens[seq.text_start + LAYOUT.text_slots] == LAYOUT.special("eot_i")
    generated = tokens[seq.output_start : seq.output_start + out_len]
    allowed = LAYOUT.video_range() if TASK_SHAPES[task].output == "video" else LAYOUT.audio_range()
    assert all(t in allowed for t in generated)
    mask = seq.loss_mask()
    assert not any(mask[: seq.prefix_length]) and all(mask[seq.prefix_length :])
    assert len(tokens) == seq.prefix_length + out_len + 2  # codes + end boundary + eos
    inference = LAYOUT.assemble(task, **_inputs(task))
    assert inference.tokens == tokens[: seq.prefix_length]


def test_inputs_a_task_has_no_place_for_are_refused():
    with pytest.raises(InvalidRequestError, match="takes no video"):
        LAYOUT.assemble(Task.TEXT_TO_VIDEO, video_in=[1] * 320)
    with pytest.raises(InvalidRequestError, match="needs video"):
        LAYOUT.assemble(Task.CONTINUATION)
    with pytest.raises(InvalidRequestError, match="expected 320"):
        LAYOUT.assemble(Task.TEXT_TO_VIDEO, output=[1] * 10)


def test_text_to_image_generates_one_latent_frame():
    seq = LAYOUT.assemble(Task.TEXT_TO_IMAGE, output=[0] * 64, output_length=64)
    assert seq.output_length == 64


def test_manifest_round_trip_and_mismatch():
    data = LAYOUT.to_dict()
    assert TokenLayout.from_dict(data) == LAYOUT
    with pytest.raises(InvalidRequestError, match="vocab_size"):
        TokenLayout.from_dict({**data, "vocab_size": data["vocab_size"] + 1})
    with pytest.raises(InvalidRequestError, match="version"):
        TokenLayout.from_dict({**data, "version": 99, "vocab_size": data["vocab_size"]})


@pytest.mark.parametrize("task", list(Task))
def test_sequence_length_matches_assembly(task):
    out = [1] * LAYOUT.output_length(task)
    assert len(LAYOUT.assemble(task, **_inputs(task), output=out).tokens) == LAYOUT.sequence_length(
        task
    )


def test_images_are_one_latent_frame():
    assert LAYOUT.output_length(Task.TEXT_TO_IMAGE) == LAYOUT.video_tokens_per_image == 64
    assert LAYOUT.input_length(Task.IMAGE_TO_VIDEO) == 64
    with pytest.raises(InvalidRequestError, match="expected 64"):
        LAYOUT.assemble(Task.IMAGE_TO_VIDEO, video_in=[1] * 320)
