"""The audio tokenizer at run time: mono 16 kHz samples -> integer codes -> samples, on
onnxruntime, streamed in chunks so that an hour of audio never becomes one giant graph call.

Codes are (T, K) int64: frame t (hop samples, 20 ms by default) gives one code per RVQ level.
`codes_to_tokens` flattens them frame-major (frame t: levels 0..K-1), the order the LM models.

Streaming is exact: the encoder is causal and the decoder looks at most
`decoder_lookahead_frames` ahead (for the filterbank design 1, whose overlap-added hops need the
next frame's window, or 2 since session 9, whose hops beside silence decode another way), so a
chunk coded with `encoder_context_frames` of real audio before it
(and decoded with `decoder_context_frames` of codes before it and the lookahead after it) gives
the codes and samples of coding the whole recording at once (up to float rounding). Chunks are
~10 s plus that context (~0.4 s), so graph calls stay bounded.

Input policy (checked before onnxruntime sees anything; every refusal is an InvalidRequestError
that says what to do):
- rate: must be the model's; `resample=True` resamples the whole input first (memory grows
  with its length: for hours of audio read the file at the model rate instead).
- channels: mono (N,) or (N, 1); (N, C) is refused unless `mix_down=True` averages the channels.
- values: float in [-1, 1] or int16 PCM (scaled by 1/32768). Floats up to +-2 (the overshoot of a
  float mix) are clipped to [-1, 1], as writing them to a 16-bit file would; beyond that the
  scale is wrong (e.g. int16 values stored as floats) and the input is refused. NaN and inf
  are refused, and so is empty input.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from reelpoet.sdk.errors import InvalidRequestError
from reelpoet.sdk.media import resample_audio
from reelpoet.sdk.onnx_session import create_session

CLIP_LIMIT = 2.0  # peaks up to here are clipped; beyond, the input's scale is refused
MAX_CHANNELS = 8  # (N, C) with more columns is taken for a (C, N) or batch mix-up
DEFAULT_CHUNK_SECONDS = 10.0


@dataclass(frozen=True)
class AudioCodecSpec:
    sample_rate: int
    hop: int  # samples per frame
    num_levels: int  # K: codes per frame
    codebook_size: int  # V: codes are integers in [0, V)
    encoder_context_frames: int  # left context a chunk needs for exact codes
    decoder_context_frames: int  # left context a chunk needs for exact samples
    decoder_lookahead_frames: int = 0  # frames after a chunk its last samples depend on

    @classmethod
    def from_config(cls, config: dict) -> AudioCodecSpec:
        """From the exported `audio_tokenizer.json`."""
        return cls(
            int(config["sample_rate"]),
            int(config["hop"]),
            int(config["num_levels"]),
            int(config["codebook_size"]),
            int(config["encoder_context_frames"]),
            int(config["decoder_context_frames"]),
            int(config.get("decoder_lookahead_frames", 0)),  # exports before it had none
        )

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def num_frames(self, num_samples: int) -> int:
        """ceil(N / hop): the input is zero-padded to whole frames (34000 samples -> 107)."""
        return -(-num_samples // self.hop)


def codes_to_tokens(codes: np.ndarray) -> np.ndarray:
    """(T, K) codes -> (T * K,) tokens, frame-major: frame t gives levels 0..K-1."""
    return np.ascontiguousarray(codes).reshape(-1)


def tokens_to_codes(tokens: np.ndarray, num_levels: int) -> np.ndarray:
    """(T * K,) frame-major tokens -> (T, K) codes; the inverse of `codes_to_tokens`."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or tokens.size % num_levels:
        raise InvalidRequestError(
            f"tokens must be a 1-D sequence of whole frames ({num_levels} a frame), "
            f"got shape {tokens.shape}"
        )
    return tokens.reshape(-1, num_levels)


