"""Audio tokenizer: RVQ round trips, dead-code restart, quantizer dropout, the filterbank's
perfect reconstruction at init, causality (and the decoder's one-frame lookahead), the frame
count and token interleaving, exact chunking with the documented context, and distributed
training that keeps the ranks (weights and codebooks) in step."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import math

import pytest
import torch

from reelpoet.models.audio_spectra import MultiScaleMelLoss, OnsetRiseLoss, si_snr
from reelpoet.models.audio_tokenizer import (
    PRESETS,
    AudioTokenizer,
    AudioTokenizerConfig,
    decoder_context_frames,
    decoder_lookahead_frames,
    deinterleave,
    encoder_context_frames,
    init_linear_path,
    interleave,
    windows_from_frames,
)
from reelpoet.models.rvq import ResidualVectorQuantizer, beam_search
from reelpoet.models.train.train_audio_tokenizer import (
    TrainConfig,
    dropout_levels,
    si_snr_loss_term,
    silence_leak,
)


def _trained_like(model: AudioTokenizer, seconds: float = 2.0) -> AudioTokenizer:
    """Codebooks initialised from real latents (as the first training step does), so that codes
    differ from frame to frame; weights stay random."""
    torch.manual_seed(1)
    model.train()
    model(torch.randn(4, int(seconds * 16000)) * 0.3)  # grad enabled: the EMA init runs
    return model.eval()


def test_rvq_codes_decode_to_the_quantized_output():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(num_levels=4, codebook_size=32, dim=8).eval()
    z = torch.randn(3, 20, 8)
    out = rvq(z)
    assert out.codes.shape == (3, 20, 4) and out.codes.dtype == torch.int64
    torch.testing.assert_close(rvq.decode(out.codes), out.quantized)
    assert torch.equal(rvq.encode(z), out.codes)
    # each level codes what the levels before it left over: the error shrinks with levels
    errors = [(z - rvq.decode(out.codes[..., :k])).norm() for k in range(1, 5)]
    assert all(a > b for a, b in itertools.pairwise(errors))


def test_kmeans_codebooks_quantize_better_than_random_vectors():
    torch.manual_seed(0)
    centres = torch.randn(32, 4) * 3
    vectors = centres[torch.randint(32, (4000,))] + 0.1 * torch.randn(4000, 4)  # 32 clusters
    fitted, sampled = ResidualVectorQuantizer(2, 32, 4), ResidualVectorQuantizer(2, 32, 4)
    fitted.fit(vectors)
    sampled._init_from(vectors[None])

    def error(rvq: ResidualVectorQuantizer) -> float:
        return float((rvq.decode(rvq.encode(vectors[None])) - vectors).pow(2).mean())

    assert error(fitted) < 0.5 * error(sampled)
    assert fitted.initialized == 1 and torch.equal(fitted.embed_sum, fitted.codebooks)
    again = ResidualVectorQuantizer(2, 32, 4)
    again.fit(vectors)
    assert torch.equal(again.codebooks, fitted.codebooks)  # ranks given the same data agree
    with pytest.raises(ValueError, match="at least 32 vectors"):
        again.fit(vectors[:10])


def _clustered_vectors(count: int, dim: int = 6) -> torch.Tensor:
    """Vectors with structure at several scales, as latents of audio have."""
    torch.manual_seed(0)
    coarse, fine = torch.randn(24, dim) * 3, torch.randn(24, dim)
    return (
        coarse[torch.randint(24, (count,))]
        + fine[torch.randint(24, (count,))]
        + 0.3 * torch.randn(count, dim)
    )


def _quantization_error(rvq: ResidualVectorQuantizer, vectors: torch.Tensor) -> torch.Tensor:
    return (rvq.decode(rvq.encode(vectors[None]))[0] - vectors).pow(2).sum(-1)  # (N,)


def test_beam_search_of_width_one_is_the_greedy_search_and_wider_finds_closer_codes():
    vectors = _clustered_vectors(3000)
    rvq = ResidualVectorQuantizer(3, 16, 6)
    rvq.fit(vectors)
    greedy = rvq.encode(vectors[None])
    assert torch.equal(beam_search(vectors[None], rvq.codebooks, 1), greedy)
    greedy_error = _quantization_error(rvq, vectors)
    rvq.beam_width = 8
    assert rvq.encode(vectors[None]).shape == (1, 3000, 3)
    beam_error = _quantization_error(rvq, vectors)
    assert beam_error.mean() < 0.95 * greedy_error.mean()
    # the search ranks whole sums: a vector equal to a sum of codewords is coded exactly
    exact = rvq.codebooks[0, 3] + rvq.codebooks[1, 7] + rvq.codebooks[2, 11]
    assert rvq.encode(exact[None, None]).tolist() == [[[3, 7, 11]]]
    with pytest.raises(ValueError, match="beam_width"):
        ResidualVectorQuantizer(3, 16, 6, beam_width=0)


def test_refined_codebooks_code_the_fitted_vectors_closer_and_keep_codes_in_use():
    vectors, held_out = _clustered_vectors(6000).split([4000, 2000])
    plain = ResidualVectorQuantizer(3, 16, 6, beam_width=8)
    plain.fit(vectors)
    refined = ResidualVectorQuantizer(3, 16, 6, beam_width=8)
    refined.fit(vectors, refine_rounds=3)
    for data in (vectors, held_out):
        assert (
            _quantization_error(refined, data).mean()
            < 0.95 * _quantization_error(plain, data).mean()
        )
    codes = refined.encode(held_out[None])[0]
    assert all(codes[:, k].unique().numel() >= 12 for k in range(3))
    assert torch.equal(refined.embed_sum, refined.codebooks) and refined.initialized == 1


def test_training_with_a_beam_codes_as_encode_does():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(num_levels=3, codebook_size=16, dim=6, beam_width=4)
    rvq.fit(_clustered_vectors(2000))
    rvq.frozen = True
    z = _clustered_vectors(60).reshape(3, 20, 6)
    out = rvq.train()(z)
    assert torch.equal(out.codes, rvq.encode(z))
    torch.testing.assert_close(rvq.decode(out.codes), out.quantized)


def test_the_zero_code_stays_zero_through_fitting_refinement_and_training():
    vectors = _clustered_vectors(3000)
    rvq = ResidualVectorQuantizer(3, 16, 6, beam_width=4, zero_code=True)
    rvq.fit(vectors, refine_rounds=2)
    assert (rvq.codebooks[:, 0] == 0).all()
    silence = torch.zeros(1, 5, 6)
    assert (rvq.encode(silence) == 0).all() and (rvq.decode(rvq.encode(silence)) == 0).all()
    rvq.train()
    for _ in range(40):  # EMA updates and dead-code restarts (code 0 unused: data far from 0)
        rvq(vectors[:64].reshape(1, 64, 6) + 20.0)
    assert (rvq.codebooks[:, 0] == 0).all()
    greedy = ResidualVectorQuantizer(3, 16, 6)
    greedy.fit(vectors)
    assert (greedy.codebooks[:, 0] != 0).any()  # off by default: nothing pinned


@pytest.mark.parametrize("beam_width", [1, 4])
def test_only_silence_takes_the_zero_code_at_the_first_level(beam_width):
    vectors = _clustered_vectors(3000)
    rvq = ResidualVectorQuantizer(3, 16, 6, beam_width=beam_width, zero_code=True)
    rvq.fit(vectors, refine_rounds=1)
    quiet = torch.nn.functional.normalize(torch.randn(1, 50, 6), dim=-1) * 1e-3  # not silence
    assert (rvq.encode(quiet)[..., 0] != 0).all()  # coded by the nearest real codeword
    silence = torch.zeros(1, 3, 6)
    assert (rvq.encode(silence) == 0).all()
    rvq.frozen = True  # training codes the same way
    assert torch.equal(rvq.train()(quiet).codes, rvq.encode(quiet))


def test_the_silence_gate_silences_what_was_coded_as_silence_and_nothing_else():
    torch.manual_seed(0)
    hop = 320
    clip = torch.zeros(1, 40 * hop)
    t = torch.arange(10 * hop) / 16000
    clip[0, 15 * hop : 25 * hop] = 0.5 * torch.sin(2 * math.pi * 440 * t)  # a beep in silence
    gated = AudioTokenizer(PRESETS["tiny"]).eval()
    _fit_as_transform_coder(gated, clip)
    plain = {"transform_after_silence": 0, "transform_before_silence": 0}
    ungated = dataclasses.replace(PRESETS["tiny"], silence_gate=False, **plain)
    ungated = AudioTokenizer(ungated).eval()
    ungated.load_state_dict(gated.state_dict())
    codes = gated.encode(clip)
    silent_frames = (codes == 0).all(-1)[0]
    # frame t's window covers hops t - 1 and t: frames 0..14 hear nothing, 15..25 the beep
    assert silent_frames[:15].all() and not silent_frames[15:26].any()
    with_gate, without = gated.decode(codes)[0], ungated.decode(codes)[0]
    leak = without[14 * hop : 15 * hop].abs().max()  # frame 15's coding error before the beep
    assert leak > 1e-4 and (with_gate[: 15 * hop] == 0).all()
    beep = slice(17 * hop, 23 * hop)  # past the hops that decode beside silence
    torch.testing.assert_close(with_gate[beep], without[beep], rtol=0, atol=0)
    with pytest.raises(ValueError, match="silence_gate"):
        dataclasses.replace(PRESETS["soundstream_tiny"], silence_gate=True)


def test_frames_below_the_silence_norm_code_as_silence():
    vectors = _clustered_vectors(3000)
    rvq = ResidualVectorQuantizer(3, 16, 6, beam_width=4, zero_code=True, silence_norm=0.01)
    rvq.fit(vectors, refine_rounds=1)
    directions = torch.nn.functional.normalize(torch.randn(1, 50, 6), dim=-1)
    assert (rvq.encode(directions * 0.009) == 0).all()  # below the threshold: silence
    assert (rvq.encode(directions * 0.011)[..., 0] != 0).all()  # above it: a real codeword
    assert PRESETS["default"].silence_norm == 0.01
    assert AudioTokenizer(PRESETS["default"]).quantizer.silence_norm == 0.01
    for bad in (-0.01, float("nan")):
        with pytest.raises(ValueError, match="silence_norm"):
            dataclasses.replace(PRESETS["default"], silence_norm=bad)


def test_hops_beside_silence_decode_through_the_linear_path_alone():
    torch.manual_seed(0)
    model = _trained_like(AudioTokenizer(PRESETS["tiny"]))  # random stack: not the linear path
    after, before = model.cfg.transform_after_silence, model.cfg.transform_before_silence
    assert (after, before) == (2, 2)
    codes = model.encode(torch.randn(1, 30 * model.cfg.hop) * 0.3)
    codes[:, 10:13] = 0  # frames 10..12 coded as silence
    latents = model.expand(model.quantizer.decode(codes))
    decoder, hop = model.decoder, model.cfg.hop
    with torch.no_grad():
        y = decoder(latents)[0]
        lat = latents.transpose(1, 2)
        linear = decoder._synthesize(decoder.linear(lat))[0]
        full = decoder._synthesize(decoder.net(lat) + decoder.linear(lat))[0]
    assert not torch.allclose(linear, full)  # the two paths differ: the test can tell them apart
    beside = [*range(10 - before, 10), *range(13, 13 + after)]  # hops 8, 9 and 13, 14
    for i in range(30):
        hop_of = slice(i * hop, (i + 1) * hop)
        if 9 <= i <= 12:  # gated: a window over these hops decoded from silence
            assert (y[hop_of] == 0).all()
        else:
            expected = linear if i in beside else full
            torch.testing.assert_close(y[hop_of], expected[hop_of], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="linear_path"):
        dataclasses.replace(PRESETS["tiny"], linear_path=False)
    with pytest.raises(ValueError, match="transform_"):
        dataclasses.replace(PRESETS["tiny"], transform_after_silence=-1)


def test_models_from_before_the_silence_norm_code_and_decode_as_trained():
    written = {
        k: v
        for k, v in PRESETS["default"].to_dict().items()
        if k not in ("silence_norm", "transform_after_silence", "transform_before_silence")
    }
    cfg = AudioTokenizerConfig.from_dict(written)
    assert cfg.silence_norm == 1e-4  # the threshold those models were coded with
    assert (cfg.transform_after_silence, cfg.transform_before_silence) == (0, 0)
    assert decoder_lookahead_frames(cfg) == 1 and decoder_lookahead_frames(PRESETS["default"]) == 2


def _fit_as_transform_coder(model: AudioTokenizer, clip: torch.Tensor) -> None:
    from reelpoet.models.train.train_audio_tokenizer import start_as_transform_coder

    noise = [torch.randn(4, 16000) * 0.1 * (i + 1) for i in range(4)]
    start_as_transform_coder(model, [clip, *noise], refine_rounds=1)


def test_the_compander_inverts_and_keeps_quiet_frames_coded_in_proportion():
    cfg = dataclasses.replace(PRESETS["tiny"], compand_exponent=0.5, compand_knee=0.02)
    model = AudioTokenizer(cfg)
    directions = torch.nn.functional.normalize(torch.randn(2, 30, cfg.latent_dim), dim=-1)
    z = directions * torch.logspace(-4, 1, 30)[None, :, None]  # norms 1e-4 .. 10
    y = model.compress(z)
    torch.testing.assert_close(model.expand(y), z, rtol=1e-4, atol=1e-7)
    assert (model.compress(torch.zeros(1, 2, cfg.latent_dim)) == 0).all()
    norms = y.norm(dim=-1)
    assert (norms[:, 1:] > norms[:, :-1]).all()  # monotone in the norm
    loud = z.norm(dim=-1) > 0.2  # well above the knee: a power law of exponent 0.5
    span, coded_span = z.norm(dim=-1)[loud], norms[loud]
    assert coded_span.max() / coded_span.min() < (span.max() / span.min()) ** 0.6
    plain = AudioTokenizer(dataclasses.replace(PRESETS["tiny"], compand_exponent=1.0))
    assert plain.compress(z) is z and plain.expand(z) is z
    with pytest.raises(ValueError, match="compand_exponent"):
        AudioTokenizerConfig(compand_exponent=0.0)


def test_first_training_batch_initialises_codebooks_from_the_data():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(num_levels=2, codebook_size=16, dim=4).train()
    z = torch.randn(2, 50, 4) * 0.01 + 5.0  # far from the N(0, 1) initial codebooks
    rvq(z)
    assert rvq.initialized.item() == 1
    assert (rvq.codebooks[0] - 5.0).abs().max() < 0.5
    assert rvq(z).codes_used[0] > 0.5  # most codes of level 0 are picked at once


def test_dead_codes_are_restarted_from_batch_vectors():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(num_levels=1, codebook_size=16, dim=4, dead_after=2.0).train()
    with torch.no_grad():  # one code near the data, fifteen far away: fifteen dead codes
        rvq.codebooks.fill_(-100.0)
        rvq.codebooks[0, 0] = 3.0
        rvq.embed_sum.copy_(rvq.codebooks)
        rvq.initialized.fill_(1.0)
    data = [torch.randn(1, 16, 4) + 3.0 for _ in range(6)]
    assert rvq(data[0]).codes_used[0] == 1 / 16  # everything goes to the one live code
    for z in data[1:]:
        rvq(z)
    assert (rvq.codebooks[0] > -50).all()  # every dead code was moved into the data
    assert rvq(torch.randn(1, 64, 4) + 3.0).codes_used[0] >= 0.5


def test_ema_moves_a_code_to_the_mean_of_its_vectors():
    rvq = ResidualVectorQuantizer(num_levels=1, codebook_size=2, dim=2, decay=0.5).train()
    with torch.no_grad():
        rvq.codebooks[0] = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
        rvq.embed_sum.copy_(rvq.codebooks)
        rvq.initialized.fill_(1.0)
    z = torch.tensor([[[1.0, 1.0], [1.0, 1.0], [9.0, 9.0]]])
    for _ in range(20):
        rvq(z)
    expected = torch.tensor([[1.0, 1.0], [9.0, 9.0]])
    torch.testing.assert_close(rvq.codebooks[0], expected, rtol=0, atol=1e-4)  # eps smoothing


def test_quantizer_dropout_decodes_each_example_from_its_first_levels():
    model = _trained_like(AudioTokenizer(PRESETS["tiny"]))
    samples = torch.randn(4, 3200) * 0.3
    levels = torch.tensor([1, 2, 3, 4])
    with torch.no_grad():
        out = model(samples, levels)
    for b, k in enumerate(levels.tolist()):
        alone = model.decode(out.codes[b : b + 1, :, :k])  # (1, N) from k levels
        torch.testing.assert_close(out.reconstruction[b : b + 1].clamp(-1, 1), alone)
    assert model.decode(out.codes[:, :, :1]).shape == (4, 3200)


def test_dropout_levels_follow_the_configured_share():
    cfg = TrainConfig(preset="tiny", quantizer_dropout=0.5)
    levels = dropout_levels(cfg, 4000, 4, rank=0, step=0)
    assert set(levels.tolist()) == {1, 2, 3, 4}
    assert 0.55 < (levels == 4).float().mean() < 0.70  # half all-K, plus a quarter of the rest
    none = dropout_levels(dataclasses.replace(cfg, quantizer_dropout=0.0), 100, 4, 0, 0)
    assert (none == 4).all()
    assert torch.equal(levels, dropout_levels(cfg, 4000, 4, rank=0, step=0))  # resumable


def test_the_transform_coder_start_refuses_no_batches_and_negative_rounds():
    with pytest.raises(ValueError, match="start_batches"):
        TrainConfig(start_batches=0)
    with pytest.raises(ValueError, match="refine_rounds"):
        TrainConfig(refine_rounds=-1)


def _config(name: str) -> AudioTokenizerConfig:
    """A preset, or "<preset>+sub2": the same with two filterbank windows a frame."""
    preset, _, variant = name.partition("+")
    cfg = PRESETS[preset]
    return dataclasses.replace(cfg, subframes=2) if variant == "sub2" else cfg


@pytest.mark.parametrize("preset", ["tiny", "tiny+sub2", "soundstream_tiny"])
def test_later_samples_do_not_change_earlier_codes_or_samples(preset):
    torch.manual_seed(0)
    model = _trained_like(AudioTokenizer(_config(preset)))
    hop, ahead = model.cfg.hop, decoder_lookahead_frames(model.cfg)
    audio = torch.randn(1, 20 * hop) * 0.3
    changed = audio.clone()
    changed[:, 12 * hop :] = torch.randn(1, 8 * hop) * 0.3  # frames 12.. get new audio
    before, after = model.encode(audio), model.encode(changed)
    assert torch.equal(before[:, :12], after[:, :12])
    assert not torch.equal(before[:, 12:], after[:, 12:])
    codes = before.clone()
    # silence from frame 15 on: other codes, and other paths for hops beside the silence
    codes[:, 15:] = 0
    y, y_changed = model.decode(before), model.decode(codes)
    # decoded hop t reads frames up to t + lookahead: hops < 15 - lookahead keep their samples
    kept = (15 - ahead) * hop
    assert torch.equal(y[:, :kept], y_changed[:, :kept])
    assert not torch.equal(y[:, kept : kept + hop], y_changed[:, kept : kept + hop])


@pytest.mark.parametrize("preset", ["default", "default+sub2"])
def test_the_filterbank_starts_as_a_perfect_reconstruction(preset):
    model = AudioTokenizer(_config(preset)).double()
    hop, sub_hop = model.cfg.hop, model.decoder.sub_hop
    audio = torch.randn(2, 20 * hop, dtype=torch.float64) * 0.3
    with torch.no_grad():
        coefficients = model.encoder.coefficients(audio)  # (B, bank, T)
        windows = windows_from_frames(coefficients, model.cfg.subframes)
        y = model.decoder.synthesis(windows)[:, 0, sub_hop:]
    assert coefficients.shape == (2, model.cfg.widths[0], 20)
    # all but the last hop, whose second half-window would come from the next frame
    torch.testing.assert_close(y[:, :-hop], audio[:, :-hop], rtol=0, atol=1e-6)  # fp32 basis


def _tones(batch: int, seconds: float, seed: int) -> torch.Tensor:
    """Clips of two harmonic tones each, at random pitches: few principal directions."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * 16000)) / 16000
    pitch = 200 + 800 * torch.rand(batch, 2, 1, generator=g)
    phase = 2 * torch.pi * torch.rand(batch, 2, 1, generator=g)
    tone = sum(torch.sin(h * (2 * torch.pi * pitch * t + phase)) / h for h in (1, 2, 3))
    return 0.1 * tone.sum(1)


