"""The prefix LM on a tiny config: attention masks, the KV cache, text conditioning, training
steps that reduce the loss, DDP ranks that agree, and the sampler's constraints and seeds."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from reelpoet.models.lm import PrefixLM, preset_config
from reelpoet.models.lm_sampler import generate
from reelpoet.models.train import lm_cache
from reelpoet.models.train.lm_tasks import SOURCES, TaskSequences, load_cache
from reelpoet.models.train.train_lm import TrainConfig, sequence_loss, train
from reelpoet.sdk import task_inputs
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.lm_engine import GenerationRequest, allowed_ranges
from reelpoet.sdk.sampling import SamplingConfig, choose
from reelpoet.sdk.token_layout import Task, TokenLayout

LAYOUT = TokenLayout()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


TEXT_SLOTS = LAYOUT.text_slots


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return PrefixLM(preset_config("tiny", LAYOUT)).eval()


def _text(batch: int, seed: int = 0, words: int = 10):
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(batch, TEXT_SLOTS, 384, generator=g)
    mask = torch.zeros(batch, TEXT_SLOTS, dtype=torch.bool)
    mask[:, :words] = True
    return text * mask[..., None], mask


def _sequence(task=Task.TEXT_TO_IMAGE, seed=0):
    rng = np.random.default_rng(seed)
    out = rng.integers(0, LAYOUT.video_codes, LAYOUT.output_length(task)).tolist()
    return LAYOUT.assemble(task, output=out)


def test_logits_cover_the_vocabulary(model):
    seq = _sequence()
    tokens = torch.tensor([seq.tokens] * 2)
    text, mask = _text(2)
    logits, cache = model(tokens, torch.tensor([seq.prefix_length]), text, mask)
    assert logits.shape == (2, len(seq.tokens), LAYOUT.vocab_size)
    assert len(cache) == model.cfg.depth and cache[0][0].shape[2] == len(seq.tokens)


def test_prefix_is_bidirectional_and_output_causal(model):
    seq = _sequence()
    tokens = torch.tensor([seq.tokens])
    prefix = torch.tensor([seq.prefix_length])
    text, mask = _text(1)
    base, _ = model(tokens, prefix, text, mask)
    # Changing the prefix's last token changes the prefix's first positions (bidirectional)...
    changed = tokens.clone()
    changed[0, seq.prefix_length - 1] = LAYOUT.special("bov_i")
    out, _ = model(changed, prefix, text, mask)
    assert not torch.allclose(out[0, 1], base[0, 1])
    # ...while changing a generated token leaves every earlier position alone (causal).
    later = tokens.clone()
    i = seq.prefix_length + 10
    later[0, i] = LAYOUT.video_offset + (int(later[0, i]) - LAYOUT.video_offset + 1) % 4096
    out, _ = model(later, prefix, text, mask)
    torch.testing.assert_close(out[0, :i], base[0, :i])
    assert not torch.allclose(out[0, i], base[0, i])


def test_kv_cache_decoding_matches_the_full_forward(model):
    seq = _sequence()
    tokens = torch.tensor([seq.tokens])
    prefix = torch.tensor([seq.prefix_length])
    text, mask = _text(1)
    full, _ = model(tokens, prefix, text, mask)
    logits, cache = model(tokens[:, : seq.prefix_length], prefix, text, mask)
    steps = [logits[:, -1]]
    for i in range(seq.prefix_length, len(seq.tokens)):
        logits, cache = model(tokens[:, i : i + 1], prefix, past=cache)
        steps.append(logits[:, -1])
    stepped = torch.stack(steps[:-1], dim=1)
    torch.testing.assert_close(stepped, full[:, seq.prefix_length - 1 : -1], atol=2e-5, rtol=1e-4)


def test_text_counts_only_where_the_mask_is_set(model):
    seq = _sequence()
    tokens = torch.tensor([seq.tokens])
    prefix = torch.tensor([seq.prefix_length])
    text, mask = _text(1)
    base, _ = model(tokens, prefix, text, mask)
    noise = text.clone()
    noise[0, 12:] += 5.0  # slots past the 10 real word pieces
    same, _ = model(tokens, prefix, noise, mask)
    torch.testing.assert_close(same, base)
    other, _ = model(tokens, prefix, _text(1, seed=1)[0], mask)
    assert not torch.allclose(other, base)
    unconditional = torch.zeros_like(mask)
    a, _ = model(tokens, prefix, text, unconditional)
    b, _ = model(tokens, prefix, _text(1, seed=1)[0], unconditional)
    torch.testing.assert_close(a, b)


def test_too_long_sequences_are_refused(model):
    tokens = torch.zeros(1, model.cfg.max_positions + 1, dtype=torch.long)
    with pytest.raises(ValueError, match="exceeds"):
        model(tokens, torch.tensor([4]))


# --- cache and training ------------------------------------------------------------------------


class FakeTokenizers:
    """Deterministic stand-ins for the trained tokenizers: codes from pixel statistics, so the
    cache is learnable, without loading any checkpoint."""

    layout = TokenLayout()
    image_size = 64

    def video_codes(self, clips: np.ndarray) -> np.ndarray:
        n = len(clips)
        latents = clips[:, ::4].reshape(n, -1, 8, 8, 8, 8, 3).mean(axis=(3, 5))  # (N, t, 8, 8, 3)
        levels = np.clip((latents * 15.99).astype(np.int64), 0, 15)
        codes = levels[..., 0] * 256 + levels[..., 1] * 16 + levels[..., 2]
        return codes.reshape(n, -1).astype(np.int16)

    def audio_codes(self, audio: np.ndarray) -> np.ndarray:
        frames = np.abs(np.pad(audio, ((0, 0), (0, 240)))).reshape(len(audio), 107, 320).mean(-1)
        levels = np.clip((frames * 4000).astype(np.int64), 0, 1023)
        return np.repeat(levels, 4, axis=1).astype(np.int16)

    def text_embeddings(self, captions):
        rng = np.random.default_rng(len(captions))
        mask = np.zeros((len(captions), TEXT_SLOTS), dtype=bool)
        mask[:, :12] = True
        return rng.normal(size=(len(captions), TEXT_SLOTS, 384)).astype(np.float16), mask


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm_cache")
    lm_cache.build(folder, FakeTokenizers(), clips=6, pairs=3, first_seed=2**20, log=lambda m: None)
    return folder


def test_cache_holds_every_task_input(cache_dir):
    records = load_cache(cache_dir)
    clips, pairs = records["clips"], records["pairs"]
    assert clips["video"].shape == (6, 320) and pairs["next_video"].shape == (3, 320)
    assert clips["audio"].shape == (6, 428) and clips["text"].shape == (6, TEXT_SLOTS, 384)
    assert not (clips["inpaint_in"] == clips["video"]).all()
    assert not (clips["structure_in"] == clips["video"]).all()
    sequences = TaskSequences(records, LAYOUT)
    for task in SOURCES:
        tokens = sequences.sequence(task, 0)
        assert len(tokens) == LAYOUT.sequence_length(task)


def test_the_cache_records_its_tokenizers_layout_and_refuses_another(cache_dir, tmp_path):
    assert (cache_dir / lm_cache.LAYOUT_FILE).exists()
    assert lm_cache.cache_layout(cache_dir) == FakeTokenizers.layout
    other = FakeTokenizers()
    other.layout = TokenLayout(video_codes=2**18)  # the base tokenizer's vocabulary
    with pytest.raises(ValueError, match="another token layout"):
        lm_cache.build(cache_dir, other, clips=6, pairs=3, first_seed=2**20, log=lambda m: None)
    # Codes of a 2^18 vocabulary do not fit int16: the cache widens them.
    assert lm_cache.codes_dtype(2**12) == np.int16 and lm_cache.codes_dtype(2**18) == np.int32


def test_cache_build_resumes_without_redoing_shards(cache_dir):
    before = {p.name: p.stat().st_mtime_ns for p in cache_dir.glob("*.npz")}
    lm_cache.build(cache_dir, None, clips=6, pairs=3, first_seed=2**20, log=lambda m: None)
    assert {p.name: p.stat().st_mtime_ns for p in cache_dir.glob("*.npz")} == before


def test_cache_built_in_parts_equals_one_build(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(lm_cache, "SHARD", 2)  # 3 clip shards + 2 pair shards
    whole, split = tmp_path / "whole", tmp_path / "split"
    quiet = {"log": lambda m: None}
    lm_cache.build(whole, FakeTokenizers(), clips=6, pairs=3, first_seed=2**20, **quiet)
    lm_cache.build(split, FakeTokenizers(), 6, 3, 2**20, part=(1, 2), **quiet)
    assert sorted(p.name for p in split.glob("*.npz")) == ["clips_00001.npz", "pairs_00000.npz"]
    assert not (split / "cache.json").exists()  # incomplete: training must not start on it
    with pytest.raises(FileNotFoundError, match="no finished cache"):
        load_cache(split)
    lm_cache.build(split, FakeTokenizers(), 6, 3, 2**20, part=(0, 2), **quiet)
    assert (split / "cache.json").read_text() == (whole / "cache.json").read_text()
    for path in whole.glob("*.npz"):
        with np.load(path) as a, np.load(split / path.name) as b:
            assert all((a[key] == b[key]).all() for key in a.files)


def test_masks_blank_the_right_regions():
    frames = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    box = task_inputs.Box(10, 20, 30, 40)
    inside = task_inputs.blank_inside(frames, box)
    assert (inside[:, 20:40, 10:30] == task_inputs.BLANK).all()
    assert (inside[:, :20] == frames[:, :20]).all()
    outside = task_inputs.blank_outside(frames, box)
    assert (outside[:, 20:40, 10:30] == frames[:, 20:40, 10:30]).all()
    assert (outside[:, :20] == task_inputs.BLANK).all()


def test_a_few_steps_reduce_the_loss(cache_dir):
    torch.manual_seed(0)
    model = PrefixLM(preset_config("tiny", LAYOUT))
    sequences = TaskSequences(load_cache(cache_dir), LAYOUT)
    batch = sequences.batch(Task.TEXT_TO_IMAGE, 4, np.random.default_rng(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = sequence_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > np.log(LAYOUT.vocab_size) * 0.9  # starts near uniform
    assert losses[-1] < losses[0] * 0.7


def test_text_dropout_clears_whole_masks(cache_dir):
    sequences = TaskSequences(load_cache(cache_dir), LAYOUT)
    batch = sequences.batch(Task.TEXT_TO_VIDEO, 64, np.random.default_rng(1), text_dropout=0.5)
    rows = batch.text_mask.any(dim=1)
    assert 10 < int((~rows).sum()) < 54
    assert batch.prefix_length == LAYOUT.sequence_length(Task.TEXT_TO_VIDEO) - 320 - 2


def test_two_gloo_ranks_end_with_identical_weights(cache_dir, tmp_path):
    from reelpoet.models.train.distributed import train_on_local_ranks

    cfg = TrainConfig(
        run_dir=str(tmp_path / "run"),
        cache=str(cache_dir),
        preset="tiny",
        steps=3,
        tokens_per_batch=800,
        warmup_steps=1,
    )
    rank0, rank1 = train_on_local_ranks(functools.partial(train, cfg), 2, tmp_path)
    torch.manual_seed(0)
    initial = PrefixLM(preset_config("tiny", LAYOUT)).state_dict()
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0)
    assert any(not torch.equal(rank0[n], initial[n]) for n in rank0)
    assert (tmp_path / "run" / "log.csv").read_text().count("\n") == 2


# --- sampling ----------------------------------------------------------------------------------


def _request(task: Task, seed: int = 0) -> GenerationRequest:
    text, mask = _text(1, seed)
    rng = np.random.default_rng(seed)
    inputs = {}
    if task in (Task.VIDEO_TO_AUDIO, Task.CONTINUATION):
        inputs["video_in"] = rng.integers(0, 4096, 320).tolist()
    return GenerationRequest(task, text[0].numpy(), mask[0].numpy(), **inputs)


@pytest.mark.parametrize("task", [Task.TEXT_TO_IMAGE, Task.VIDEO_TO_AUDIO])
def test_generated_codes_stay_in_their_modality(model, task):
    sampling = SamplingConfig(temperature=1.5, guidance_scale=3.0, seed=3)
    codes = generate(model, LAYOUT, _request(task), sampling)
    assert len(codes) == LAYOUT.output_length(task)
    limit = LAYOUT.video_codes if task == Task.TEXT_TO_IMAGE else LAYOUT.audio_codes
    assert all(0 <= c < limit for c in codes)
    ranges = allowed_ranges(LAYOUT, task)
    if task == Task.VIDEO_TO_AUDIO:  # level by level: position i holds level i % 4
        assert [r.start for r in ranges[:5]] == [
            LAYOUT.audio_offset + level * 1024 for level in (0, 1, 2, 3, 0)
        ]


def test_seeds_reproduce_and_differ(model):
    request = _request(Task.TEXT_TO_IMAGE)
    first = generate(model, LAYOUT, request, SamplingConfig(seed=11, top_k=50))
    again = generate(model, LAYOUT, request, SamplingConfig(seed=11, top_k=50))
    other = generate(model, LAYOUT, request, SamplingConfig(seed=12, top_k=50))
    assert first == again and first != other


def test_progress_reports_every_step(model):
    seen = []
    generate(
        model,
        LAYOUT,
        _request(Task.TEXT_TO_IMAGE),
        SamplingConfig(temperature=0),
        on_step=lambda i, n: seen.append((i, n)),
    )
    assert seen == [(i, 64) for i in range(1, 65)]


def test_choose_greedy_top_k_and_top_p():
    logits = np.array([0.0, 3.0, 1.0, 2.9, -1.0])
    rng = np.random.default_rng(0)
    everything = range(0, 5)
    assert choose(logits, everything, SamplingConfig(temperature=0), rng) == 1
    assert choose(logits, range(2, 5), SamplingConfig(temperature=0), rng) == 3
    top1 = [choose(logits, everything, SamplingConfig(top_k=1), rng) for _ in range(20)]
    assert set(top1) == {1}
    nucleus = [choose(logits, everything, SamplingConfig(top_p=0.5), rng) for _ in range(200)]
    assert set(nucleus) <= {1, 3}
    free = [choose(logits, everything, SamplingConfig(), rng) for _ in range(4000)]
    probs = np.exp(logits) / np.exp(logits).sum()
    observed = np.bincount(free, minlength=5) / len(free)
    assert np.abs(observed - probs).max() < 0.03


@pytest.mark.parametrize(
    "bad", [dict(temperature=-1), dict(top_k=-2), dict(top_p=0), dict(guidance_scale=float("nan"))]
)
def test_bad_sampling_settings_are_refused(bad):
    with pytest.raises(InvalidRequestError):
        SamplingConfig(**bad)


def test_the_cache_can_embed_captions_with_the_bundles_text_encoder():
    """`--text-encoder bundle`: the runtime's int8 graph, close to the torch MiniLM."""
    captions = ["a red ball bounces to the left", "the camera pans right over a green star"]
    torch_embeddings, torch_mask = lm_cache._text_encoder("minilm")(captions)
    onnx_embeddings, onnx_mask = lm_cache._text_encoder("bundle")(captions)
    assert onnx_embeddings.shape == torch_embeddings.shape == (2, TEXT_SLOTS, 384)
    assert np.array_equal(onnx_mask, torch_mask)
    a, b = torch_embeddings[torch_mask], onnx_embeddings[onnx_mask]
    cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert cosine.min() > 0.99
    with pytest.raises(ValueError, match="minilm"):
        lm_cache._text_encoder("clip")
