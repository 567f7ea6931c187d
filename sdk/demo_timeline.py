"""The demo's OpenTimelineIO timeline: the sample clip, its generated extension right after it,
then the clip generated from the prompt, each generated clip carrying how it was made under a
`reelpoet` metadata key (task, prompt, seed, bundle id) so it can be regenerated."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from reelpoet.sdk.atomic_file import atomic_output
from reelpoet.sdk.media import probe


def _clip(
    name: str, path: Path, duration_s: float, rate: float, metadata: dict | None
) -> otio.schema.Clip:
    frames = round(duration_s * rate)
    available = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)
    )
    reference = otio.schema.ExternalReference(target_url=path.name, available_range=available)
    clip = otio.schema.Clip(name=name, media_reference=reference, source_range=available)
    if metadata:
        clip.metadata["reelpoet"] = metadata
    return clip


def write_demo_timeline(
    path: Path, sample: Path, extension, extension_path: Path, generated, generated_path: Path
) -> Path:
    """Write the timeline to `path` (atomically); media paths are relative to its folder."""
    info = probe(sample)
    rate = float(info.video.fps)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.append(_clip(sample.stem, sample, info.duration_s, rate, None))
    track.append(_clip("extension", extension_path, extension.duration_s, rate, extension.metadata))
    track.append(
        _clip(
            "generated",
            generated_path,
            generated.duration_s,
            float(generated.fps),
            generated.metadata,
        )
    )
    timeline = otio.schema.Timeline(name="reelpoet demo")
    timeline.tracks.append(track)
    with atomic_output(path) as temp:
        otio.adapters.write_to_file(timeline, str(temp), adapter_name="otio_json")
    return path