def test_the_linear_path_starts_as_a_principal_component_coder():
    torch.manual_seed(0)
    model = AudioTokenizer(PRESETS["default"]).eval()
    clips = _tones(4, 1.0, seed=1)
    before = si_snr(clips, model.decoder(model.encoder(clips))[:, :16000])
    init_linear_path(model, [_tones(16, 1.0, seed=s) for s in range(4)])
    encoder_side = model.encoder.linear.weight[:, :, 0]  # (latent, bank)
    torch.testing.assert_close(model.decoder.linear.weight[:, :, 0], encoder_side.T)
    eye = torch.eye(model.cfg.latent_dim)
    torch.testing.assert_close(encoder_side @ encoder_side.T, eye, atol=1e-5, rtol=0)
    with torch.no_grad():
        latents = model.encoder(clips)
        coefficients = model.encoder.coefficients(clips).transpose(1, 2)
        # the residual stack is silent at first: the latent is the projection, nothing else
        torch.testing.assert_close(latents, coefficients @ encoder_side.T, atol=1e-4, rtol=1e-4)
        after = si_snr(clips, model.decoder(latents)[:, :16000])
    # 32 of 320 directions keep most of unseen tones (4-8 dB here), where 32 directions that
    # know nothing of the signal would keep a tenth of its energy (-9.5 dB)
    assert after.min() > 3 and before.max() < -5


