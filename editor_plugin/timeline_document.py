"""An open timeline: reading it from any format an installed OTIO adapter knows (or a media
file), every change through ``apply`` so it can be undone, saving without overwriting the
user's file unasked, and an autosave beside it.

Plain Python: the panel, the CLI and the tests all edit through this one object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import opentimelineio as otio

from reelpoet.editor_plugin import media_paths, nle_export
from reelpoet.editor_plugin.edit_history import EditHistory
from reelpoet.editor_plugin.errors import OverwriteRefusedError, UnsupportedTimelineError
from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.errors import MediaError
from reelpoet.sdk.media import probe

T = TypeVar("T")

# Suffix -> OTIO adapter. The NLE ones come from OpenTimelineIO-Plugins and
# otio-fcpx-xml-adapter; reading one whose package is missing says which to install.
READ_ADAPTERS = {
    ".otio": "otio_json",
    ".otioz": "otioz",
    ".edl": "cmx_3600",
    ".xml": "fcp_xml",
    ".fcpxml": "fcpx_xml",
    ".aaf": "AAF",
}
SAVE_ADAPTERS = {".otio": "otio_json", ".otioz": "otioz"}
AUTOSAVE_SUFFIX = ".reelpoet-autosave.otio"


def _newer_schemas(path: Path) -> str:
    """The schema versions in an .otio file that this OTIO does not know, e.g. "Marker.3"."""
    if path.suffix.lower() != ".otio":  # an .otioz is a zip: name no schema
        return "a newer schema"
    known = otio.core.type_version_map()
    found = set(re.findall(r'"OTIO_SCHEMA"\s*:\s*"(\w+)\.(\d+)"', path.read_text("utf-8")))
    newer = sorted(f"{n}.{v}" for n, v in found if int(v) > known.get(n, int(v)))
    return ", ".join(newer) or "an unknown schema"


class TimelineDocument:
    """``timeline`` plus where it lives. ``path`` is the .otio/.otioz file saves go to (None
    for a timeline read from an NLE format or made around media: those need a save-as)."""

    def __init__(self, timeline: otio.schema.Timeline, path: Path | None, base_dir: Path):
        self.timeline = timeline
        self.path = path
        self.base_dir = base_dir  # relative media URLs are read from here
        self.history = EditHistory()
        self.listeners: list[Callable[[], None]] = []  # told after every change
        self._may_replace: set[Path] = set()  # files the user agreed to replace this session
        self._revision = 0  # counts changes, so autosave writes each state once
        self._autosaved_revision = 0
        self.restored_records = 0  # generation records put back from an export's sidecar

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> TimelineDocument:
        path = Path(path).resolve()
        adapter = READ_ADAPTERS.get(path.suffix.lower())
        if adapter is None:
            return cls.around_media(path)
        try:
            timeline = otio.adapters.read_from_file(str(path), adapter_name=adapter)
        except otio.exceptions.UnsupportedSchemaError as exc:
            raise UnsupportedTimelineError(
                f"{path.name} was written by a newer OpenTimelineIO ({_newer_schemas(path)}); "
                f"this is {otio.__version__}: upgrade opentimelineio to open it"
            ) from exc
        except Exception as exc:  # adapters raise anything from KeyError to XML errors
            raise UnsupportedTimelineError(
                f"cannot read {path.name} as {adapter} ({type(exc).__name__}: {exc}); "
                "check the file, or that the OTIO adapter package for it is installed"
            ) from exc
        if not isinstance(timeline, otio.schema.Timeline):  # e.g. an EDL of several reels
            raise UnsupportedTimelineError(f"{path.name} holds no single timeline")
        own = path if path.suffix.lower() in SAVE_ADAPTERS else None
        document = cls(timeline, own, path.parent)
        if own is None:  # an NLE file: our export's sidecar has what the format dropped
            document.restored_records = nle_export.restore_provenance(timeline, path)
        return document

    @classmethod
    def around_media(cls, path: str | Path) -> TimelineDocument:
        """A new timeline holding the whole of one media file, at its frame rate."""
        path = Path(path).resolve()
        try:
            info = probe(path)
        except MediaError as exc:
            raise UnsupportedTimelineError(
                f"{path.name} is neither a timeline ({', '.join(READ_ADAPTERS)}) nor media "
                f"reelpoet can read: {exc}"
            ) from exc
        rate = float(info.video.fps) if info.video else 24.0
        frames = info.video.frame_count if info.video else round(info.duration_s * rate)
        span = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)
        )
        reference = otio.schema.ExternalReference(target_url=path.name, available_range=span)
        clip = otio.schema.Clip(name=path.stem, media_reference=reference, source_range=span)
        kind = otio.schema.TrackKind.Video if info.video else otio.schema.TrackKind.Audio
        track = otio.schema.Track(name="V1" if info.video else "A1", kind=kind)
        track.append(clip)
        timeline = otio.schema.Timeline(name=path.stem)
        timeline.tracks.append(track)
        return cls(timeline, None, path.parent)

    # -- editing -----------------------------------------------------------------------------
    def apply(self, description: str, edit: Callable[[otio.schema.Timeline], T]) -> T:
        """Run ``edit`` on the timeline as one undoable step. If it raises, the timeline is
        restored to exactly what it was and nothing is recorded."""
        before = self.snapshot()
        try:
            out = edit(self.timeline)
        except BaseException:
            self._restore(before)
            raise
        self.history.record(description, before, self.snapshot())
        self._changed()
        return out

    def undo(self) -> None:
        self._restore(self.history.undo())
        self._changed()

    def redo(self) -> None:
        self._restore(self.history.redo())
        self._changed()

    def snapshot(self) -> str:
        return otio.adapters.write_to_string(self.timeline, "otio_json")

    def _restore(self, snapshot: str) -> None:
        self.timeline = otio.adapters.read_from_string(snapshot, "otio_json")

    def _changed(self) -> None:
        self._revision += 1
        for listener in list(self.listeners):
            listener()

    # -- where things go ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.stem if self.path else (self.timeline.name or "untitled")

    @property
    def media_folder(self) -> Path:
        """Rendered results go here: ``<timeline stem>_media/`` beside the timeline."""
        return self.base_dir / f"{self.name}_media"

    @property
    def is_modified(self) -> bool:
        return not self.history.is_clean

    # -- saving ------------------------------------------------------------------------------
    def save(self, path: str | Path | None = None, overwrite: bool = False) -> Path:
        """Write .otio or .otioz (atomically) to ``path`` (default: where it was opened from).
        An existing file is replaced only with ``overwrite=True`` (the user confirmed), and
        once confirmed it stays so for this session."""
        target = Path(path).resolve() if path is not None else self.path
        if target is None:
            raise OverwriteRefusedError("this timeline has no .otio file yet: choose Save As")
        adapter = SAVE_ADAPTERS.get(target.suffix.lower())
        if adapter is None:
            raise UnsupportedTimelineError(
                f"save as .otio or .otioz, not {target.suffix!r}; use Export for NLE formats"
            )
        if target.exists() and not overwrite and target not in self._may_replace:
            raise OverwriteRefusedError(f"{target} exists; confirm to replace it")
        self._write(target, adapter)
        self._may_replace.add(target)
        # base_dir stays: the timeline in memory (and its undo history) keeps URLs relative to
        # it; a file written to another folder got absolute ones.
        self.path = target
        self.history.mark_clean()
        self._changed()
        return target

    def _write(self, target: Path, adapter: str) -> None:
        timeline = self.timeline
        if target.parent != self.base_dir or adapter == "otioz":
            # relative media URLs would point elsewhere from the new folder, and the otioz
            # bundler resolves them from the working directory
            timeline = timeline.deepcopy()
            media_paths.absolute_urls(timeline, self.base_dir)
        # otioz packs each media file; offline ones become MissingReferences instead of
        # failing the whole save (the adapter's default, ErrorIfNotFile, refuses).
        options = {"media_policy": "MissingIfNotFile"} if adapter == "otioz" else {}
        with atomic_output(target) as temp:
            otio.adapters.write_to_file(timeline, str(temp), adapter_name=adapter, **options)

    # -- autosave ----------------------------------------------------------------------------
    @property
    def autosave_path(self) -> Path:
        return self.base_dir / f".{self.name}{AUTOSAVE_SUFFIX}"

    def autosave(self) -> Path | None:
        """Write unsaved changes to the hidden sidecar (never to the user's file); None when
        there is nothing new since the last save or autosave."""
        if not self.is_modified or self._autosaved_revision == self._revision:
            return None
        with atomic_output(self.autosave_path) as temp:
            otio.adapters.write_to_file(self.timeline, str(temp), adapter_name="otio_json")
        self._autosaved_revision = self._revision
        return self.autosave_path

    def newer_autosave(self) -> Path | None:
        """The autosave left by an earlier session if it is newer than the saved file: the
        panel offers to open it (as an unsaved timeline, so nothing is replaced unasked)."""
        saved = self.path.stat().st_mtime if self.path and self.path.exists() else 0.0
        auto = self.autosave_path
        return auto if auto.is_file() and auto.stat().st_mtime > saved else None
