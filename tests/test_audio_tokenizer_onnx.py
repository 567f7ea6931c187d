"""The exported audio tokenizer matches torch (codes on >= 99.5% of positions, samples within
1e-3 from the same codes), streams long audio in bounded chunks with the codes of a single call,
and the runtime codec refuses or handles bad input as documented."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import torch

from reelpoet.export.audio_tokenizer_onnx import export_audio_tokenizer
from reelpoet.models.audio_tokenizer import PRESETS, AudioTokenizer
from reelpoet.sdk.audio_codec import (
    AudioCodec,
    AudioCodecSpec,
    codes_to_tokens,
    tokens_to_codes,
)
from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import read_audio

RATE, HOP = 16000, 320


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = AudioTokenizer(PRESETS["tiny"])
    model.train()
    model(torch.randn(4, 32000) * 0.3)  # codebooks from real latents, as training starts
    model.eval()
    paths = export_audio_tokenizer(model, tmp_path_factory.mktemp("onnx"))
    spec = AudioCodecSpec.from_config(json.loads(paths["config"].read_text()))
    return model, paths, spec


@pytest.fixture(scope="module")
def codec(exported):
    _, paths, spec = exported
    return AudioCodec(paths["encoder"], paths["decoder"], spec, threads=1)


def _torch_codes(model, samples: np.ndarray) -> np.ndarray:
    return model.encode(torch.from_numpy(samples)[None])[0].numpy()


@pytest.fixture(scope="module")
def speech(media_dir) -> np.ndarray:
    samples, _ = read_audio(media_dir / "example.wav", sample_rate=RATE, channels=1)
    return samples[:, 0]


@pytest.mark.parametrize("num_samples", [34000, 3 * HOP, 5 * HOP + 7])
def test_codes_match_torch_on_random_input(exported, codec, num_samples):
    model, _, _ = exported
    audio = (np.random.default_rng(num_samples).standard_normal(num_samples) * 0.3).clip(-1, 1)
    audio = audio.astype(np.float32)
    codes = codec.encode(audio, RATE)
    assert codes.shape == (-(-num_samples // HOP), model.cfg.num_levels)
    assert (codes == _torch_codes(model, audio)).mean() >= 0.995
    assert len(np.unique(codes[:, 0])) > 1  # a meaningful comparison: the codes vary


def test_codes_and_samples_match_torch_on_real_audio(exported, codec, speech):
    model, _, _ = exported
    codes = codec.encode(speech, RATE)
    assert (codes == _torch_codes(model, speech)).mean() >= 0.995
    for levels in (1, 2, model.cfg.num_levels):
        reference = model.decode(torch.from_numpy(codes[None, :, :levels]))[0].numpy()
        decoded = codec.decode(codes[:, :levels])
        assert decoded.shape == reference.shape == (len(codes) * HOP,)
        assert np.abs(decoded - reference).max() <= 1e-3
    assert codec.decode(codes, num_samples=len(speech)).shape == speech.shape


def test_samples_beside_silence_match_torch(exported, codec, speech):
    model, _, _ = exported
    codes = codec.encode(speech, RATE)
    codes[10:16] = 0  # coded silence: the frames beside it decode by the linear path
    reference = model.decode(torch.from_numpy(codes[None]))[0].numpy()
    assert np.abs(codec.decode(codes) - reference).max() <= 1e-3


def test_graphs_take_any_batch_and_length(exported):
    import onnxruntime as ort

    model, paths, _ = exported
    encoder = ort.InferenceSession(str(paths["encoder"]), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(paths["decoder"]), providers=["CPUExecutionProvider"])
    audio = (np.random.default_rng(0).standard_normal((3, 7 * HOP)) * 0.3).astype(np.float32)
    (codes,) = encoder.run(None, {"samples": audio})
    assert codes.shape == (3, 7, model.cfg.num_levels)
    (samples,) = decoder.run(None, {"codes": codes[:, :, :1]})
    assert samples.shape == (3, 7 * HOP)


def test_tokens_are_frame_major(codec):
    codes = np.arange(12).reshape(3, 4)
    tokens = codes_to_tokens(codes)
    assert tokens.tolist() == list(range(12))
    assert np.array_equal(tokens_to_codes(tokens, 4), codes)
    with pytest.raises(InvalidRequestError, match="whole frames"):
        tokens_to_codes(tokens[:-1], 4)


def test_chunked_coding_equals_one_call(exported, codec):
    _, paths, spec = exported
    whole = AudioCodec(paths["encoder"], paths["decoder"], spec, threads=1, chunk_seconds=1e4)
    chunked = AudioCodec(paths["encoder"], paths["decoder"], spec, threads=1, chunk_seconds=0.5)
    audio = (np.random.default_rng(7).standard_normal(6 * RATE + 123) * 0.3).astype(np.float32)
    codes = whole.encode(audio, RATE)
    assert (chunked.encode(audio, RATE) == codes).mean() >= 0.999
    pieces = list(chunked.iter_encode(audio, RATE))
    assert len(pieces) == -(-len(codes) // 25) and all(len(p) <= 25 for p in pieces)
    # silence after the chunk edges at frames 25 and 50: the decoder's path beside silence
    # reads frames on both sides of a chunk's edge
    codes[26:30] = codes[51:55] = 0  # two frames after each edge: the last hop reads them
    difference = np.abs(chunked.decode(codes) - whole.decode(codes)).max()
    assert difference <= 1e-4


class _RecordingSession:
    """Stands in for an onnxruntime session: records input sizes, returns zeros."""

    def __init__(self, spec: AudioCodecSpec, role: str) -> None:
        self.spec, self.role, self.sizes = spec, role, []

    def run(self, _outputs, feeds):
        (array,) = feeds.values()
        self.sizes.append(array.size)
        if self.role == "encoder":
            frames = array.shape[1] // self.spec.hop
            return [np.zeros((1, frames, self.spec.num_levels), np.int64)]
        return [np.zeros((1, array.shape[1] * self.spec.hop), np.float32)]


def test_an_hour_streams_in_bounded_chunks(exported, codec, monkeypatch):
    _, _, spec = exported
    encoder = _RecordingSession(spec, "encoder")
    monkeypatch.setattr(codec, "_encoder", encoder)
    hour = np.zeros(3600 * RATE, np.float32)  # 230 MB of samples
    tracemalloc.start()
    codes = codec.encode(hour, RATE)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert codes.shape == (180000, spec.num_levels)
    assert len(encoder.sizes) == 180000 // codec.chunk_frames
    assert max(encoder.sizes) <= (codec.chunk_frames + spec.encoder_context_frames) * HOP
    assert peak < 40e6  # the codes (6 MB), their chunks and one chunk of samples; not the hour
    decoder = _RecordingSession(spec, "decoder")
    monkeypatch.setattr(codec, "_decoder", decoder)
    codec.decode(codes[:30000])  # ten minutes
    frames = codec.chunk_frames + spec.decoder_context_frames + spec.decoder_lookahead_frames
    # the filterbank's overlap-add reads one frame ahead, the path beside silence two
    assert spec.decoder_lookahead_frames == 2
    assert max(decoder.sizes) <= frames * 4


def test_int16_stereo_clipped_and_other_rate_inputs_are_handled(codec, speech):
    reference = codec.encode(speech, RATE)
    pcm = np.round(speech * 32767).astype(np.int16)
    assert (codec.encode(pcm, RATE) == reference).mean() >= 0.99
    stereo = np.stack([speech, speech], axis=1)
    assert np.array_equal(codec.encode(stereo, RATE, mix_down=True), reference)
    loud = speech / np.abs(speech).max() * 1.5  # a float mix that overshoots: clipped
    assert np.array_equal(codec.encode(loud, RATE), codec.encode(np.clip(loud, -1, 1), RATE))
    fast = np.repeat(speech, 3)  # "48 kHz": resampled on request
    assert codec.encode(fast, 48000, resample=True).shape == reference.shape


@pytest.mark.parametrize(
    ("audio", "rate", "message"),
    [
        (np.zeros(1000, np.float32), 44100, "needs 16000 Hz.*resample=True"),
        (np.zeros((1000, 2), np.float32), RATE, "mono.*mix_down=True"),
        (np.zeros((2, 1000), np.float32), RATE, "channels-first"),
        (np.zeros(0, np.float32), RATE, "empty"),
        (np.full(1000, np.nan, np.float32), RATE, "NaN"),
        (np.full(1000, np.inf, np.float32), RATE, "infinite"),
        (np.full(1000, 300.0, np.float32), RATE, "divide by 32768"),
        (np.zeros(1000, np.int32), RATE, "int16"),
        (np.zeros((10, 10, 10), np.float32), RATE, "\\(N,\\)"),
    ],
)
def test_bad_audio_is_refused_with_a_clear_error(codec, audio, rate, message):
    with pytest.raises(InvalidRequestError, match=message):
        codec.encode(audio, rate)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (np.full((5, 4), 64), "\\[0, 64\\)"),
        (np.full((5, 4), -1), "\\[0, 64\\)"),
        (np.zeros((5, 5), np.int64), "1 <= L <= 4"),
        (np.zeros((0, 4), np.int64), "T >= 1"),
        (np.zeros(20, np.int64), "tokens_to_codes"),
        (np.zeros((5, 4), np.float32), "integers"),
    ],
)
def test_bad_codes_are_refused_with_a_clear_error(codec, codes, message):
    with pytest.raises(InvalidRequestError, match=message):
        codec.decode(codes)


def test_num_samples_must_fit_the_frames(codec):
    with pytest.raises(InvalidRequestError, match="num_samples"):
        codec.decode(np.zeros((2, 4), np.int64), num_samples=3 * HOP)