def test_only_filterbank_configs_have_a_linear_path():
    assert PRESETS["default"].linear_path and not PRESETS["soundstream"].linear_path
    later = ("linear_path", "silence_norm", "transform_after_silence", "transform_before_silence")
    old = {k: v for k, v in PRESETS["default"].to_dict().items() if k not in later}
    assert AudioTokenizerConfig.from_dict(old).linear_path is False  # checkpoints from before
    assert AudioTokenizer(AudioTokenizerConfig.from_dict(old)).encoder.linear is None
    with pytest.raises(ValueError, match="linear_path"):
        dataclasses.replace(PRESETS["soundstream"], linear_path=True)
    with pytest.raises(ValueError, match="linear_path"):
        init_linear_path(AudioTokenizer(AudioTokenizerConfig.from_dict(old)), [])


def test_the_si_snr_loss_ignores_silent_clips_without_nan_gradients():
    target = torch.randn(3, 4000)
    target[1] = 0  # digital silence has no SI-SNR
    estimate = (target + 0.1 * torch.randn(3, 4000)).requires_grad_()
    term = si_snr_loss_term(estimate, target)
    term.backward()
    assert term.item() == pytest.approx(2.0, abs=0.15)  # 20 dB on the two audible clips, / 10
    assert torch.isfinite(estimate.grad).all() and estimate.grad[1].abs().max() == 0
    assert si_snr_loss_term(target, target) == pytest.approx(3.0)  # capped at 30 dB


