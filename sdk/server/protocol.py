"""The wire format the server and `Client.remote` share; numpy only (no starlette, no httpx).

A job is one Client method called on the server. Its arguments travel by name, as the Client's
signature names them: the media arguments (`MEDIA_ARGUMENTS`) as multipart uploads, either a
media file (sent as its own bytes, so the server decodes exactly what a local call would) or a
`.npz` of arrays (a `Clip`, an image, a mask); every other argument, and the sampling options,
as one JSON object. A result comes back as a `.npz` of the Result's arrays, so frames and audio
arrive bit for bit and the same seed gives the same arrays local or remote.
"""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from fractions import Fraction

import numpy as np

from reelpoet.sdk import errors
from reelpoet.sdk.client import CALLBACK_OPTIONS, SAMPLING_OPTIONS, TASK_METHODS, Client, Result
from reelpoet.sdk.errors import InvalidRequestError, ReelpoetError, ServerError
from reelpoet.sdk.media import Clip

MEDIA_ARGUMENTS = ("source", "image", "mask")
NPZ_MAGIC = b"PK\x03\x04"  # a .npz is a zip file; no media container starts like one
CLIP_KEYS = ("frames", "fps", "start_s")  # + "audio", "sample_rate" when the clip has sound


def task_arguments(task: str) -> tuple[dict[str, inspect.Parameter], bool]:
    """The named arguments of a task's Client method (without self and the local callbacks),
    and whether it takes the sampling options."""
    if task not in TASK_METHODS:
        raise InvalidRequestError(f"unknown task {task!r}; the tasks are {', '.join(TASK_METHODS)}")
    parameters = inspect.signature(getattr(Client, task)).parameters
    named = {
        name: p
        for name, p in parameters.items()
        if name != "self" and name not in CALLBACK_OPTIONS and p.kind != p.VAR_KEYWORD
    }
    takes_options = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    return named, takes_options


def allowed_parameters(task: str) -> tuple[set[str], set[str]]:
    """(every argument name the task accepts, the ones it requires)."""
    named, takes_options = task_arguments(task)
    required = {n for n, p in named.items() if p.default is p.empty}
    return set(named) | (set(SAMPLING_OPTIONS) if takes_options else set()), required


# -- arrays ----------------------------------------------------------------------------------
def encode_arrays(**arrays) -> bytes:
    """A .npz (uncompressed: frames are mostly incompressible noise to zlib, and it is faster)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_npz(data: bytes, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of a .npz, refusing pickled objects and archives that would expand past
    `max_bytes` (a small compressed upload must not become gigabytes in memory)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
        if expanded > max_bytes:
            raise InvalidRequestError(
                f"the .npz holds {expanded:,} bytes of arrays; this server takes {max_bytes:,}"
            )
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, ReelpoetError):
            raise
        raise InvalidRequestError(f"not a readable .npz of plain arrays: {exc}") from exc


def encode_argument(name: str, value) -> bytes:
    """A media argument held in memory (a Clip, or an image or mask array) as .npz bytes."""
    if isinstance(value, Clip):
        arrays = {
            "frames": value.frames,
            "fps": np.array([value.fps.numerator, value.fps.denominator]),
            "start_s": np.float64(value.start_s),
        }
        if value.audio is not None:
            arrays.update(audio=value.audio, sample_rate=np.int64(value.sample_rate))
        return encode_arrays(**arrays)
    return encode_arrays(**{name: np.asarray(value)})


def decode_argument(name: str, arrays: dict[str, np.ndarray]):
    """The inverse of encode_argument: a Clip for `source`, else the array named `name`."""
    if name == "source":
        missing = set(CLIP_KEYS) - set(arrays)
        if missing:
            raise InvalidRequestError(f"a source .npz needs {', '.join(sorted(missing))}")
        frames = arrays["frames"]
        if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8 or not len(frames):
            raise InvalidRequestError(f"source frames are (T, H, W, 3) uint8, got {frames.shape}")
        fps = _fraction(arrays["fps"])
        audio = arrays.get("audio")
        rate = int(arrays["sample_rate"]) if audio is not None else None
        return Clip(frames, fps, float(arrays["start_s"]), audio, rate)
    if name not in arrays:
        raise InvalidRequestError(f"the {name} .npz needs an array named {name!r}")
    return arrays[name]


def _fraction(value: np.ndarray) -> Fraction:
    if value.shape != (2,) or not np.issubdtype(value.dtype, np.integer) or value[1] <= 0:
        raise InvalidRequestError("fps is two integers: numerator, denominator")
    fps = Fraction(int(value[0]), int(value[1]))
    if not 0 < fps <= 240:
        raise InvalidRequestError(f"fps must be in (0, 240], got {fps}")
    return fps


# -- results ---------------------------------------------------------------------------------
def encode_result(result: Result | float) -> bytes:
    """A Result (or rate's score) as .npz bytes; metadata rides along as a JSON string."""
    if not isinstance(result, Result):
        return encode_arrays(score=np.float64(result))
    arrays = {"metadata": np.array(json.dumps(result.metadata))}
    if result.frames is not None:
        arrays.update(
            frames=result.frames, fps=np.array([result.fps.numerator, result.fps.denominator])
        )
    if result.audio is not None:
        arrays.update(audio=result.audio, sample_rate=np.int64(result.sample_rate))
    return encode_arrays(**arrays)


def decode_result(data: bytes) -> Result | float:
    arrays = read_npz(data, max_bytes=2**40)  # our own server's answer: no cap needed
    if "score" in arrays:
        return float(arrays["score"])
    frames = arrays.get("frames")
    audio = arrays.get("audio")
    return Result(
        frames,
        _fraction(arrays["fps"]) if frames is not None else None,
        audio,
        int(arrays["sample_rate"]) if audio is not None else None,
        json.loads(str(arrays["metadata"])),
    )


# -- errors ----------------------------------------------------------------------------------
def error_body(exc: BaseException) -> dict:
    """`{"error": {"type", "message"}}`: the type is a class name of reelpoet.sdk.errors."""
    name = type(exc).__name__ if isinstance(exc, ReelpoetError) else ServerError.__name__
    return {"error": {"type": name, "message": str(exc) or name}}


def error_class(name: str) -> type[ReelpoetError]:
    """The class a server's error type names; ServerError for a name this client lacks."""
    found = getattr(errors, name, None)
    if isinstance(found, type) and issubclass(found, ReelpoetError):
        return found
    return ServerError
