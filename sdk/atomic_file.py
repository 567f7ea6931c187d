"""All-or-nothing file output: write a hidden temp file beside the destination, then rename.

``os.replace`` within one folder is atomic, so readers see either the old file or the complete
new one, never a half-written file; on failure the temp file is removed and an existing
destination is left exactly as it was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reelpoet.sdk.errors import MediaWriteError, ReelpoetError


def _destination(path: str | os.PathLike[str]) -> Path:
    dest = Path(os.fspath(path))
    parent = dest.parent
    if not parent.is_dir():
        raise MediaWriteError(
            f"cannot write {dest}: the folder {parent} does not exist; create it first"
        )
    if dest.is_dir():
        raise MediaWriteError(f"cannot write {dest}: it is a folder; give a file name")
    return dest


def _create_temp(dest: Path) -> Path:
    # Same folder (so the rename is atomic) and same extension (so muxers pick the format).
    tmp = dest.with_name(f".{dest.stem}.{secrets.token_hex(4)}.partial{dest.suffix}")
    try:
        # O_EXCL: never clobber anything; mode 0o666 lets the umask decide, like open() would.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise MediaWriteError(f"cannot create a file in {dest.parent}: {exc}") from exc
    return tmp


def _fsync(path: Path) -> None:
    # Flush to disk before the rename so a crash cannot leave a complete-looking empty file.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces ``path``, on failure it is removed.

    Failures other than reelpoet's own errors are raised as MediaWriteError.
    """
    dest = _destination(path)
    tmp = _create_temp(dest)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, dest)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, ReelpoetError) or not isinstance(exc, Exception):
            raise
        raise MediaWriteError(
            f"could not write {dest} ({type(exc).__name__}: {exc}); nothing was written"
        ) from exc