def test_silence_leak_weighs_sound_inside_digital_silence_only():
    torch.manual_seed(0)
    target = torch.randn(3, 4000) * 0.1
    target[0, 1000:3000] = 0  # a gap of digital silence
    target[1, ::50] = 0  # zero crossings, not silence
    target[2] = 0
    clean = target.clone().requires_grad_()
    assert silence_leak(clean, target).item() == 0  # nothing decoded into the silence
    leaky = target.clone()
    leaky[0, 1000:3000] = 1e-2  # 40 dB below the clip, inside the gap
    leaky[1] += 1e-2  # off everywhere, but clip 1 has no silence
    leaky.requires_grad_()
    term = silence_leak(leaky, target)
    term.backward()
    # clip 0: log1p(100) inside its gap (its edges excepted); clip 2 (all silence): nothing
    assert term.item() == pytest.approx(math.log1p(100) / 2, rel=0.05)
    assert leaky.grad[1].abs().max() == 0 and leaky.grad[0, :980].abs().max() == 0
    assert leaky.grad[0, 1100:2900].abs().min() > 0


@pytest.mark.parametrize("field", ["silence_weight", "onset_weight", "si_snr_weight"])
def test_a_negative_loss_weight_is_refused(field):
    with pytest.raises(ValueError, match="must not be negative"):
        TrainConfig(**{field: -1.0})


