"""Write a model bundle: copy the files into a hidden folder beside the destination, hash them,
write ``manifest.json``, verify the result as the runtime would, then rename it into place.

    write_bundle(
        "bundles/default",
        files={"video_encoder.onnx": tmp / "video_encoder.onnx", ...},
        models={"video_encoder": {"file": "video_encoder.onnx", "kind": "video_encoder",
                                  "version": "1", "config": video_tokenizer_json}},
        token_layout=TokenLayout(),
        provenance={"video_tokenizer": {"run": "runs/vt_video", "steps": 12000}},
        bundle_name="default",
    )

A model's `inputs` and `outputs` may be given (then the bundle is refused unless the graph has
them, which catches an export that drifted from what the runtime feeds it) or left out (then
they are read from the graph). Needs no torch: onnxruntime reads the graphs.

Readers see the old bundle or the new one, never a mix: the new folder is complete and verified
before it is renamed into place. Replacing (`overwrite=True`) takes two renames (old aside, new
in); between them the destination is briefly absent, which a reader sees as "no bundle", and a
failed second rename puts the old folder back.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reelpoet.sdk.bundle import (
    FORMAT,
    FORMAT_VERSION,
    Bundle,
    FileEntry,
    Manifest,
    TensorSpec,
    bundle_path_problem,
    graph_signature,
)
from reelpoet.sdk.bundle_location import MANIFEST_NAME
from reelpoet.sdk.errors import BundleError, BundleIntegrityError, ReelpoetError
from reelpoet.sdk.token_layout import TokenLayout

_CHUNK = 2**20


def write_bundle(
    out_dir: str | os.PathLike[str],
    files: Mapping[str, str | os.PathLike[str]],
    models: Mapping[str, Mapping[str, Any]],
    token_layout: TokenLayout,
    provenance: Mapping[str, Any] | None = None,
    bundle_name: str = "reelpoet",
    *,
    overwrite: bool = False,
    created: datetime | None = None,
) -> Bundle:
    """Write a verified bundle folder at `out_dir` and return it.

    `files` maps each path inside the bundle ('/'-separated) to the file to copy there;
    `models` maps a model name to {"file", "kind", "version", "config"?, "inputs"?, "outputs"?}.
    An existing bundle at `out_dir` is replaced only with `overwrite=True`; anything else there
    is never replaced. On any failure nothing is left behind and `out_dir` is unchanged.
    """
    dest = Path(os.path.abspath(out_dir))  # normalised: '.' or 'a/..' still name a folder
    _check_destination(dest, overwrite)
    temp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")
    try:
        temp.mkdir()
        entries = {rel: _copy_hashed(Path(src), temp, rel) for rel, src in sorted(files.items())}
        parts = (entries, models, token_layout, provenance, created)
        # Paths and external data are checked before onnxruntime opens any graph to read its
        # signature: it would follow an external-data location wherever it points.
        _verified(Bundle(temp, _manifest(*parts, {}).with_name(bundle_name)), dest, deep=False)
        signatures = {
            name: graph_signature(temp / model["file"])
            for name, model in models.items()
            if "inputs" not in model or "outputs" not in model
        }
        manifest = _manifest(*parts, signatures).with_name(bundle_name)
        _write_manifest(temp, manifest)
        _verified(Bundle(temp, manifest), dest, deep=True)
        _sync_folder(temp)
        _move_into_place(temp, dest)
    except BaseException as exc:
        shutil.rmtree(temp, ignore_errors=True)
        if isinstance(exc, ReelpoetError) or not isinstance(exc, Exception):
            raise
        raise BundleError(
            f"could not write the bundle {dest} ({type(exc).__name__}: {exc}); nothing was written"
        ) from exc
    return Bundle(dest, manifest)


def _check_destination(dest: Path, overwrite: bool) -> None:
    if not dest.parent.is_dir():
        raise BundleError(f"cannot write {dest}: the folder {dest.parent} does not exist")
    if not (dest.exists() or dest.is_symlink()):
        return
    if not overwrite:
        raise BundleError(f"{dest} already exists; pass overwrite=True to replace that bundle")
    # Replacing deletes the old folder, so only ever one that is plainly a bundle.
    if dest.is_symlink() or not (dest / MANIFEST_NAME).is_file():
        raise BundleError(
            f"{dest} exists and is not a bundle folder (no {MANIFEST_NAME}, or a symlink); "
            "refusing to replace it: choose another path or remove it yourself"
        )


def _copy_hashed(source: Path, temp: Path, relative: str) -> FileEntry:
    """Copy and hash in one read, so the checksum is of the bytes that were written."""
    problem = bundle_path_problem(relative)
    if problem:
        raise BundleError(f"bundle path {relative!r} {problem}")
    if not source.is_file():
        raise BundleError(f"{source} (for {relative}) is not a file")
    target = temp / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(target, "xb") as out:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return FileEntry(digest.hexdigest(), size)


_Signature = tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]


def _model_dict(
    name: str, model: Mapping[str, Any], files: set[str], signature: _Signature | None
) -> dict:
    """The model's manifest entry; `signature` fills inputs/outputs left out (empty if None)."""
    entry = {"config": {}, **model}
    if entry.get("file") not in files:
        raise BundleError(f"model {name!r}: its file {entry.get('file')!r} is not in `files`")
    inputs, outputs = signature or ((), ())
    entry.setdefault("inputs", [spec.to_dict() for spec in inputs])
    entry.setdefault("outputs", [spec.to_dict() for spec in outputs])
    return entry


def _manifest(
    entries: dict[str, FileEntry],
    models: Mapping[str, Mapping[str, Any]],
    token_layout: TokenLayout,
    provenance: Mapping[str, Any] | None,
    created: datetime | None,
    signatures: Mapping[str, _Signature],
) -> Manifest:
    """Build the manifest through `Manifest.from_dict`, so the writer cannot write one the
    reader refuses; a JSON round trip first turns tuples into lists and refuses non-JSON."""
    when = (created or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bundle_id": "unnamed-00000000",  # replaced by `with_name` once the content is known
        "created": when,
        "token_layout": token_layout.to_dict(),
        "models": {
            name: _model_dict(name, model, set(entries), signatures.get(name))
            for name, model in models.items()
        },
        "files": {rel: entry.to_dict() for rel, entry in entries.items()},
        "sizes": {"total_bytes": sum(entry.bytes for entry in entries.values())},
        "provenance": dict(provenance or {}),
    }
    try:
        data = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise BundleError(f"model configs and provenance must be plain JSON: {exc}") from exc
    return Manifest.from_dict(data)


def _write_manifest(temp: Path, manifest: Manifest) -> None:
    with open(temp / MANIFEST_NAME, "x", encoding="utf-8") as file:
        json.dump(manifest.to_dict(), file, indent=1, ensure_ascii=False)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())


def _verified(bundle: Bundle, dest: Path, deep: bool) -> None:
    report = bundle.verify(deep)
    if report.problems:
        raise BundleIntegrityError(
            f"refusing to write {dest}, the runtime would not load it: "
            + "; ".join(report.problems),
            report.problems,
        )


def _sync_folder(folder: Path) -> None:
    # POSIX only: a folder's entries reach the disk when the folder itself is fsynced.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(temp: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(temp, dest)
    else:
        old = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.old")
        os.rename(dest, old)
        try:
            os.rename(temp, dest)
        except BaseException:
            os.rename(old, dest)
            raise
        shutil.rmtree(old, ignore_errors=True)
    _sync_folder(dest.parent)
