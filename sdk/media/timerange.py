"""Time values and ranges: user input (float seconds, RationalTime, TimeRange) to exact Fractions.

Every timestamp inside this package is a ``fractions.Fraction`` of seconds so that frame
boundaries such as ``k * 1001/30000`` compare exactly; floats only appear at the API edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from opentimelineio.opentime import RationalTime, TimeRange

from reelpoet.sdk.errors import InvalidRequestError, InvalidTimeRangeError

TimeLike = float | int | Fraction | RationalTime
TimeRangeLike = tuple[TimeLike, TimeLike] | TimeRange

# Float seconds are read as the nearest fraction with a denominator up to this: 1 µs resolution
# for arbitrary values, and exact for every common frame duration (1/24, 1001/30000, 1/48000...).
_TIME_DENOMINATOR = 1_000_000
# OTIO stores rates as floats (29.97 as 30000/1001 rounded); 1001-style rates have small
# denominators, so this recovers them exactly without inventing precision.
_RATE_DENOMINATOR = 100_000
# Bounds that land within this of a frame timestamp count as on it (float inputs are inexact).
SNAP_S = Fraction(1, 1_000_000)


@dataclass(frozen=True)
class Span:
    """A resolved ``[start, end)`` in seconds from the media's first frame; ``end > start``."""

    start: Fraction
    end: Fraction

    @property
    def duration(self) -> Fraction:
        return self.end - self.start


def finite_fraction(value: float | Fraction, what: str, denominator: int) -> Fraction:
    """``value`` as an exact Fraction; NaN, inf and non-numbers are an InvalidRequestError."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InvalidRequestError(f"{what} must be a finite number, got {value!r}")
    return Fraction(value).limit_denominator(denominator)


def to_seconds(value: TimeLike, what: str = "time") -> Fraction:
    """Seconds as an exact Fraction, from float/int/Fraction seconds or an OTIO RationalTime."""
    if isinstance(value, RationalTime):
        rate = finite_fraction(value.rate, f"{what} rate", _RATE_DENOMINATOR)
        if rate <= 0:
            raise InvalidTimeRangeError(f"{what} has a non-positive rate {value.rate}")
        return finite_fraction(value.value, what, _TIME_DENOMINATOR) / rate
    return finite_fraction(value, what, _TIME_DENOMINATOR)


def _bounds(time_range: TimeRangeLike) -> tuple[Fraction, Fraction]:
    if isinstance(time_range, TimeRange):
        start = to_seconds(time_range.start_time, "range start")
        return start, start + to_seconds(time_range.duration, "range duration")
    if not isinstance(time_range, (tuple, list)) or len(time_range) != 2:
        raise InvalidTimeRangeError(
            f"a time range must be (start, end) in seconds or an OTIO TimeRange, got {time_range!r}"
        )
    return to_seconds(time_range[0], "range start"), to_seconds(time_range[1], "range end")


def resolve_range(time_range: TimeRangeLike | None, media_end: Fraction, path: object) -> Span:
    """Check ``time_range`` against media lasting ``media_end`` s; clip the end to the media.

    A range reaching past the end is clipped (asking for "up to 10 s" of a 9 s file is normal);
    a range starting at or past the end is an error because it cannot contain anything.
    """
    if time_range is None:
        return Span(Fraction(0), media_end)
    start, end = _bounds(time_range)
    if start < 0:
        raise InvalidTimeRangeError(f"range start {float(start)} s is negative; times start at 0")
    if end <= start:
        raise InvalidTimeRangeError(
            f"range [{float(start)}, {float(end)}) s is reversed or empty; use start < end"
        )
    if start >= media_end - SNAP_S:
        raise InvalidTimeRangeError(
            f"range starts at {float(start)} s, past the end of {path} "
            f"({float(media_end):.3f} s long)"
        )
    return Span(start, min(end, media_end))
