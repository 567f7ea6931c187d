"""Time values and ranges: exact conversion and validation."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from reelpoet.sdk.errors import InvalidRequestError, InvalidTimeRangeError
from reelpoet.sdk.media.timerange import resolve_range, to_seconds

END = Fraction(10)


def test_float_seconds_become_exact_fractions():
    assert to_seconds(0.1) == Fraction(1, 10)
    assert to_seconds(1001 / 30000 * 7) == Fraction(7 * 1001, 30000)


def test_rational_time_at_2997_is_exact():
    # OTIO stores 29.97 as the float nearest 30000/1001; the conversion must recover it.
    assert to_seconds(RationalTime(30, 30000 / 1001)) == Fraction(30 * 1001, 30000)
    assert to_seconds(RationalTime(48, 24)) == Fraction(2)


def test_time_range_is_start_plus_duration():
    span = resolve_range(TimeRange(RationalTime(50, 25), RationalTime(25, 25)), END, "f")
    assert (span.start, span.end) == (Fraction(2), Fraction(3))


def test_no_range_is_whole_media_and_end_is_clipped():
    assert resolve_range(None, END, "f").end == END
    assert resolve_range((9.0, 20.0), END, "f").end == END


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ((-1.0, 2.0), "negative"),
        ((3.0, 2.0), "reversed or empty"),
        ((2.0, 2.0), "reversed or empty"),
        ((10.0, 11.0), "past the end"),
        ((12.0, 13.0), "past the end"),
    ],
)
def test_bad_ranges_raise_invalid_time_range(bounds, message):
    with pytest.raises(InvalidTimeRangeError, match=message):
        resolve_range(bounds, END, "f")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_times_raise_invalid_request(bad):
    with pytest.raises(InvalidRequestError, match="finite"):
        resolve_range((0.0, bad), END, "f")


def test_malformed_range_is_rejected():
    with pytest.raises(InvalidTimeRangeError, match=r"\(start, end\)"):
        resolve_range((1.0, 2.0, 3.0), END, "f")  # type: ignore[arg-type]
