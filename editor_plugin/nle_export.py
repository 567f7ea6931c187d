"""Export to NLEs through the OTIO adapters: CMX 3600 EDL, FCP 7 XML, FCPX XML and AAF.

What the writers do, found by running them (OpenTimelineIO-Plugins 0.18, otio-fcpx-xml-adapter
1.0), and what is done about it here:

- Namespaced metadata is dropped by all four, and marker comments too; AAF drops markers
  altogether. Provenance therefore also travels in the clip name and a marker name (see
  ``provenance``), and a ``<file>.reelpoet.otio`` sidecar keeps the full timeline;
  ``provenance.recover`` puts the records back on a re-imported file.
- A clip with a ``GeneratorReference`` crashes the FCP 7 writer (UnboundLocalError) and the
  FCPX writer (AttributeError), and the AAF writer refuses it: placeholders (and clips with no
  media) become gaps of the same length, listed in the report.
- The AAF writer needs a mob ID on every clip's metadata; ``use_empty_mob_ids=True`` lets it
  make its own.
- The EDL writer writes only ``tracks[0]``, refuses more than one video track, drops audio
  and appends a gap to the track it is given when that ends in a transition: it gets a copy
  holding the picture as seen (the video tracks flattened).
- The FCP 7 writer fails on a reference with no available range (what EDLs give): one is
  set from the media's start to the clip's out point.
- Relative media paths mean nothing to an NLE: URLs are made absolute ``file://`` URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import opentimelineio as otio

from reelpoet.editor_plugin import media_paths, provenance
from reelpoet.editor_plugin.errors import ExportError, OverwriteRefusedError
from reelpoet.sdk.atomic_file import atomic_output

# format -> (adapter, suffix, writer options)
FORMATS = {
    "edl": ("cmx_3600", ".edl", {}),
    "fcp7": ("fcp_xml", ".xml", {}),
    "fcpx": ("fcpx_xml", ".fcpxml", {}),
    "aaf": ("AAF", ".aaf", {"use_empty_mob_ids": True}),
}
SIDECAR_SUFFIX = ".reelpoet.otio"


@dataclass(frozen=True)
class ExportReport:
    path: Path
    sidecar: Path
    replaced_by_gaps: list[str] = field(default_factory=list)  # clips with nothing to export
    notes: list[str] = field(default_factory=list)


def format_for(path: Path) -> str:
    for name, (_, suffix, _) in FORMATS.items():
        if path.suffix.lower() == suffix:
            return name
    raise ExportError(f"export as {', '.join(s for _, s, _ in FORMATS.values())}, not {path}")


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def export_timeline(
    timeline: otio.schema.Timeline,
    base_dir: Path,
    path: str | Path,
    fmt: str | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Write ``timeline`` (media URLs read from ``base_dir``) as ``fmt`` (default: from the
    suffix), plus its .otio sidecar. Existing files are replaced only with ``overwrite``."""
    path = Path(path).resolve()
    fmt = fmt or format_for(path)
    adapter, _, options = FORMATS[fmt]
    sidecar = sidecar_path(path)
    for target in (path, sidecar):
        if target.exists() and not overwrite:
            raise OverwriteRefusedError(f"{target} exists; confirm to replace it")
    full = timeline.deepcopy()
    media_paths.absolute_urls(full, base_dir)
    out = full.deepcopy()
    gaps = _placeholders_to_gaps(out)
    _give_media_a_range(out)
    notes = []
    if fmt == "edl":
        out, notes = _picture_cut(out)
    _write(out, path, adapter, options)
    _write(full, sidecar, "otio_json", {})
    return ExportReport(path, sidecar, gaps, notes)


def _write(timeline, path: Path, adapter: str, options: dict) -> None:
    try:
        with atomic_output(path) as temp:
            otio.adapters.write_to_file(timeline, str(temp), adapter_name=adapter, **options)
    except otio.exceptions.OTIOError as exc:
        raise ExportError(f"the {adapter} writer refused {path.name}: {exc}") from exc


def _placeholders_to_gaps(timeline: otio.schema.Timeline) -> list[str]:
    """Replace clips without real media (generator, missing) by gaps; returns their names."""
    names = []
    for clip in list(timeline.find_clips()):
        if isinstance(clip.media_reference, otio.schema.ExternalReference):
            continue
        parent = clip.parent()
        index = list(parent).index(clip)
        parent[index] = otio.schema.Gap(source_range=clip.trimmed_range())
        names.append(clip.name)
    return names


def _give_media_a_range(timeline: otio.schema.Timeline) -> None:
    """References read from an EDL have no available range, and the FCP 7 writer fails on one
    without (AttributeError on None.start_time): give it the media from 0 to the clip's out."""
    for clip in timeline.find_clips():
        reference = clip.media_reference
        if reference.available_range is None:
            end = clip.trimmed_range().end_time_exclusive()
            start = otio.opentime.RationalTime(0, end.rate)
            reference.available_range = otio.opentime.TimeRange(start, end)


def _picture_cut(timeline: otio.schema.Timeline) -> tuple[otio.schema.Timeline, list[str]]:
    """One video track: what the video tracks show, top track winning (an EDL's picture)."""
    video = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
    notes = []
    if len(timeline.tracks) > len(video):
        notes.append("EDL: audio tracks are not written (use FCP 7 XML, FCPX XML or AAF)")
    if not video:
        raise ExportError("an EDL needs a video track; this timeline has none")
    flat = otio.algorithms.flatten_stack(video) if len(video) > 1 else video[0].deepcopy()
    if len(video) > 1:
        notes.append(f"EDL: {len(video)} video tracks flattened into one picture track")
    cut = otio.schema.Timeline(name=timeline.name, global_start_time=timeline.global_start_time)
    cut.tracks.append(flat)
    return cut, notes


def read_back(path: str | Path) -> otio.schema.Timeline:
    """An exported file read with its adapter, with provenance recovered from the sidecar."""
    path = Path(path)
    adapter = FORMATS[format_for(path)][0]
    timeline = otio.adapters.read_from_file(str(path), adapter_name=adapter)
    restore_provenance(timeline, path)
    return timeline


def restore_provenance(timeline: otio.schema.Timeline, path: Path) -> int:
    """Put back the generation records an NLE format dropped, from the sidecar an export wrote
    beside `path`; returns how many clips got theirs (0 without a readable sidecar: the NLE file
    still opens, as any other)."""
    sidecar = sidecar_path(Path(path))
    if not sidecar.is_file():
        return 0
    try:
        full = otio.adapters.read_from_file(str(sidecar), adapter_name="otio_json")
    except Exception:  # a damaged or foreign sidecar must not stop the timeline from opening
        return 0
    return provenance.recover(timeline, full) if isinstance(full, otio.schema.Timeline) else 0
