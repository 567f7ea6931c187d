"""Model bundles: a folder of ONNX graphs and tokenizer files that ``manifest.json`` describes,
read and verified before anything in it is used (DESIGN.md, "Export and runtime").

    bundle = load_bundle()                 # locate, read the manifest, verify every file
    session = bundle.session("video_encoder")  # opens the graph, checks its inputs/outputs
    layout = bundle.token_layout

`verify` checks, each for a reason docs/bundle.md gives:
- every listed path is relative and canonical (no "..", no absolute path, no backslash) and
  resolves, symlinks followed, to a regular file inside the bundle folder;
- every file has the byte size and sha256 the manifest records, and `bundle_id`'s hash matches
  the manifest's content;
- every ONNX graph's external-data locations name files the manifest lists, beside the graph:
  onnxruntime opens those itself, so they must be inside the folder and checksummed too;
- with `deep=True`, every graph loads in onnxruntime and its inputs and outputs have the names,
  element types and shapes the manifest records. `Bundle.session` checks this on every open.
Files the manifest does not list are warnings, not problems: nothing reads them.

No torch and no onnx: external data is found by reading the ONNX protobuf's wire format here
(`_external_locations`), and onnxruntime is imported only when a graph is opened.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from reelpoet.sdk.bundle_location import MANIFEST_NAME, locate_bundle
from reelpoet.sdk.errors import (
    BundleError,
    BundleIntegrityError,
    BundleManifestError,
    InvalidRequestError,
)
from reelpoet.sdk.token_layout import TokenLayout

if TYPE_CHECKING:
    import onnxruntime as ort

_log = logging.getLogger(__name__)

FORMAT = "reelpoet-bundle"
FORMAT_VERSION = 1
ID_HASH_CHARS = 8  # 32 bits: enough to tell bundles apart by eye; the sha256s are the real check
MAX_MANIFEST_BYTES = 16 * 2**20  # a real manifest is a few kB; refuse to parse a huge file
_CHUNK = 2**20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_REDO = "re-export it or reinstall the bundle"

# onnxruntime's NodeArg.type -> the numpy name the manifest records.
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(bfloat16)": "bfloat16",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "string",
}


# -- the manifest ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output as the manifest records it."""

    name: str
    type: str  # element type by numpy's name: "float32", "int64", ...
    shape: tuple[int | None, ...]  # None where the graph leaves the dimension open

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "shape": list(self.shape)}

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name} {self.type} [{dims}]"


@dataclass(frozen=True)
class ModelEntry:
    """One ONNX graph of the bundle."""

    file: str  # a key of Manifest.files
    kind: str  # its role: "video_encoder", "audio_decoder", "text_encoder", "lm", ...
    version: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    config: dict = field(default_factory=dict)  # free: e.g. the video codec's spec

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "kind": self.kind,
            "version": self.version,
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
            "config": self.config,
        }


