"""epoch_ms: client timestamps to epoch milliseconds."""

from __future__ import annotations

import pytest

from headwater.sources.clickstream.parse.timestamps import BadTimestamp, epoch_ms

T = 1_354_408_208_276  # 2012-12-02T00:30:08.276Z


@pytest.mark.parametrize(
    "value",
    [
        "2012-12-02T00:30:08.276Z",  # JavaScript's toISOString
        "2012-12-02T00:30:08.276+00:00",
        "2012-12-02T01:30:08.276+01:00",
        "2012-12-01T19:30:08.276-05:00",
        "2012-12-02T00:30:08.276",  # no offset: UTC
        "2012-12-02 00:30:08.276Z",
        "2012-12-02T00:30:08.276999Z",  # fractions of a millisecond are truncated
        "2012-12-02T00:30:08.2769999Z",
        "2012-12-02t00:30:08.276z",
        "2012-12-2T0:30:08.276Z",  # one-digit fields, as in Segment's batch example
        "2012-12-02T01:30:08,276+0100",
        "2012-12-02T00:30:08.276+00",
        T,
        float(T),
        T + 0.9,
        str(T),
    ],
)
def test_accepted_forms(value):
    assert epoch_ms(value) == T


def test_date_only_and_minutes_only():
    assert epoch_ms("2012-12-02") == 1_354_406_400_000
    assert epoch_ms("2012-12-2") == 1_354_406_400_000
    assert epoch_ms("2012-12-02T00:30Z") == 1_354_408_200_000


def test_digits_are_epoch_milliseconds_even_when_they_could_be_a_basic_format_date():
    assert epoch_ms("1701121212000") == 1_701_121_212_000  # not 1701-12-12T12:00
    assert epoch_ms("20240501") == 20_240_501


def test_before_1970_is_negative():
    assert epoch_ms("1969-12-31T23:59:59.999Z") == -1


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is not an ISO-8601 date-time or epoch milliseconds: ''"),
        ("now", "is not an ISO-8601 date-time or epoch milliseconds: 'now'"),
        ("2012-13-02", "is not a valid date-time (month must be in 1..12): '2012-13-02'"),
        (
            "2012-12-02T00:30+2400",
            "is not a valid date-time (offset out of range): '2012-12-02T00:30+2400'",
        ),
        ("9" * 17, "is out of range for epoch milliseconds: '99999999999999999'"),
        (1e300, "is out of range for epoch milliseconds: 1e+300"),
        (-1e300, "is out of range for epoch milliseconds: -1e+300"),
        (float("nan"), "is out of range for epoch milliseconds: nan"),
        ("x" * 100, "is not an ISO-8601 date-time or epoch milliseconds: '" + "x" * 56 + "..."),
        (None, "must be a string or number, got null"),
        (True, "must be a string or number, got boolean"),
        ({}, "must be a string or number, got object"),
    ],
)
def test_refused_with_a_reason(value, reason):
    with pytest.raises(BadTimestamp) as caught:
        epoch_ms(value)
    assert str(caught.value) == reason


def test_long_digit_strings_and_whitespace_are_cheap():
    for value in ("1" * 100_000, "2024-01-01" + " " * 30_000 + "x"):
        with pytest.raises(BadTimestamp):
            epoch_ms(value)
