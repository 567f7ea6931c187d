"""Where results go on a timeline: the edit functions ``TimelineDocument.apply`` runs.

Items are addressed by ``ItemRef`` (track index, item index) rather than by object, because undo
restores a new copy of the timeline and indices stay valid across it. Each function either
completes or raises ``PlacementError`` before changing anything it cannot finish (and
``apply`` restores the timeline on any error).
"""

from __future__ import annotations

from dataclasses import dataclass

import opentimelineio as otio

from reelpoet.editor_plugin import provenance
from reelpoet.editor_plugin.errors import PlacementError

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange


@dataclass(frozen=True)
class ItemRef:
    track: int
    index: int

    def item(self, timeline: otio.schema.Timeline):
        try:
            return timeline.tracks[self.track][self.index]
        except IndexError:
            raise PlacementError(f"no item {self.index} on track {self.track}") from None


def fingerprint(item) -> str:
    """What an item is, to check it is still the one an action started from."""
    return f"{type(item).__name__}|{item.name}|{item.trimmed_range()}"


def find_clip(timeline: otio.schema.Timeline, name: str) -> ItemRef:
    """The first clip called ``name`` (track order, then time order)."""
    for t, track in enumerate(timeline.tracks):
        for i, item in enumerate(track):
            if isinstance(item, otio.schema.Clip) and item.name == name:
                return ItemRef(t, i)
    raise PlacementError(f"no clip named {name!r} in {timeline.name!r}")


def place_extension(
    timeline: otio.schema.Timeline,
    ref: ItemRef,
    clip: otio.schema.Clip,
    head: bool,
    new_track: bool,
) -> ItemRef:
    """The extension right before (``head``) or after its clip: inserted on the same track
    (later items move along, as an NLE insert edit does), or on a free video track above
    at the same time when ``new_track``."""
    source = ref.item(timeline)
    if not new_track:
        index = ref.index if head else ref.index + 1
        timeline.tracks[ref.track].insert(index, clip)
        return ItemRef(ref.track, index)
    span = source.range_in_parent()
    start = span.start_time - clip.duration() if head else span.end_time_exclusive()
    if start.value < 0:  # a head extension longer than the time before the clip: keep its end
        kept = clip.trimmed_range()
        cut = -start
        clip.source_range = TimeRange(kept.start_time + cut, kept.duration - cut)
        start = RationalTime(0, start.rate)
    return _place_on_free_track(timeline, clip, start, ref.track, source.parent().kind)


def place_layer(timeline: otio.schema.Timeline, ref: ItemRef, clip: otio.schema.Clip) -> ItemRef:
    """A reworked version of a clip (inpainted, outpainted, stylized) on a free video track
    above it, at the same time: the original stays, the layer covers it."""
    start = ref.item(timeline).range_in_parent().start_time
    return _place_on_free_track(timeline, clip, start, ref.track, otio.schema.TrackKind.Video)


def place_score(timeline: otio.schema.Timeline, ref: ItemRef, clip: otio.schema.Clip) -> ItemRef:
    """A soundtrack on the first audio track free over its clip's time, else a new one."""
    start = ref.item(timeline).range_in_parent().start_time
    return _place_on_free_track(timeline, clip, start, -1, otio.schema.TrackKind.Audio)


def fill_gap(timeline: otio.schema.Timeline, ref: ItemRef, clip: otio.schema.Clip) -> ItemRef:
    """The clip at the start of a gap; trimmed to the gap if longer."""
    gap = ref.item(timeline)
    if not isinstance(gap, otio.schema.Gap):
        raise PlacementError(f"item {ref.index} on track {ref.track} is not a gap")
    span = gap.range_in_parent()
    if clip.duration() > span.duration:
        clip.source_range = TimeRange(clip.trimmed_range().start_time, span.duration)
    track = timeline.tracks[ref.track]
    return ItemRef(ref.track, place_free(track, span.start_time, clip))


def place_free(track: otio.schema.Track, start: RationalTime, clip: otio.schema.Clip) -> int:
    """Put ``clip`` at ``start`` where the track has only gaps (or nothing) for its length;
    returns its index."""
    end = start + clip.duration()
    if not is_free(track, start, end):
        raise PlacementError(f"track {track.name!r} is not free from {start} to {end}")
    if start >= track.duration():
        if start > track.duration():
            track.append(otio.schema.Gap(duration=start - track.duration()))
        track.append(clip)
        return len(track) - 1
    # the gaps it covers (more than one when gaps stand side by side) make way for it
    covered = [i for i, item in enumerate(track) if _overlaps(item.range_in_parent(), start, end)]
    first = track[covered[0]].range_in_parent().start_time
    last = track[covered[-1]].range_in_parent().end_time_exclusive()
    for index in reversed(covered):
        del track[index]
    pieces = [otio.schema.Gap(duration=start - first), clip, otio.schema.Gap(duration=last - end)]
    kept = [p for p in pieces if p is clip or p.duration().value > 0]
    for offset, piece in enumerate(kept):
        track.insert(covered[0] + offset, piece)
    return covered[0] + kept.index(clip)


def is_free(track: otio.schema.Track, start: RationalTime, end: RationalTime) -> bool:
    """Whether only gaps (or nothing) lie on ``track`` over ``[start, end)``."""
    return not any(
        _overlaps(item.range_in_parent(), start, end) and not isinstance(item, otio.schema.Gap)
        for item in track
    )


def _overlaps(span: TimeRange, start: RationalTime, end: RationalTime) -> bool:
    return span.start_time < end and start < span.end_time_exclusive()


def _place_on_free_track(timeline, clip, start, after: int, kind: str) -> ItemRef:
    """On the first track of ``kind`` after index ``after`` free over the clip's time, else
    on a new track of that kind on top."""
    end = start + clip.duration()
    for t, track in enumerate(timeline.tracks):
        if t > after and track.kind == kind and is_free(track, start, end):
            return ItemRef(t, place_free(track, start, clip))
    count = sum(1 for t in timeline.tracks if t.kind == kind)
    track = otio.schema.Track(name=f"{kind[0]}{count + 1} reelpoet", kind=kind)
    timeline.tracks.append(track)
    return ItemRef(len(timeline.tracks) - 1, place_free(track, start, clip))


def add_variants(
    timeline: otio.schema.Timeline, ref: ItemRef, references: dict[str, otio.schema.MediaReference]
) -> ItemRef:
    """More variants on a generated clip (the first new one active); each must cover the part
    of its media the clip plays, so the clip's timing stays as it is."""
    clip = ref.item(timeline)
    end = clip.trimmed_range().end_time_exclusive()
    for key, reference in references.items():
        if reference.available_range.end_time_exclusive() < end:
            raise PlacementError(f"variant {key} is shorter than {clip.name!r} plays")
    try:
        provenance.add_variants(clip, references)
    except KeyError as exc:
        raise PlacementError(str(exc)) from None
    return ref


def set_variant(timeline: otio.schema.Timeline, ref: ItemRef, key: str) -> None:
    provenance.set_active(ref.item(timeline), key)