class AudioCodec:
    """Encoder and decoder ONNX graphs with input checks and chunked streaming."""

    def __init__(
        self,
        encoder: str | os.PathLike[str],
        decoder: str | os.PathLike[str],
        spec: AudioCodecSpec,
        threads: int | None = None,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    ) -> None:
        if chunk_seconds <= 0:
            raise InvalidRequestError(f"chunk_seconds must be positive, got {chunk_seconds}")
        self.spec = spec
        self.chunk_frames = max(1, round(chunk_seconds * spec.frame_rate))
        self._encoder = create_session(encoder, threads)
        self._decoder = create_session(decoder, threads)

    def encode(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        resample: bool = False,
        mix_down: bool = False,
    ) -> np.ndarray:
        """(N,) or (N, C) audio -> (ceil(N / hop), K) int64 codes (see the module's policy)."""
        pieces = list(self.iter_encode(samples, sample_rate, resample=resample, mix_down=mix_down))
        return np.concatenate(pieces)

    def iter_encode(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        resample: bool = False,
        mix_down: bool = False,
    ) -> Iterator[np.ndarray]:
        """Like `encode`, but yields the codes chunk by chunk, (<= chunk frames, K) each."""
        audio = self._check_audio(np.asarray(samples), sample_rate, resample, mix_down)
        hop, context = self.spec.hop, self.spec.encoder_context_frames
        total = self.spec.num_frames(len(audio))
        for first in range(0, total, self.chunk_frames):
            start = max(0, first - context)  # in frames: real audio before the chunk
            end = min(total, first + self.chunk_frames)
            piece = self._prepare(audio[start * hop : end * hop], (end - start) * hop)
            (codes,) = self._encoder.run(None, {"samples": piece[None]})
            yield codes[0, first - start :]

    def decode(self, codes: np.ndarray, num_samples: int | None = None) -> np.ndarray:
        """(T, L) codes of the first L <= K levels -> (T * hop,) float32 samples in [-1, 1],
        cut to `num_samples` when given (e.g. the length that was encoded)."""
        checked = self._check_codes(np.asarray(codes))
        hop, context = self.spec.hop, self.spec.decoder_context_frames
        lookahead, total = self.spec.decoder_lookahead_frames, checked.shape[0]
        if num_samples is not None and not 0 < num_samples <= total * hop:
            raise InvalidRequestError(
                f"num_samples must be in 1..{total * hop} for {total} frames, got {num_samples}"
            )
        out = np.empty(total * hop, np.float32)
        for first in range(0, total, self.chunk_frames):
            start = max(0, first - context)
            end = min(total, first + self.chunk_frames)
            ahead = min(total, end + lookahead)  # codes after the chunk, where there are any
            (samples,) = self._decoder.run(None, {"codes": checked[None, start:ahead]})
            out[first * hop : end * hop] = samples[0, (first - start) * hop : (end - start) * hop]
        return out if num_samples is None else out[:num_samples]

    def _check_audio(
        self, audio: np.ndarray, sample_rate: int, resample: bool, mix_down: bool
    ) -> np.ndarray:
        """Shape, dtype, rate and value checks on the whole input, without copying it."""
        if audio.ndim == 2 and audio.shape[1] == 1:
            audio = audio[:, 0]
        if audio.ndim == 2 and not 1 < audio.shape[1] <= MAX_CHANNELS:
            raise InvalidRequestError(
                f"audio must be (N,) or (N, C) samples with C <= {MAX_CHANNELS} channels, got "
                f"{audio.shape}; is it channels-first? pass samples.T"
            )
        if audio.ndim == 2 and not mix_down:
            raise InvalidRequestError(
                f"the audio tokenizer codes mono audio, got {audio.shape[1]} channels; mix them "
                f"down first (samples.mean(axis=1)) or pass mix_down=True"
            )
        if audio.ndim not in (1, 2):
            raise InvalidRequestError(f"audio must be (N,) or (N, C), got shape {audio.shape}")
        if audio.shape[0] == 0:
            raise InvalidRequestError("the audio is empty: there are no samples to encode")
        if audio.dtype != np.int16 and not np.issubdtype(audio.dtype, np.floating):
            raise InvalidRequestError(
                f"audio must be float samples in [-1, 1] or int16 PCM, not {audio.dtype}"
            )
        if audio.dtype != np.int16:
            self._check_values(audio)
        return self._check_rate(audio, sample_rate, resample)

    @staticmethod
    def _check_values(audio: np.ndarray) -> None:
        low, high = float(audio.min()), float(audio.max())  # NaN propagates; no temporaries
        if not (np.isfinite(low) and np.isfinite(high)):
            raise InvalidRequestError("the audio contains NaN or infinite values")
        if max(-low, high) > CLIP_LIMIT:
            raise InvalidRequestError(
                f"audio values must lie in [-1, 1] (peaks up to +-{CLIP_LIMIT} are clipped), got "
                f"[{low:.4g}, {high:.4g}]; scale it (int16 values as floats: divide by 32768)"
            )

    def _check_rate(self, audio: np.ndarray, sample_rate: int, resample: bool) -> np.ndarray:
        wanted = self.spec.sample_rate
        if sample_rate == wanted:
            return audio
        if not resample:
            raise InvalidRequestError(
                f"the audio tokenizer needs {wanted} Hz audio, got {sample_rate} Hz; resample it "
                f"(reelpoet.sdk.media.resample_audio) or pass resample=True"
            )
        floats = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio
        return resample_audio(floats, sample_rate, wanted)  # checks the rate's range too

    @staticmethod
    def _prepare(piece: np.ndarray, length: int) -> np.ndarray:
        """One chunk as the graph takes it: mono float32 in [-1, 1], zero-padded to `length`."""
        if piece.dtype == np.int16:
            piece = piece.astype(np.float32) / 32768.0
        if piece.ndim == 2:
            piece = piece.mean(axis=1, dtype=np.float32)
        out = np.zeros(length, np.float32)
        np.clip(piece, -1.0, 1.0, out=out[: len(piece)])
        return out

    def _check_codes(self, codes: np.ndarray) -> np.ndarray:
        k, vocabulary = self.spec.num_levels, self.spec.codebook_size
        if codes.ndim != 2 or codes.shape[0] == 0 or not 1 <= codes.shape[1] <= k:
            raise InvalidRequestError(
                f"codes must be (T, L) with T >= 1 frames and 1 <= L <= {k} levels, got "
                f"{codes.shape}; interleaved tokens: use tokens_to_codes first"
            )
        if not np.issubdtype(codes.dtype, np.integer):
            raise InvalidRequestError(f"codes must be integers, not {codes.dtype}")
        if codes.min() < 0 or codes.max() >= vocabulary:
            raise InvalidRequestError(
                f"codes must lie in [0, {vocabulary}), got [{codes.min()}, {codes.max()}]"
            )
        return codes.astype(np.int64)
