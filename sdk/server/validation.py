"""A submitted job, checked before it is queued: the task and its arguments (names, JSON types,
ranges, by the same checks the Client makes), and the uploads (stored under names of our own,
then probed or loaded), so a bad request is a 422 at once rather than a failed job later.

Uploaded file names are never used as paths: an upload is stored as `<argument><suffix>` in a
folder named by the job's id, where the suffix (kept because some demuxers go by it) is taken
only if it is a short run of letters and digits.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reelpoet.sdk.client import (
    SAMPLING_OPTIONS,
    check_aspect,
    check_seconds,
    checked_image,
    read_mask,
    sampling_from,
)
from reelpoet.sdk.errors import InvalidRequestError, MediaError, UnsupportedMediaError
from reelpoet.sdk.media import Clip, probe
from reelpoet.sdk.server.protocol import (
    MEDIA_ARGUMENTS,
    NPZ_MAGIC,
    allowed_parameters,
    decode_argument,
    read_npz,
)
from reelpoet.sdk.server.store import Job

_NUMBER = (int, float)
# JSON types of the arguments that are not uploads (a box mask is a list of four integers).
JSON_TYPES = {
    "prompt": (str,),
    "seconds": _NUMBER,
    "aspect": _NUMBER,
    "head": (bool,),
    "seed": (int,),
    "temperature": _NUMBER,
    "top_k": (int,),
    "top_p": _NUMBER,
    "guidance_scale": _NUMBER,
    "mask": (list,),
}
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


@dataclass(frozen=True)
class Upload:
    """One uploaded argument: the client's file name (for its suffix only) and the bytes."""

    filename: str
    file: BinaryIO


def check_parameters(task: str, params: dict, uploads: dict[str, Upload]) -> None:
    """Names and JSON types: unknown or missing arguments, wrong types."""
    allowed, required = allowed_parameters(task)
    for name in uploads:
        if name not in MEDIA_ARGUMENTS or name not in allowed:
            raise InvalidRequestError(f"{task} takes no upload named {name!r}")
    unknown = set(params) - allowed
    if unknown:
        raise InvalidRequestError(f"{task} takes no argument(s) {', '.join(sorted(unknown))}")
    missing = required - set(params) - set(uploads)
    if missing:
        raise InvalidRequestError(f"{task} needs {', '.join(sorted(missing))}")
    for name, value in params.items():
        types = JSON_TYPES.get(name, ())
        if name in MEDIA_ARGUMENTS and name != "mask":
            raise InvalidRequestError(f"{name} is an upload (a media file or a .npz), not JSON")
        wrong_bool = isinstance(value, bool) and bool not in types
        if not isinstance(value, types) or wrong_bool:
            raise InvalidRequestError(f"{name} must be JSON {_type_names(types)}, got {value!r}")


def request_hash(task: str, params: dict, uploads: dict[str, Upload]) -> str:
    """What makes two submits the same request (an idempotency key must not name another)."""
    digest = hashlib.sha256(json.dumps([task, params], sort_keys=True).encode())
    for name in sorted(uploads):
        digest.update(name.encode())
        file = uploads[name].file
        file.seek(0)
        part = hashlib.sha256()
        while chunk := file.read(1 << 20):
            part.update(chunk)
        digest.update(part.digest())
    return digest.hexdigest()


def store_uploads(uploads: dict[str, Upload], folder: Path) -> dict[str, str]:
    """Write each upload into `folder`; argument name -> the stored file's name."""
    folder.mkdir(parents=True)
    stored = {}
    for name, upload in uploads.items():
        upload.file.seek(0)
        if upload.file.read(len(NPZ_MAGIC)) == NPZ_MAGIC:
            suffix = ".npz"
        else:
            suffix = Path(upload.filename or "").suffix.lower()
            suffix = suffix if _SUFFIX.fullmatch(suffix) else ""
        upload.file.seek(0)
        with (folder / f"{name}{suffix}").open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        stored[name] = f"{name}{suffix}"
    return stored


def check_job(job: Job, folder: Path, max_array_bytes: int) -> None:
    """Ranges and media: every check the Client makes before it starts work, on the stored
    uploads. Media errors name the upload, never the server's path."""
    arguments = job_arguments(job, folder, max_array_bytes)
    sampling_from({k: v for k, v in job.params.items() if k in SAMPLING_OPTIONS})
    if "seconds" in arguments:
        check_seconds(arguments["seconds"])
    if "aspect" in arguments:
        check_aspect(arguments["aspect"])
    sizes = {
        n: _visual_size(n, arguments[n], max_array_bytes)
        for n in ("source", "image")
        if n in arguments
    }
    if "mask" in arguments:
        read_mask(arguments["mask"], *sizes["source"])


def job_arguments(job: Job, folder: Path, max_array_bytes: int = 2**40) -> dict:
    """The keyword arguments of the job's Client call: JSON ones as sent, uploads as stored
    paths (media files) or decoded arrays (.npz)."""
    arguments = dict(job.params)
    for name, filename in job.uploads.items():
        path = folder / filename
        if filename.endswith(".npz"):
            arguments[name] = decode_argument(name, read_npz(path.read_bytes(), max_array_bytes))
        else:
            arguments[name] = str(path)
    return arguments


def _visual_size(name: str, value, max_array_bytes: int) -> tuple[int, int, int | None]:
    """(width, height, frames or None when only estimated) of a source or image argument."""
    if isinstance(value, Clip):
        return (value.width, value.height, value.num_frames)
    if not isinstance(value, str):  # an image array
        image = checked_image(value)
        return (image.shape[1], image.shape[0], 1)
    try:
        info = probe(value)
    except MediaError as exc:  # same class, the message without our path
        message = str(exc).replace(value, f"the uploaded {name}")
        raise type(exc)(message) from exc
    if info.video is None:
        raise UnsupportedMediaError(f"the uploaded {name} has no video stream")
    video = info.video
    if video.width * video.height * 3 * video.frame_count > max_array_bytes:
        raise InvalidRequestError(
            f"the uploaded {name} decodes to more than {max_array_bytes:,} bytes of frames; "
            "send a shorter or smaller clip"
        )
    # Frame counts of some containers (WebM) are estimates: per-frame mask counts are then
    # checked when the job reads the clip.
    return (video.width, video.height, None)


def _type_names(types: tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names[list] = "a list"
    return " or ".join(names[t] for t in types if not (t is int and float in types))