@dataclass(frozen=True)
class FileEntry:
    sha256: str  # lower-case hex
    bytes: int

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json``; `from_dict` refuses anything malformed."""

    bundle_id: str  # "<name>-<first 8 hex of the content hash>"
    created: str  # ISO 8601 with a UTC offset
    token_layout: TokenLayout
    models: dict[str, ModelEntry]
    files: dict[str, FileEntry]  # relative POSIX path -> size and checksum
    provenance: dict = field(default_factory=dict)  # free: runs, steps, hours, hardware, evals
    format_version: int = FORMAT_VERSION

    @property
    def name(self) -> str:
        return self.bundle_id.rsplit("-", 1)[0]

    @property
    def total_bytes(self) -> int:
        return sum(entry.bytes for entry in self.files.values())

    def content_hash(self) -> str:
        """Hash of what the bundle computes with (files, models, token layout), not of when or
        by whom it was made: the same content always gets the same `bundle_id`."""
        data = self.to_dict()
        content = {key: data[key] for key in ("token_layout", "models", "files")}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:ID_HASH_CHARS]

    def with_name(self, name: str) -> Manifest:
        """This manifest with `bundle_id` set from `name` and the content hash."""
        if not _NAME.fullmatch(name):
            raise InvalidRequestError(
                f"bundle name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return replace(self, bundle_id=f"{name}-{self.content_hash()}")

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "bundle_id": self.bundle_id,
            "created": self.created,
            "token_layout": self.token_layout.to_dict(),
            "models": {name: entry.to_dict() for name, entry in self.models.items()},
            "files": {path: entry.to_dict() for path, entry in self.files.items()},
            "sizes": {"total_bytes": self.total_bytes},
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: object) -> Manifest:
        top = _Fields(data, "the manifest")
        _check_format(top)
        top.only(
            "format",
            "format_version",
            "bundle_id",
            "created",
            "token_layout",
            "models",
            "files",
            "sizes",
            "provenance",
        )
        files = {
            path: _file_entry(_Fields(entry, f"files[{path!r}]"))
            for path, entry in top.get("files", dict).items()
        }
        manifest = cls(
            bundle_id=_bundle_id(top.get("bundle_id", str)),
            created=_created(top.get("created", str)),
            token_layout=_token_layout(top.get("token_layout", dict)),
            models=_models(top.get("models", dict), files),
            files=files,
            provenance=top.get("provenance", dict),
        )
        total = _Fields(top.get("sizes", dict), "sizes").get("total_bytes", int)
        if total != manifest.total_bytes:
            raise _malformed(
                f"sizes.total_bytes is {total}, but the files add up to {manifest.total_bytes}"
            )
        return manifest


def _malformed(message: str) -> BundleManifestError:
    return BundleManifestError(f"{MANIFEST_NAME}: {message}; {_REDO}")


class _Fields:
    """A JSON object being parsed, with errors that say where in the manifest they are."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise _malformed(f"{where} must be a JSON object, not {_json_type(data)}")
        self.data, self.where = data, where

    def get(self, key: str, kind: type) -> Any:
        if key not in self.data:
            raise _malformed(f"{self.where} has no {key!r}")
        value = self.data[key]
        # bool is an int to Python, not to a manifest reader
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            wanted = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
            raise _malformed(f"{self.where}.{key} must be {wanted[kind]}, not {_json_type(value)}")
        return value

    def only(self, *keys: str) -> None:
        unknown = sorted(set(self.data) - set(keys))
        if unknown:
            raise _malformed(f"{self.where} has unknown keys {unknown}")


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    names.update({int: "an integer", float: "a number", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _check_format(top: _Fields) -> None:
    # Checked before anything else, so a newer manifest gets "upgrade", not "unknown key".
    if top.data.get("format") != FORMAT:
        raise BundleManifestError(
            f"{MANIFEST_NAME} is not a reelpoet bundle manifest "
            f"(format is {top.data.get('format')!r}, not {FORMAT!r})"
        )
    version = top.get("format_version", int)
    if version > FORMAT_VERSION:
        raise BundleManifestError(
            f"this bundle has format version {version}; this reelpoet reads version "
            f"{FORMAT_VERSION}: upgrade reelpoet to use it"
        )
    if version != FORMAT_VERSION:
        raise BundleManifestError(
            f"bundle format version {version} is not supported (this reelpoet reads version "
            f"{FORMAT_VERSION}); {_REDO}"
        )


def _bundle_id(value: str) -> str:
    name, _, digest = value.rpartition("-")
    if not _NAME.fullmatch(name) or not re.fullmatch(f"[0-9a-f]{{{ID_HASH_CHARS}}}", digest):
        raise _malformed(f"bundle_id {value!r} is not '<name>-<{ID_HASH_CHARS} hex digits>'")
    return value


def _created(value: str) -> str:
    try:  # Python 3.10's fromisoformat does not take a trailing Z
        datetime.fromisoformat(value.removesuffix("Z") + ("+00:00" if value[-1:] == "Z" else ""))
    except ValueError:
        raise _malformed(f"created {value!r} is not an ISO 8601 time") from None
    return value


def _token_layout(data: dict) -> TokenLayout:
    try:
        return TokenLayout.from_dict(data)
    except (InvalidRequestError, KeyError, TypeError, ValueError) as exc:
        raise _malformed(f"token_layout is not usable ({type(exc).__name__}: {exc})") from exc


def _file_entry(fields: _Fields) -> FileEntry:
    fields.only("sha256", "bytes")
    digest, size = fields.get("sha256", str), fields.get("bytes", int)
    if not _SHA256.fullmatch(digest):
        raise _malformed(f"{fields.where}.sha256 is not 64 lower-case hex digits")
    if size < 0:
        raise _malformed(f"{fields.where}.bytes is negative")
    return FileEntry(digest, size)


def _models(data: dict, files: dict[str, FileEntry]) -> dict[str, ModelEntry]:
    models = {}
    for name, entry in data.items():
        where = f"models[{name!r}]"
        if not _NAME.fullmatch(name):
            raise _malformed(f"{where}: model names are letters, digits, '.', '_' and '-'")
        fields = _Fields(entry, where)
        fields.only("file", "kind", "version", "inputs", "outputs", "config")
        model = ModelEntry(
            file=fields.get("file", str),
            kind=fields.get("kind", str),
            version=fields.get("version", str),
            inputs=_tensor_specs(fields.get("inputs", list), f"{where}.inputs"),
            outputs=_tensor_specs(fields.get("outputs", list), f"{where}.outputs"),
            config=fields.get("config", dict),
        )
        if model.file not in files:
            raise _malformed(f"{where}.file {model.file!r} is not listed in files")
        models[name] = model
    return models


def _tensor_specs(data: list, where: str) -> tuple[TensorSpec, ...]:
    specs = []
    for i, item in enumerate(data):
        fields = _Fields(item, f"{where}[{i}]")
        fields.only("name", "type", "shape")
        shape = fields.get("shape", list)
        if not all(d is None or (type(d) is int and d >= 0) for d in shape):
            raise _malformed(f"{fields.where}.shape must hold sizes >= 0 or null, got {shape}")
        specs.append(TensorSpec(fields.get("name", str), fields.get("type", str), tuple(shape)))
    return tuple(specs)


def read_manifest(folder: str | os.PathLike[str]) -> Manifest:
    """Parse ``folder/manifest.json``; BundleManifestError says what is wrong with it."""
    path = Path(folder) / MANIFEST_NAME
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise BundleManifestError(f"{path} is over {MAX_MANIFEST_BYTES} bytes; {_REDO}")
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except FileNotFoundError as exc:
        raise BundleManifestError(f"{folder} has no {MANIFEST_NAME}; {_REDO}") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BundleManifestError(f"cannot read {path}: {exc}; {_REDO}") from exc
    return Manifest.from_dict(data)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    # json keeps the last of two equal keys; a second "files" entry could hide the first
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# -- paths ------------------------------------------------------------------------------------
def bundle_path_problem(relative: str) -> str | None:
    """Why `relative` may not name a file in a bundle, or None when it may.

    One canonical spelling per file ('/'-separated, no '.', '..' or empty parts) means a path
    can only leave the folder through a symlink, which `verify` resolves and refuses.
    """
    if not relative:
        return "is an empty path"
    if "\\" in relative or "\0" in relative:
        return "contains a backslash or NUL; bundle paths are '/'-separated"
    if PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).anchor:
        return "is absolute; bundle paths are relative to the bundle folder"
    parts = relative.split("/")
    if ".." in parts:
        return "climbs out of the bundle folder with '..'"
    if any(part in ("", ".") for part in parts):
        return "is not canonical (empty or '.' parts)"
    if relative == MANIFEST_NAME:
        return "is the manifest itself, which cannot list its own checksum"
    return None


def _resolve_inside(root: Path, relative: str) -> tuple[Path | None, str | None]:
    """(the real path of a listed file, None) or (None, why it cannot be used)."""
    try:
        resolved = (root / relative).resolve(strict=True)
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
        return None, f"cannot be resolved ({exc})"
    if not resolved.is_relative_to(root.resolve()):
        return None, f"resolves to {resolved}, outside the bundle folder (a symlink?)"
    if not resolved.is_file():
        return None, "is not a regular file"
    return resolved, None


def _file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- ONNX external data, read from the protobuf wire format ----------------------------------
# onnx.proto's messages that can hold a TensorProto, by field number, down to the tensors: the
# model's graph, training graphs and functions; a graph's nodes, initializers and sparse ones;
# a node's attributes; an attribute's tensors and subgraphs (If, Loop, Scan bodies).
_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _FUNCTION, _TRAINING, _SPARSE, _TENSOR = range(8)
_CONTAINS = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _FUNCTION: {7: _NODE, 11: _ATTRIBUTE},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
}
_TENSOR_EXTERNAL_DATA = 13  # repeated StringStringEntryProto {key = 1; value = 2}
_TENSOR_DATA_LOCATION = 14  # enum DataLocation: 1 = EXTERNAL