def test_a_clip_of_34000_samples_is_107_frames_and_428_tokens():
    cfg = PRESETS["default"]
    assert (cfg.hop, cfg.frame_rate, cfg.num_levels, cfg.codebook_size) == (320, 50.0, 4, 1024)
    assert cfg.num_frames(34000) == 107 and cfg.num_frames(34240) == 107
    model = AudioTokenizer(PRESETS["tiny"]).eval()
    codes = model.encode(torch.zeros(2, 34000))
    assert codes.shape == (2, 107, model.cfg.num_levels)
    assert model.decode(codes).shape == (2, 107 * 320)  # the caller trims to 34000
    tokens = interleave(codes)
    assert tokens.shape == (2, 107 * model.cfg.num_levels)
    t, k = 5, 2
    assert tokens[1, t * model.cfg.num_levels + k] == codes[1, t, k]  # frame-major
    assert torch.equal(deinterleave(tokens, model.cfg.num_levels), codes)


@pytest.mark.parametrize("preset", ["tiny", "default", "default+sub2", "soundstream"])
def test_the_documented_context_makes_chunked_coding_exact(preset):
    torch.manual_seed(0)
    cfg = _config(preset)
    model = AudioTokenizer(cfg).double().eval()
    enc_ctx, dec_ctx, hop, first = encoder_context_frames(cfg), decoder_context_frames(cfg), 320, 30
    audio = torch.randn(1, 50 * hop, dtype=torch.float64) * 0.3
    with torch.no_grad():
        z = model.encoder(audio)
        chunk = model.encoder(audio[:, (first - enc_ctx) * hop :])[:, enc_ctx:]
        torch.testing.assert_close(chunk, z[:, first:], rtol=0, atol=1e-12)
        y = model.decoder(z)
        part = model.decoder(z[:, first - dec_ctx :])[:, dec_ctx * hop :]
        torch.testing.assert_close(part, y[:, first * hop :], rtol=0, atol=1e-12)
        short = model.decoder(z[:, first - dec_ctx + 1 :])[:, (dec_ctx - 1) * hop :]
        assert (short - y[:, first * hop :]).abs().max() > 1e-12  # the context is not padding


