"""How a generated clip was made, kept where it survives.

In OTIO the record lives in ``metadata["reelpoet"]`` (task, prompt, seed, sampling, bundle id
and sha, the source clip and range, the action's options), on the clip for the active variant and
on each variant's media reference. NLE writers drop namespaced metadata, so a short id also
travels in what they keep: the clip's name and a marker's name ("reelpoet rp-1a2b3c4d extend
seed 3"; the EDL writer upper-cases it). ``recover`` puts the full record back from the .otio
sidecar written beside every export.

Variants (one result per seed) are alternate media references of one clip
(``Clip.media_references``, OTIO 0.17+), keyed ``seed_<n>``; the active one plays. Running the
action again on the clip adds more (``add_variants``).
"""

from __future__ import annotations

import re
import secrets

import numpy as np
import opentimelineio as otio

from reelpoet.sdk.errors import InvalidRequestError

KEY = "reelpoet"
_ID = re.compile(r"rp-[0-9a-f]{8}", re.IGNORECASE)


def new_id() -> str:
    return f"rp-{secrets.token_hex(4)}"


def record(result_metadata: dict, source: dict | None, options: dict, extra: dict) -> dict:
    """The provenance of one result: the Client's metadata (task, prompt, seed, sampling,
    bundle id and bundle_sha256, the sha256 of its manifest.json) plus what it was made from
    and with; JSON-ready. bundle_sha256 is None from a client that does not report it."""
    meta = {k: v for k, v in result_metadata.items() if k != "seconds_taken"}
    return {"bundle_sha256": None, **meta, **extra, "source": source, "options": options}


def source_record(clip: otio.schema.Clip, media_url: str, seconds: tuple[float, float]) -> dict:
    """The source clip by name, media and range (frames at the range's rate), and the
    [start, end) seconds read from its media file (what regenerating it reads again)."""
    span = clip.trimmed_range()
    return {
        "clip": clip.name,
        "media": media_url,
        "start": span.start_time.value,
        "duration": span.duration.value,
        "rate": span.duration.rate,
        "seconds": [float(seconds[0]), float(seconds[1])],
    }


def mask_runs(mask: np.ndarray) -> dict:
    """An (H, W) bool mask as JSON: the lengths of its alternating False/True runs in row
    order, starting with False (a brush stroke is a few runs a row, not H * W values)."""
    flat = np.asarray(mask, dtype=bool).ravel()
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    return {"shape": list(mask.shape), "runs": [0, *runs] if flat[0] else runs}


def mask_from_runs(data: dict) -> np.ndarray:
    """The inverse of mask_runs."""
    height, width = (int(v) for v in data["shape"])
    runs = np.asarray(data["runs"], dtype=np.int64)
    if runs.ndim != 1 or (runs < 0).any() or runs.sum() != height * width:
        raise InvalidRequestError(f"a recorded mask's runs do not cover {height}x{width} pixels")
    values = np.arange(len(runs)) % 2 == 1
    return np.repeat(values, runs).reshape(height, width)


def variant_key(seed: int) -> str:
    return f"seed_{seed}"


def attach(clip: otio.schema.Clip, references: dict[str, otio.schema.ExternalReference]) -> None:
    """Give ``clip`` its variants (each reference carrying its own record) with the first one
    active, and mirror that record on the clip, its name and its marker."""
    first = next(iter(references))
    clip.set_media_references(references, first)
    _mirror_active(clip)


def add_variants(
    clip: otio.schema.Clip, references: dict[str, otio.schema.ExternalReference]
) -> None:
    """Add more variants to a generated clip, the first new one active."""
    existing = clip.media_references()
    clash = sorted(set(existing) & set(references))
    if clash:
        raise KeyError(f"{clip.name!r} already has variant(s) {clash}")
    clip.set_media_references({**existing, **references}, next(iter(references)))
    _mirror_active(clip)


def set_active(clip: otio.schema.Clip, key: str) -> None:
    if key not in clip.media_references():
        raise KeyError(f"{clip.name!r} has no variant {key!r}: {sorted(clip.media_references())}")
    clip.active_media_reference_key = key
    _mirror_active(clip)


def variants(clip: otio.schema.Clip) -> list[str]:
    """The variant keys of a generated clip (empty for other clips)."""
    refs = clip.media_references()
    return [k for k, r in refs.items() if KEY in r.metadata] if KEY in clip.metadata else []


def of(item) -> dict | None:
    """The provenance record of a timeline item as plain dicts and lists, or None."""
    meta = getattr(item, "metadata", None)
    return _plain(meta[KEY]) if meta is not None and KEY in meta else None


def _plain(value):
    """OTIO's AnyDictionary / AnyVector as dict / list, all the way down."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "__iter__") and not isinstance(value, str):
        return [_plain(v) for v in value]
    return value


def _mirror_active(clip: otio.schema.Clip) -> None:
    meta = _plain(clip.media_reference.metadata[KEY])
    clip.metadata[KEY] = meta
    base = _ID.split(clip.name)[0].rstrip() or meta["task"]
    clip.name = f"{base} {meta['id']}"
    label = f"{KEY} {meta['id']} {meta['task']} seed {meta['seed']}"
    comment = f"{meta['task']} prompt={meta.get('prompt', '')!r} seed={meta['seed']}"
    marker_range = otio.opentime.TimeRange(clip.trimmed_range().start_time)
    clip.markers[:] = [m for m in clip.markers if not m.name.lower().startswith(KEY)]
    clip.markers.append(otio.schema.Marker(label, marker_range, "CYAN", comment=comment))


def recover(imported: otio.schema.Timeline, sidecar: otio.schema.Timeline) -> int:
    """Put the full records from ``sidecar`` back on the clips of ``imported`` (an NLE file
    read back) that carry a generation id in their name or a marker; returns how many."""
    by_id = {}
    for clip in sidecar.find_clips():
        meta = of(clip)
        if meta and "id" in meta:
            by_id[meta["id"]] = meta
    restored = 0
    for clip in imported.find_clips():
        texts = [clip.name, *(m.name for m in clip.markers)]
        ids = [m.group(0).lower() for t in texts for m in [_ID.search(t)] if m]
        if ids and ids[0] in by_id:
            clip.metadata[KEY] = by_id[ids[0]]
            restored += 1
    return restored
