"""One action on a timeline file, saved as a new timeline: what the CLI's ``--timeline`` mode
runs (``reelpoet extend --timeline cut.otio --clip Clip-001 --seconds 2 -o cut_extended.otio``).

Qt-free, on the same model layer as the panel: find the clip by name, ``actions.prepare``,
``render``, ``place``, then save. The input file is never written: the output must be another
.otio or .otioz, and an existing one is replaced only when asked. Results are rendered into
``<output stem>_media/`` beside the output, so the new timeline and its media move together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from reelpoet.editor_plugin import actions, media_paths
from reelpoet.editor_plugin.actions import ActionRequest
from reelpoet.editor_plugin.edits import ItemRef, find_clip
from reelpoet.editor_plugin.errors import OverwriteRefusedError, UnsupportedTimelineError
from reelpoet.editor_plugin.timeline_document import SAVE_ADAPTERS, TimelineDocument
from reelpoet.sdk.errors import InvalidRequestError


@dataclass(frozen=True)
class Outcome:
    output: Path  # the new timeline
    placed: ItemRef  # where the result went in it
    name: str  # the placed clip's name
    frames: int  # its length at the timeline's rate
    rate: float
    media: list[Path]  # the rendered files (one a variant)


def run_on_timeline(
    timeline: str | Path,
    clip: str,
    output: str | Path,
    client,
    overwrite: bool = False,
    progress=None,
    **options,
) -> Outcome:
    """Run the action ``options`` describe (``task`` plus ``ActionRequest`` fields: seconds,
    head, box, mask, aspect, prompt, seed, ...) on the clip called ``clip`` in ``timeline``,
    and save the timeline with its result placed to ``output``."""
    source, target = Path(timeline).resolve(), Path(output).resolve()
    _check_paths(source, target, overwrite)
    document = TimelineDocument.open(source)
    request = ActionRequest(target=find_clip(document.timeline, clip), **options)
    job = actions.prepare(document, request)
    job = dataclasses.replace(job, out_dir=target.parent / f"{target.stem}_media")
    rendered = actions.render(job, client, progress)
    placed = actions.place(document, rendered)
    document.save(target, overwrite=overwrite)
    item = placed.item(document.timeline)
    return Outcome(
        target,
        placed,
        item.name,
        round(item.duration().value),
        item.duration().rate,
        [path for path, _ in rendered.files],
    )


def _check_paths(source: Path, target: Path, overwrite: bool) -> None:
    """Refuse before any work: a missing input, an output that is the input (never replaced,
    even with ``overwrite``), an output that exists unasked, or one in a format we do not save."""
    if not source.is_file():
        raise InvalidRequestError(f"{source} does not exist")
    if target == source:
        raise OverwriteRefusedError(
            f"-o is the input timeline {source.name}; it is never replaced: write a new file"
        )
    if target.suffix.lower() not in SAVE_ADAPTERS:
        raise UnsupportedTimelineError(
            f"the output timeline is .otio or .otioz, not {target.suffix or target.name!r}"
        )
    if target.exists() and not overwrite:
        raise OverwriteRefusedError(f"{target} exists; pass --overwrite to replace it")


def describe(outcome: Outcome, base_dir: Path | None = None) -> str:
    """One line for the CLI: what was placed where, and where its media went."""
    folder = outcome.media[0].parent if outcome.media else None
    where = media_paths.media_url(folder, base_dir or outcome.output.parent) if folder else "-"
    return (
        f"wrote {outcome.output}: {outcome.name!r} ({outcome.frames} frames at "
        f"{outcome.rate:g} fps) on track {outcome.placed.track + 1}, item "
        f"{outcome.placed.index + 1}; media in {where}/"
    )