def test_configs_validate_and_round_trip_through_json():
    for cfg in PRESETS.values():
        assert AudioTokenizerConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    old = {k: v for k, v in PRESETS["soundstream"].to_dict().items() if k != "design"}
    assert AudioTokenizerConfig.from_dict(old) == PRESETS["soundstream"]  # older checkpoints
    later = ("beam_width", "compand_exponent", "zero_code")
    before_the_beam = {k: v for k, v in PRESETS["default"].to_dict().items() if k not in later}
    before_the_beam = AudioTokenizerConfig.from_dict(before_the_beam)
    assert before_the_beam.beam_width == 1 and before_the_beam.compand_exponent == 1.0
    assert not before_the_beam.zero_code  # as those models were trained
    with pytest.raises(ValueError, match="beam_width"):
        AudioTokenizerConfig(beam_width=0)
    with pytest.raises(ValueError, match="one entry more"):
        AudioTokenizerConfig(widths=(8, 16, 32))
    with pytest.raises(ValueError, match="one stride"):
        AudioTokenizerConfig(strides=(2, 160), widths=(8, 16, 32))
    with pytest.raises(ValueError, match="level"):
        AudioTokenizerConfig(num_levels=0)


def test_default_model_fits_the_8_mb_onnx_budget():
    model = AudioTokenizer(PRESETS["default"])
    weights = sum(p.numel() for p in model.parameters())
    codebooks = model.quantizer.codebooks.numel()  # stored in both graphs
    assert (weights + 2 * codebooks) * 4 < 7.5e6


def test_si_snr_and_mel_loss_behave():
    x = torch.randn(2, 4000)
    assert si_snr(x, 0.3 * x).min() > 100  # scale-invariant
    assert si_snr(x, x + 0.1 * torch.randn(2, 4000)).mean() == pytest.approx(20, abs=1.5)
    assert torch.isnan(si_snr(torch.zeros(4000), x[0]))
    loss = MultiScaleMelLoss(16000)
    assert loss(x, x) == 0 and loss(x, 0.5 * x) > 0


def test_the_onset_loss_punishes_a_smeared_attack_and_not_a_steady_tone():
    t = torch.arange(16000) / 16000
    tone = 0.2 * torch.sin(2 * torch.pi * 440 * t)
    knock = tone.clone()
    knock[8000:8400] += 0.5 * torch.exp(-torch.arange(400) / 64.0) * torch.randn(400)
    # the same knock with its energy spread over the 40 ms before it, as pre-echo does
    smeared = tone.clone()
    smeared[7360:8400] += torch.cat([0.05 * torch.randn(640), knock[8000:8400] - tone[8000:8400]])
    loss = OnsetRiseLoss(16000)
    assert loss(tone[None], tone[None]) == 0 and loss(knock[None], knock[None]) == 0
    assert loss((0.99 * tone)[None], tone[None]) < 1e-3  # a level change is no onset
    assert loss(smeared[None], knock[None]) > 10 * loss((0.99 * knock)[None], knock[None])
    estimate = smeared[None].clone().requires_grad_()
    loss(estimate, knock[None]).backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().max() > 0


