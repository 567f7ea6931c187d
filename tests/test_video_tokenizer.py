"""Video tokenizer: LFQ round trips, shapes for 1 + 4k frames, causality, image = 1-frame clip,
and distributed training that keeps the ranks in step."""

from __future__ import annotations

import functools

import pytest
import torch
from safetensors.torch import load_file

from reelpoet.models.lfq import LookupFreeQuantizer
from reelpoet.models.video_tokenizer import PRESETS, VideoTokenizer, VideoTokenizerConfig


def _randomise_temporal_taps(model: VideoTokenizer) -> None:
    """Past taps start at zero (image-first init); give them weight so causality is tested."""
    with torch.no_grad():
        for module in model.modules():
            if module.__class__.__name__ == "CausalTemporalConv":
                module.mix.weight.normal_(0, 0.05)


def test_lfq_codes_round_trip_and_match_the_signs():
    quantizer = LookupFreeQuantizer(bits=12)
    z = torch.randn(4, 10, 12)
    out = quantizer(z)
    assert out.codes.shape == (4, 10) and out.codes.min() >= 0 and out.codes.max() < 2**12
    torch.testing.assert_close(quantizer.codes_to_quantized(out.codes), torch.sign(z))
    codes = torch.randint(0, 2**12, (3, 7))
    assert torch.equal(quantizer.quantized_to_codes(quantizer.codes_to_quantized(codes)), codes)


def test_lfq_entropy_penalty_prefers_diverse_confident_codes():
    quantizer = LookupFreeQuantizer(bits=4, temperature=0.1).train()
    diverse = quantizer.codes_to_quantized(torch.arange(16).repeat(8)) * 2.0  # every code, sure
    collapsed = torch.ones(128, 4) * 2.0  # one code everywhere
    assert quantizer(diverse).entropy_loss < quantizer(collapsed).entropy_loss
    assert quantizer(diverse).batch_entropy_bits == pytest.approx(4.0, abs=1e-3)


def test_grouped_entropy_handles_large_codebooks():
    quantizer = LookupFreeQuantizer(bits=18, entropy_group_bits=9).train()
    out = quantizer(torch.randn(64, 18))
    assert torch.isfinite(out.entropy_loss) and 0 < out.batch_entropy_bits <= 18


@pytest.mark.parametrize("num_frames", [1, 5, 9])
def test_clip_lengths_one_plus_4k_give_the_documented_latents(num_frames):
    model = VideoTokenizer(PRESETS["tiny"]).eval()
    codes = model.encode(torch.rand(2, num_frames, 3, 32, 32))
    assert codes.shape == (2, 1 + (num_frames - 1) // 4, 4, 4)
    assert model.decode(codes).shape == (2, num_frames, 3, 32, 32)


def test_default_config_token_layout_matches_the_design():
    cfg = PRESETS["default"]
    assert cfg.latent_shape == (5, 8, 8)  # 320 tokens a clip
    assert 2**cfg.codebook_bits == 4096
    assert PRESETS["base"].latent_shape == (5, 16, 16) and PRESETS["base"].codebook_bits == 18
    with pytest.raises(ValueError, match="1 \\+ 4k"):
        VideoTokenizerConfig(num_frames=16)


def test_encoder_and_decoder_are_causal_in_time():
    torch.manual_seed(0)
    model = VideoTokenizer(PRESETS["tiny"]).eval()
    _randomise_temporal_taps(model)
    clip = torch.rand(1, 9, 3, 32, 32)
    changed = clip.clone()
    changed[:, 5] = torch.rand_like(changed[:, 5])  # frame 5 belongs to latent 2 (frames 5..8)
    before, after = model.encode(clip), model.encode(changed)
    assert torch.equal(before[:, :2], after[:, :2])
    assert not torch.equal(before[:, 2:], after[:, 2:])
    decoded_before, decoded_after = model.decode(before), model.decode(after)
    assert torch.equal(decoded_before[:, :5], decoded_after[:, :5])


def test_an_image_is_coded_like_the_first_frame_of_a_clip():
    torch.manual_seed(0)
    model = VideoTokenizer(PRESETS["tiny"]).eval()
    _randomise_temporal_taps(model)
    clip = torch.rand(1, 5, 3, 32, 32)
    assert torch.equal(model.encode(clip[:, :1])[:, 0], model.encode(clip)[:, 0])


def _tiny_run(run_dir, **overrides):
    """A training config of the tiny preset that runs in seconds."""
    from reelpoet.models.train.train_video_tokenizer import TrainConfig

    return TrainConfig(
        run_dir=str(run_dir), preset="tiny", batch_size=2, crop=16, warmup_steps=1, **overrides
    )


def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    from reelpoet.models.train.distributed import train_on_local_ranks
    from reelpoet.models.train.train_video_tokenizer import train

    cfg = _tiny_run(tmp_path / "run", stage="video", steps=3, photo_fraction=0.5)
    rank0, rank1 = train_on_local_ranks(functools.partial(train, cfg), 2, tmp_path)
    torch.manual_seed(0)  # the seed train() starts from: the untrained weights
    initial = VideoTokenizer(PRESETS["tiny"]).state_dict()
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0)
    assert any(not torch.equal(rank0[n], initial[n]) for n in rank0)  # it did train
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").exists()
    assert (tmp_path / "run" / "log.csv").read_text().count("\n") == 2  # header + final step


