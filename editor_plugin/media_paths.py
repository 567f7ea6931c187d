"""Where a clip's media is, whether it is online, and relinking offline media.

Timelines come from other machines: media URLs may be ``file://`` URLs of another OS, web URLs,
relative paths with ``..``, or nothing at all. Every one of them is read as data: a URL is only
ever resolved to a local path for reading, never written to; what cannot be resolved is offline.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import opentimelineio as otio

ONLINE, OFFLINE, REMOTE, PLACEHOLDER = "online", "offline", "remote", "placeholder"


def local_path(url: str, base_dir: Path) -> Path | None:
    """The local file a media URL names (relative ones from ``base_dir``), or None for a
    non-file URL (http, s3, a UNC host) or an empty one. The file need not exist."""
    if not url or "\x00" in url:
        return None
    parsed = urlparse(url)
    # "C:\\media\\a.mov" parses with scheme "c": a Windows path, not a URL scheme.
    if len(parsed.scheme) == 1 or not parsed.scheme:
        path = Path(url)
    elif parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        path = Path(unquote(parsed.path))
    else:
        return None
    return path if path.is_absolute() else base_dir / path


def media_status(clip: otio.schema.Clip, base_dir: Path) -> str:
    """ONLINE (a readable local file), OFFLINE (a local path with no file), REMOTE (a URL that
    is not a local file) or PLACEHOLDER (a generator or missing reference: nothing to read)."""
    reference = clip.media_reference
    if not isinstance(reference, otio.schema.ExternalReference):
        return PLACEHOLDER
    path = local_path(reference.target_url, base_dir)
    if path is None:
        return REMOTE
    return ONLINE if path.is_file() and os.access(path, os.R_OK) else OFFLINE


def clip_media_path(clip: otio.schema.Clip, base_dir: Path) -> Path | None:
    """The readable local file of an online clip, else None."""
    if media_status(clip, base_dir) != ONLINE:
        return None
    return local_path(clip.media_reference.target_url, base_dir)


def media_url(path: Path, base_dir: Path) -> str:
    """A URL for media the editor wrote: relative to the timeline's folder when it is inside
    it (the project moves as one folder), else an absolute file URL."""
    try:
        return PurePosixPath(path.resolve().relative_to(base_dir.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def absolute_urls(timeline: otio.schema.Timeline, base_dir: Path) -> None:
    """Rewrite relative media paths of ``timeline`` (in place) as absolute file URLs: what an
    NLE, or the same timeline saved in another folder, needs. Other URLs stay as they are."""
    for reference in _external_references(timeline):
        url = reference.target_url
        path = local_path(url, base_dir)
        if path is not None and not urlparse(url).scheme and not Path(url).is_absolute():
            reference.target_url = path.resolve().as_uri()


def relink(timeline: otio.schema.Timeline, base_dir: Path, folder: Path) -> int:
    """Point each offline reference at the file of the same name in ``folder``; returns how
    many were relinked. Only local paths are looked at; web URLs stay as they are."""
    found = 0
    for reference in _external_references(timeline):
        path = local_path(reference.target_url, base_dir)
        if path is None or path.is_file():
            continue
        # A Windows path read on POSIX keeps its backslashes: take the name after either one.
        name = path.as_posix().replace("\\", "/").rsplit("/", 1)[-1]
        candidate = folder / name
        if name and candidate.is_file():
            reference.target_url = candidate.resolve().as_uri()
            found += 1
    return found


def _external_references(timeline: otio.schema.Timeline):
    for clip in timeline.find_clips():
        for reference in clip.media_references().values():
            if isinstance(reference, otio.schema.ExternalReference):
                yield reference