def test_two_gloo_ranks_end_with_identical_weights_and_codebooks(tmp_path):
    from reelpoet.models.train.distributed import train_on_local_ranks
    from reelpoet.models.train.train_audio_tokenizer import train

    # 2 ranks x 2 clips x 50 frames a step: codes restart after ~6 steps; world audio only,
    # nothing to install for this test
    cfg = _world_only(tmp_path, steps=8)
    rank0, rank1 = train_on_local_ranks(functools.partial(train, cfg), 2, tmp_path)
    torch.manual_seed(0)  # the seed train() starts from: the untrained weights
    initial = AudioTokenizer(PRESETS["tiny"]).state_dict()
    assert rank0.keys() == rank1.keys() and "quantizer.codebooks" in rank0
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0)
    assert any(not torch.equal(rank0[n], initial[n]) for n in rank0 if "encoder" in n)
    assert rank0["quantizer.initialized"] == 1
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").exists()
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 2 and log[0].startswith("step,")  # header + final step


def _world_only(tmp_path, **overrides) -> TrainConfig:
    return TrainConfig(
        run_dir=str(tmp_path / "run"),
        preset="tiny",
        batch_size=2,
        warmup_steps=1,
        speech_fraction=0.0,
        instrument_fraction=0.0,
        recording_fraction=0.0,
        start_batches=16,
        refine_rounds=1,
        **overrides,
    )


def test_refit_codebooks_quantize_the_models_latents_better_and_frozen_ones_stay(tmp_path):
    from reelpoet.models.train.distributed import DistContext
    from reelpoet.models.train.refit_audio_codebooks import refit
    from reelpoet.models.train.train_audio_tokenizer import train
    from reelpoet.models.trained import load_audio_tokenizer

    ctx = DistContext(0, 1, torch.device("cpu"))
    train(_world_only(tmp_path, steps=3), ctx)
    trained = tmp_path / "run" / "checkpoint"
    out = refit(
        trained, tmp_path / "refit", batches=8, batch_size=8, iterations=10, refine_rounds=1
    )
    before, after = load_audio_tokenizer(trained), load_audio_tokenizer(out)
    clips = _tones(4, 1.0, seed=5)
    with torch.no_grad():
        latents = before.encoder(clips)
        torch.testing.assert_close(after.encoder(clips), latents)  # only the codebooks moved

        def error(model: AudioTokenizer) -> float:
            quantized = model.quantizer.decode(model.quantizer.encode(latents))
            return float((quantized - latents).pow(2).mean())

        assert error(after) < error(before)
    state = json.loads((out / "state.json").read_text())
    assert state["codebooks_refit"]["vectors"] == 8 * 8 * 50
    assert state["codebooks_refit"]["refine_rounds"] == 1
    assert state["lineage"][-1]["checkpoint"] == str(trained)
    # a run from the refit model with frozen codebooks trains the rest around them
    frozen = _world_only(tmp_path, steps=2, init_from=str(out), freeze_codebooks=True)
    frozen = dataclasses.replace(frozen, run_dir=str(tmp_path / "frozen"))
    model = train(frozen, ctx)
    torch.testing.assert_close(model.quantizer.codebooks, after.quantizer.codebooks, rtol=0, atol=0)
    assert not torch.equal(model.encoder.linear.weight, after.encoder.linear.weight)


def test_a_run_of_no_steps_saves_the_transform_coder_it_starts_as(tmp_path):
    from reelpoet.models.train.distributed import DistContext
    from reelpoet.models.train.train_audio_tokenizer import train
    from reelpoet.models.trained import load_audio_tokenizer

    model = train(_world_only(tmp_path, steps=0), DistContext(0, 1, torch.device("cpu")))
    saved_folder = tmp_path / "run" / "checkpoint"
    state = json.loads((saved_folder / "state.json").read_text())
    assert state["step"] == 0 and state["start"]["transform_coder_fit_seconds"] > 0
    saved = load_audio_tokenizer(saved_folder)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(saved.state_dict()[name], tensor, rtol=0, atol=0)
    assert saved.encoder.linear.weight.abs().sum() > 0  # the principal directions, fitted
    # the same run, resumed: it goes on from the saved weights (not fitted again: a fit from
    # another seed's batches would give other codebooks), and the record of the fit stays
    resumed_cfg = _world_only(tmp_path, steps=2, lr=0.0, freeze_codebooks=True, seed=7)
    again = train(resumed_cfg, DistContext(0, 1, torch.device("cpu")))
    resumed = json.loads((saved_folder / "state.json").read_text())
    assert resumed["step"] == 2 and resumed["start"] == state["start"]
    torch.testing.assert_close(again.quantizer.codebooks, saved.quantizer.codebooks, rtol=0, atol=0)
    clips = _tones(2, 1.0, seed=3)
    assert (saved.encode(clips)[..., 0] != 0).any()