def test_a_resumed_run_log_forgets_rows_past_the_checkpoint(tmp_path):
    from reelpoet.models.train.run_log import CsvLog

    log = CsvLog(tmp_path / "log.csv", ["step", "loss"])
    for step in (25, 50, 75):
        log.write({"step": step, "loss": 1.0 / step})
    resumed = CsvLog(tmp_path / "log.csv", ["step", "loss"], start_step=50)  # checkpoint at 50
    resumed.write({"step": 75, "loss": 0.5})
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["step", "25", "50", "75"]
    assert lines[-1] == "75,0.5"


def test_a_run_resumes_where_it_stopped_with_cumulative_time(tmp_path):
    import json

    from reelpoet.models.train.distributed import DistContext
    from reelpoet.models.train.train_video_tokenizer import train

    ctx = DistContext(rank=0, world_size=1, device=torch.device("cpu"))
    cfg = _tiny_run(tmp_path, stage="image", steps=4, log_every=1)
    train(cfg, ctx, stop_after=2)
    first = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    weights_after_two = load_file(tmp_path / "checkpoint" / "model.safetensors")
    model = train(cfg, ctx)  # resumes at step 2, ends at 4
    second = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert (first["step"], second["step"]) == (2, 4)
    assert second["seconds"] > first["seconds"] > 0
    steps = [line.split(",")[0] for line in (tmp_path / "log.csv").read_text().splitlines()[1:]]
    assert steps == ["1", "2", "3", "4"]
    changed = [not torch.equal(weights_after_two[k], v) for k, v in model.state_dict().items()]
    assert any(changed)


def test_decoder_only_training_keeps_every_code(tmp_path):
    """--decoder-only leaves the encoder as loaded (an LM trained on its codes stays valid) and
    trains the decoder."""
    import dataclasses

    from reelpoet.models.train.distributed import DistContext
    from reelpoet.models.train.train_video_tokenizer import train
    from reelpoet.models.trained import load_video_tokenizer

    ctx = DistContext(rank=0, world_size=1, device=torch.device("cpu"))
    cfg = _tiny_run(tmp_path / "start", stage="video", steps=2, log_every=1)
    train(cfg, ctx)
    start = tmp_path / "start" / "checkpoint"
    tuned_cfg = dataclasses.replace(
        cfg,
        run_dir=str(tmp_path / "tuned"),
        init_from=str(start),
        decoder_only=True,
        steps=3,
        lr=1e-2,
    )
    tuned = train(tuned_cfg, ctx)
    before = load_video_tokenizer(start)
    clips = torch.rand(2, 5, 3, 32, 32)
    assert torch.equal(tuned.encode(clips), before.encode(clips))
    for name, weight in before.encoder.state_dict().items():
        assert torch.equal(tuned.encoder.state_dict()[name], weight), name
    assert not torch.equal(tuned.decoder.inp.weight, before.decoder.inp.weight)


