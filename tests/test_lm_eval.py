"""The LM evaluation's plumbing on a tiny LM and stand-in tokenizers: every task gets a row,
and the inpainting/outpainting scores tell the true output from a wrong one (so the kept and
filled regions are the right ones)."""

from __future__ import annotations

import pytest
import torch

from reelpoet.models.eval import lm_eval
from reelpoet.models.lm import PrefixLM, preset_config
from reelpoet.models.lm_sampler import generate
from reelpoet.models.train import lm_cache
from reelpoet.models.train.lm_tasks import load_cache
from reelpoet.sdk.sampling import SamplingConfig
from reelpoet.sdk.token_layout import Task, TokenLayout

from .test_lm import FakeTokenizers

LAYOUT = TokenLayout()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class PatchDecoder(torch.nn.Module):
    """Inverse of FakeTokenizers.video_codes: each code is an 8x8 patch of one colour."""

    def decode(self, codes: torch.Tensor) -> torch.Tensor:  # (1, t, 8, 8) -> (1, T, 3, 64, 64)
        levels = torch.stack((codes // 256, codes // 16 % 16, codes % 16), dim=2).float() / 15
        patches = levels.repeat_interleave(8, dim=3).repeat_interleave(8, dim=4)
        frames = torch.cat((patches[:, :1], patches[:, 1:].repeat_interleave(4, dim=1)), dim=1)
        return frames


class LevelDecoder(torch.nn.Module):
    def decode(self, codes: torch.Tensor) -> torch.Tensor:  # (1, T, K) -> (1, T * 320)
        return (codes[..., 0].float() / 4000).repeat_interleave(320, dim=1)


class WordEmbedder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(30522, 384)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.table(ids)


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("heldout")
    lm_cache.build(folder, FakeTokenizers(), clips=3, pairs=2, first_seed=0, log=lambda m: None)
    return folder


def _models(generate_fn=None) -> lm_eval.Models:
    torch.manual_seed(0)
    lm = PrefixLM(preset_config("tiny", LAYOUT)).eval()
    generate_fn = generate_fn or (lambda request, sampling: generate(lm, LAYOUT, request, sampling))
    return lm_eval.Models(lm, LAYOUT, generate_fn, PatchDecoder(), LevelDecoder(), WordEmbedder())


def test_every_task_gets_a_row_and_samples_are_written(heldout, tmp_path):
    results = lm_eval.evaluate(_models(), heldout, count=2, samples_dir=tmp_path)
    assert set(results) == {t.value for t in Task}
    for row in results.values():
        assert 0 < row["bits_per_token"] < 20
    t2v = results["text_to_video"]
    assert 0 <= t2v["colour_correct"] <= 1
    assert results["continuation"]["long_videos"] == 0 or results["continuation"]["seam_psnr_db"]
    assert (tmp_path / "text_to_video.png").stat().st_size > 1000
    assert list(tmp_path.glob("video_to_audio_*.wav"))
    table = lm_eval.format_table(results)
    assert table.count("\n") == 1 + len(Task)


def test_masked_fill_scores_tell_the_truth_from_a_wrong_output(heldout):
    clips = load_cache(heldout)["clips"]

    def oracle(request, sampling):  # the clip's own codes: what a perfect model would give
        for key in ("inpaint_in", "outpaint_in"):
            for i, codes in enumerate(clips[key]):
                if codes.tolist() == request.video_in:
                    return clips["video"][i].tolist()
        raise AssertionError("request not from the cache")

    wrong = lambda request, sampling: [0] * 320  # noqa: E731  (black frames)
    for task in (Task.INPAINT, Task.OUTPAINT):
        good = lm_eval.masked_fill(_models(oracle), task, clips, 3)
        bad = lm_eval.masked_fill(_models(wrong), task, clips, 3)
        assert good["kept_psnr_db"] > bad["kept_psnr_db"] + 5
        assert good["filled_psnr_db"] > bad["filled_psnr_db"] + 5


def test_tasks_and_sampling_can_be_chosen(heldout):
    seen = []
    models = _models()
    inner = models.generate

    def recording(request, sampling):
        seen.append(sampling)
        return inner(request, sampling)

    models.generate = recording
    models.sampling = SamplingConfig(temperature=0.5, top_k=8, guidance_scale=2.0)
    results = lm_eval.evaluate(models, heldout, count=2, samples_dir=None, tasks={Task.INPAINT})
    assert set(results) == {"inpaint"} and "kept_psnr_db" in results["inpaint"]
    assert seen and all((s.temperature, s.top_k, s.guidance_scale) == (0.5, 8, 2.0) for s in seen)
    assert [s.seed for s in seen] == list(range(len(seen)))  # seeds still per sample
