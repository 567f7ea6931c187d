"""The README's contact sheet is drawn from what the bundle generates, row by row."""

from __future__ import annotations

import numpy as np
import pytest

from reelpoet.models.eval.contact_sheet import INPUT_FRAMES, LABEL_HEIGHT, contact_sheet
from reelpoet.models.eval.lm_eval import SINGLE_OBJECT
from reelpoet.models.world import make_sample
from reelpoet.models.world.heldout_captions import heldout_caption
from reelpoet.sdk.client import Client

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_sheet_holds_generated_rows_then_the_extended_sample(bundle_dir):
    client = Client.local(bundle_dir, threads=1)
    sheet = np.asarray(contact_sheet(client, prompts=2, scale=1))
    # two text-to-video rows of 17 frames, then 8 sample frames + 17 extension frames
    assert sheet.shape == (3 * (64 + LABEL_HEIGHT), (INPUT_FRAMES + 17) * 64, 3)
    caption = heldout_caption(make_sample(1, SINGLE_OBJECT).truth, 1)
    expected = client.text_to_video(caption, seconds=2.125, seed=1).frames
    second_row = sheet[2 * LABEL_HEIGHT + 64 : 2 * (LABEL_HEIGHT + 64)]
    assert np.array_equal(second_row[:, : 17 * 64], np.concatenate(list(expected), axis=1))
    assert (second_row[:, 17 * 64 :] == 255).all()  # the shorter row is padded white