def test_prefetched_batches_are_the_batches_of_their_steps():
    from reelpoet.models.train.prefetch import prefetched
    from reelpoet.models.train.tokenizer_clips import ClipMix, TokenizerClips

    clips = TokenizerClips(ClipMix(size=32, num_frames=1, crop=16), seed=3)
    make = lambda step: clips.batch(2, 0, step)  # noqa: E731
    for workers in (1, 2):  # two workers interleave steps 5..10 and still hand them in order
        batch_at = prefetched(make, first=5, end=11, workers=workers)
        for step in range(5, 11):
            assert torch.equal(batch_at(step), make(step)), (workers, step)
    out_of_order = prefetched(make, first=0, end=3)
    with pytest.raises(RuntimeError, match="step 0 asked for at step 1"):
        out_of_order(1)


def test_reference_codecs_round_trip_blocks_and_rank_by_rate():
    import numpy as np

    from reelpoet.models.eval.video_references import (
        clip_psnr,
        from_blocks,
        principal_coder,
        to_blocks,
        vq_coder,
    )

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 16, 24, 3), dtype=np.uint8)
    blocks = to_blocks(frames)
    assert blocks.shape == (2 * 3, 5 * 8 * 8 * 3)
    assert torch.equal(from_blocks(blocks, 5, 16, 24), torch.from_numpy(frames).float() / 255)
    # smooth data: a few directions hold it; every direction holds it exactly
    # each frame a horizontal ramp with its own colour: 3 gains x 3 ramp segments = rank 9
    ramp = np.linspace(0, 255, 24)[None, None, :, None] * rng.uniform(0.2, 1, (40, 1, 1, 3))
    ramp = np.broadcast_to(ramp, (40, 16, 24, 3))
    training = torch.cat([to_blocks(frame[None]) for frame in ramp.astype(np.uint8)])  # (240, 192)
    exact = principal_coder(training, training.shape[1])
    torch.testing.assert_close(exact(training), training, atol=1e-4, rtol=0)
    few = (principal_coder(training, 9)(training) - training).abs().mean()
    assert few < 0.01 < (principal_coder(training, 1)(training) - training).abs().mean()

    def vq_error(codewords: int) -> float:
        coder = vq_coder(training, count=codewords, dims=8)
        return float((coder(training) - training).pow(2).mean())

    assert vq_error(64) < vq_error(4)
    assert clip_psnr(frames, lambda f: torch.from_numpy(f).float() / 255) == float("inf")


def test_sign_codes_find_the_corners_and_prediction_keeps_a_still_clip():
    import numpy as np

    from reelpoet.models.eval.video_references import (
        clip_psnr,
        predictive_vq,
        sign_coder,
    )

    torch.manual_seed(0)
    # blocks at the 8 corners of a cube in 3 orthogonal directions (plus a little noise):
    # 3 sign bits, turned onto those directions by ITQ, tell every corner apart
    directions = torch.linalg.qr(torch.randn(192, 3))[0].T  # (3, 192)
    corners = torch.randint(0, 2, (600, 3)).float() * 2 - 1
    blocks = 0.5 + 0.2 * corners @ directions + 0.001 * torch.randn(600, 192)
    coded = sign_coder(blocks, bits=3)(blocks)
    assert (coded - blocks).pow(2).mean() < 1e-5
    assert (sign_coder(blocks, bits=1)(blocks) - blocks).pow(2).mean() > 1e-4  # 1 bit cannot

    # still clips with frame 0 coded exactly: after it, "no change" is exact, so the still
    # clip decodes exactly (closed loop: the change is taken from the decoded frame)
    rng = np.random.default_rng(0)
    stills = [
        np.repeat(rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8), 5, 0) for _ in range(20)
    ]
    code = predictive_vq(stills, lambda blocks: blocks, half=8)
    assert clip_psnr(stills[0], code) == float("inf")
    moving = stills[0].copy()
    moving[1:] = 255 - moving[1:]  # a cut after frame 0: neither option codes it exactly
    assert clip_psnr(moving, code, 1) == float("inf") > clip_psnr(moving, code)