class _NotOnnx(ValueError):
    pass


def _varint(buf: mmap.mmap | bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while shift < 64:
        if pos >= len(buf):
            raise _NotOnnx("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise _NotOnnx("varint longer than 64 bits")


def _fields(buf: mmap.mmap | bytes, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message; a length-delimited value is its
    (start, end) in `buf`, so weights are skipped, never copied."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire in (1, 5):
            value, pos = None, pos + (8 if wire == 1 else 4)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = (pos, pos + length), pos + length
        else:  # groups (3, 4) are not used by onnx.proto
            raise _NotOnnx(f"wire type {wire}")
        if pos > end:
            raise _NotOnnx("a field runs past the end of its message")
        yield number, wire, value


def _tensor_location(buf: mmap.mmap | bytes, start: int, end: int) -> tuple[bool, str | None]:
    """(whether the tensor's data is external, its `location` entry if it has one)."""
    external, location = False, None
    for number, wire, value in _fields(buf, start, end):
        if number == _TENSOR_DATA_LOCATION and wire == 0:
            external = external or value == 1
        elif number == _TENSOR_EXTERNAL_DATA and wire == 2:
            entry = {n: bytes(buf[v[0] : v[1]]) for n, w, v in _fields(buf, *value) if w == 2}
            if entry.get(1) == b"location":
                external, location = True, entry.get(2, b"").decode("utf-8", "replace")
    return external, location


def _external_locations(buf: mmap.mmap | bytes) -> list[str | None]:
    """Every external-data location of an ONNX model (None for external data with none)."""
    found = []
    stack = [(_MODEL, 0, len(buf))]  # a stack, not recursion: nesting depth is the file's choice
    while stack:
        kind, start, end = stack.pop()
        if kind == _TENSOR:
            external, location = _tensor_location(buf, start, end)
            if external:
                found.append(location)
            continue
        children = _CONTAINS[kind]
        for number, wire, value in _fields(buf, start, end):
            if number in children:
                if wire != 2:
                    raise _NotOnnx(f"field {number} should be a message")
                stack.append((children[number], *value))
    return found


def _read_locations(path: Path) -> list[str | None]:
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            return []  # mmap cannot map an empty file; onnxruntime will refuse it (deep check)
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _external_locations(buf)


# -- graph signatures ------------------------------------------------------------------------
def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else None for d in (arg.shape or ()))
    return TensorSpec(arg.name, _ORT_TYPES.get(arg.type, arg.type), shape)


def _session_signature(
    session: ort.InferenceSession,
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """(inputs, outputs) of an onnxruntime session, as the manifest records them."""
    inputs = tuple(_spec(arg) for arg in session.get_inputs())
    return inputs, tuple(_spec(arg) for arg in session.get_outputs())


def _inspection_session(path: Path) -> ort.InferenceSession:
    import onnxruntime as ort  # only here: reading manifests and hashing need none of it

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    # The signature does not depend on optimisation, and skipping it makes loading cheap.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def graph_signature(
    path: str | os.PathLike[str],
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """(inputs, outputs) of the ONNX graph at `path`, read by onnxruntime on the CPU."""
    try:
        return _session_signature(_inspection_session(Path(path)))
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise BundleError(f"onnxruntime cannot load {path}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _signature_problems(name: str, model: ModelEntry, session: ort.InferenceSession) -> list[str]:
    problems = []
    inputs, outputs = _session_signature(session)
    for role, declared, actual in (
        ("inputs", model.inputs, inputs),
        ("outputs", model.outputs, outputs),
    ):
        if declared != actual:
            problems.append(
                f"{model.file}: model {name!r} has {role} ({', '.join(map(str, actual))}), "
                f"the manifest says ({', '.join(map(str, declared))})"
            )
    return problems


# -- verification ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyReport:
    """What `Bundle.verify` found: problems make the bundle unusable, warnings do not."""

    root: Path
    problems: tuple[str, ...]  # one line each, starting with the file it is about
    warnings: tuple[str, ...]
    files_checked: int
    deep: bool

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            count = len(self.problems)
            raise BundleIntegrityError(
                f"the bundle at {self.root} does not match its manifest ({count} problem"
                f"{'s' if count > 1 else ''}): {'; '.join(self.problems)}; {_REDO}",
                self.problems,
            )


class Bundle:
    """A bundle folder and its manifest. Build it with `load_bundle`, which verifies it."""

    def __init__(self, root: str | os.PathLike[str], manifest: Manifest) -> None:
        self.root = Path(root)
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Bundle({self.manifest.bundle_id!r} at {str(self.root)!r})"

    @property
    def token_layout(self) -> TokenLayout:
        return self.manifest.token_layout

    def file(self, relative: str) -> Path:
        """The path of a file the manifest lists (e.g. a tokenizer named in a model config)."""
        if relative not in self.manifest.files:
            raise BundleError(f"bundle {self.manifest.bundle_id} lists no file {relative!r}")
        problem = bundle_path_problem(relative)
        if problem:
            raise BundleIntegrityError(f"{relative}: {problem}", (f"{relative}: {problem}",))
        return self.root / relative

    def model(self, name: str) -> ModelEntry:
        try:
            return self.manifest.models[name]
        except KeyError:
            known = ", ".join(sorted(self.manifest.models)) or "none"
            raise BundleError(
                f"bundle {self.manifest.bundle_id} has no model {name!r} (it has: {known})"
            ) from None

    def session(self, name: str, threads: int | None = None) -> ort.InferenceSession:
        """An onnxruntime session on model `name`, refused unless its inputs and outputs are
        the ones the manifest records (so the code that feeds it can rely on them)."""
        from reelpoet.sdk.onnx_session import create_session

        model = self.model(name)
        session = create_session(self.file(model.file), threads)
        problems = tuple(_signature_problems(name, model, session))
        if problems:
            raise BundleIntegrityError(f"{'; '.join(problems)}; {_REDO}", problems)
        return session

    def verify(self, deep: bool = False) -> VerifyReport:
        """Check every file against the manifest; `deep` also loads every graph."""
        problems: list[str] = []
        expected = self.manifest.content_hash()
        if not self.manifest.bundle_id.endswith(f"-{expected}"):
            problems.append(
                f"{MANIFEST_NAME}: bundle_id {self.manifest.bundle_id!r} does not match its "
                f"content (hash {expected}): the manifest was edited"
            )
        good = self._check_files(problems)
        external = self._check_external_data(good, problems)
        if deep:
            self._check_signatures(good, external, problems)
        return VerifyReport(
            self.root, tuple(problems), tuple(self._unlisted()), len(self.manifest.files), deep
        )

    def _check_files(self, problems: list[str]) -> set[str]:
        """Append a line per bad file; return the listed paths that are good."""
        good = set()
        for relative, entry in sorted(self.manifest.files.items()):
            problem = bundle_path_problem(relative)
            resolved = None
            if problem is None:
                resolved, problem = _resolve_inside(self.root, relative)
            if resolved is not None:
                try:
                    problem = _content_problem(resolved, entry)
                except OSError as exc:
                    problem = f"cannot be read ({exc})"
            if problem:
                problems.append(f"{relative}: {problem}")
            else:
                good.add(relative)
        return good

    def _onnx_files(self) -> set[str]:
        models = {model.file for model in self.manifest.models.values()}
        return models | {path for path in self.manifest.files if path.endswith(".onnx")}

    def _check_external_data(self, good: set[str], problems: list[str]) -> dict[str, list[str]]:
        """Append a line per bad external-data reference; return the data files of each graph
        that has none."""
        external = {}
        for relative in sorted(self._onnx_files() & good):
            try:
                locations = _read_locations(self.root / relative)
            except (OSError, _NotOnnx) as exc:
                problems.append(f"{relative}: is not a readable ONNX model ({exc})")
                continue
            folder = PurePosixPath(relative).parent
            targets = [None if loc is None else (folder / loc).as_posix() for loc in locations]
            found = [
                f"{relative}: external data {location!r} {problem}"
                for location, target in zip(locations, targets, strict=True)
                if (problem := _location_problem(location, target, self.manifest.files))
            ]
            problems.extend(dict.fromkeys(found))  # many tensors often share one data file
            if not found:  # only graphs whose data is all inside may be opened (deep check)
                external[relative] = targets
        return external

    def _check_signatures(
        self, good: set[str], external: dict[str, list[str]], problems: list[str]
    ) -> None:
        for name, model in sorted(self.manifest.models.items()):
            needed = {model.file, *external.get(model.file, ())}
            if model.file not in external or not needed <= good:
                continue  # its files already failed: never hand a tampered file to onnxruntime
            try:
                session = _inspection_session(self.root / model.file)
            except Exception as exc:  # onnxruntime's errors are untyped
                problems.append(f"{model.file}: onnxruntime cannot load it: {_first_line(exc)}")
                continue
            problems.extend(_signature_problems(name, model, session))

    def _unlisted(self) -> list[str]:
        listed = set(self.manifest.files) | {MANIFEST_NAME}
        found = []
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root).as_posix()
            if not path.is_dir() and relative not in listed:
                found.append(f"{relative}: not listed in the manifest (ignored)")
        return found


def _content_problem(path: Path, entry: FileEntry) -> str | None:
    size = path.stat().st_size
    if size != entry.bytes:
        return f"is {size} bytes, the manifest says {entry.bytes} (truncated or replaced)"
    digest = _file_sha256(path)
    if digest != entry.sha256:
        return (
            f"sha256 is {digest[:16]}..., the manifest says {entry.sha256[:16]}... "
            "(changed or corrupted)"
        )
    return None


def _location_problem(location: str | None, target: str | None, files: dict) -> str | None:
    # ".." is refused even where it would stay inside: exporters write the data beside the graph.
    if location is None:
        return "has no location"
    problem = bundle_path_problem(location)
    if problem:
        return problem
    if target not in files:
        return f"({target}) is not a file the manifest lists, so it is not checksummed"
    return None


def verify_bundle(path: str | os.PathLike[str] | None = None, deep: bool = False) -> VerifyReport:
    """Locate and check a bundle; raise only when it has no readable manifest."""
    root = locate_bundle(path)
    return Bundle(root, read_manifest(root)).verify(deep)


def load_bundle(path: str | os.PathLike[str] | None = None, deep: bool = False) -> Bundle:
    """Locate (`locate_bundle`), read and verify a bundle; BundleIntegrityError lists every
    problem found. Unlisted files are logged as warnings."""
    root = locate_bundle(path)
    bundle = Bundle(root, read_manifest(root))
    report = bundle.verify(deep)
    for warning in report.warnings:
        _log.warning("bundle %s: %s", root, warning)
    report.raise_for_problems()
    return bundle