def test_a_run_can_ask_for_another_compander_and_its_checkpoint_keeps_it(tmp_path):
    from reelpoet.models.train.distributed import DistContext
    from reelpoet.models.train.train_audio_tokenizer import TrainConfig, model_config, train
    from reelpoet.models.trained import load_audio_tokenizer

    assert model_config(TrainConfig()) == PRESETS["default"]
    for exponent, knee in ((1.5, 0.002), (0.0, 0.002), (0.5, -1.0)):  # refused before any fit
        with pytest.raises(ValueError, match="compand"):
            model_config(TrainConfig(compand_exponent=exponent, compand_knee=knee))
    cfg = _world_only(tmp_path, steps=0, compand_exponent=0.3, compand_knee=0.0005)
    train(cfg, DistContext(0, 1, torch.device("cpu")))
    saved = load_audio_tokenizer(tmp_path / "run" / "checkpoint")
    assert (saved.cfg.compand_exponent, saved.cfg.compand_knee) == (0.3, 0.0005)
    assert saved.cfg.codebook_size == PRESETS["tiny"].codebook_size  # the rest: the preset's
    # a run from it that forgets the compander flags is refused, not silently mis-built
    forgetful = _world_only(tmp_path, steps=1, init_from=str(tmp_path / "run" / "checkpoint"))
    forgetful = dataclasses.replace(forgetful, run_dir=str(tmp_path / "next"))
    with pytest.raises(ValueError, match="compand_exponent"):
        train(forgetful, DistContext(0, 1, torch.device("cpu")))


def test_decoder_only_training_keeps_every_code(tmp_path):
    from reelpoet.models.train.distributed import DistContext
    from reelpoet.models.train.train_audio_tokenizer import train
    from reelpoet.models.trained import load_audio_tokenizer

    ctx = DistContext(0, 1, torch.device("cpu"))
    train(_world_only(tmp_path, steps=0), ctx)
    start = tmp_path / "run" / "checkpoint"
    tuned_cfg = _world_only(tmp_path, steps=3, init_from=str(start), decoder_only=True)
    tuned = train(dataclasses.replace(tuned_cfg, run_dir=str(tmp_path / "tuned")), ctx)
    before = load_audio_tokenizer(start)
    clips = _tones(3, 1.0, seed=4)
    assert torch.equal(tuned.encode(clips), before.encode(clips))
    assert not torch.equal(tuned.decoder.linear.weight, before.decoder.linear.weight)


def test_a_run_may_code_a_loaded_model_with_another_silence_handling(tmp_path):
    from reelpoet.models.train.distributed import DistContext
    from reelpoet.models.train.train_audio_tokenizer import train
    from reelpoet.models.trained import load_audio_tokenizer

    ctx = DistContext(0, 1, torch.device("cpu"))
    train(_world_only(tmp_path, steps=0, silence_norm=1e-4), ctx)
    start = tmp_path / "run" / "checkpoint"
    assert load_audio_tokenizer(start).cfg.silence_norm == 1e-4
    other = {"silence_norm": 0.05, "transform_after_silence": 1, "transform_before_silence": 0}
    tuned_cfg = _world_only(tmp_path, steps=1, init_from=str(start), decoder_only=True, **other)
    tuned_cfg = dataclasses.replace(tuned_cfg, run_dir=str(tmp_path / "tuned"))
    train(tuned_cfg, ctx)  # the same weights, coded another way: allowed
    saved = load_audio_tokenizer(tmp_path / "tuned" / "checkpoint").cfg
    assert (saved.silence_norm, saved.transform_after_silence) == (0.05, 1)
    assert saved.transform_before_silence == 0
    # resuming a run keeps what it was started with
    with pytest.raises(ValueError, match="silence_norm"):
        train(dataclasses.replace(tuned_cfg, steps=2, silence_norm=0.01), ctx)


def test_refit_refuses_what_is_not_an_audio_run_with_a_clear_message(tmp_path, capsys):
    from reelpoet.models.train.refit_audio_codebooks import main, refit

    with pytest.raises(ValueError, match="not a training checkpoint"):
        refit(tmp_path / "nowhere", tmp_path / "out", 2, 2, 2)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "state.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        refit(damaged, tmp_path / "out", 2, 2, 2)
    video = tmp_path / "video"
    video.mkdir()
    (video / "state.json").write_text(json.dumps({"train_config": {"stage": "video"}}))
    with pytest.raises(ValueError, match="not an audio tokenizer run"):
        refit(video, tmp_path / "out", 2, 2, 2)
    with pytest.raises(ValueError, match="positive"):
        refit(video, tmp_path / "out", 0, 2, 2)
    with pytest.raises(ValueError, match="refine_rounds not negative"):
        refit(video, tmp_path / "out", 2, 2, 2, refine_rounds=-1)
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(video), "--out", str(video)])
    assert "must differ" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(video), "--out", str(tmp_path / "out")])
    assert "not an audio tokenizer run" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written on refusal
