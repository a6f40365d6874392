"""Client timestamps to integer milliseconds since the Unix epoch (UTC).

Accepted: ISO-8601 date-times as `datetime.fromisoformat` reads them (JavaScript's
`toISOString()`, "2012-12-02T00:30:08.276Z", is the common case and costs ~0.3 µs); a lenient
form of the same with one-digit fields, a space for the "T" and "+hhmm" offsets
("2015-2-02T00:30:08.276Z" appears in Segment's own batch example); a string of digits or a
number, read as epoch milliseconds (a string of digits is never read as ISO's basic format:
"1701121212000" is not 1701-12-12T12:00). A date-time without an offset is UTC. Fractions of a
millisecond are truncated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
MILLISECOND = timedelta(milliseconds=1)
#: the range of `datetime`: 0001-01-01 to 9999-12-31T23:59:59.999Z
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999

_LENIENT = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[Tt ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?\s*",
    re.ASCII,
)
_from_iso = datetime.fromisoformat


class BadTimestamp(ValueError):
    """Not a date-time or epoch milliseconds; the message says what was expected."""


def epoch_ms(value: object) -> int:
    """`value` (a JSON string or number) as epoch milliseconds, or BadTimestamp."""
    if type(value) is str:
        if value.isdigit() and value.isascii():  # never ISO's basic format: 20240501 is no date
            # int() of thousands of digits is slow (or refused): 17 digits are out of range
            return _number_ms(int(value) if len(value) <= 16 else MAX_MS + 1, value)
        try:
            dt = _from_iso(value)
        except ValueError:
            dt = _lenient(value)
        return (dt - (_EPOCH_NAIVE if dt.tzinfo is None else EPOCH)) // MILLISECOND
    if type(value) is int or type(value) is float:
        return _number_ms(value, value)
    raise BadTimestamp(f"must be a string or number, got {json_type(value)}")


def _number_ms(number: float, shown: object) -> int:
    if not MIN_MS <= number <= MAX_MS:  # also false for NaN
        raise BadTimestamp(f"is out of range for epoch milliseconds: {_show(shown)}")
    return int(number)


def _lenient(text: str) -> datetime:
    match = _LENIENT.fullmatch(text) if len(text) <= 64 else None
    if match is None:
        raise BadTimestamp(f"is not an ISO-8601 date-time or epoch milliseconds: {_show(text)}")
    y, mo, d, h, mi, s, frac, z, sign, oh, om = match.groups()
    try:
        tz = None
        if z is not None:
            tz = UTC
        elif sign is not None:
            if int(oh) > 23 or int(om or 0) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(oh), minutes=int(om or 0))
            tz = timezone(-offset if sign == "-" else offset)
        micros = int((frac or "0")[:6].ljust(6, "0"))
        return datetime(
            int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micros, tzinfo=tz
        )
    except ValueError as exc:  # month 13, offset of 24 h, ...
        raise BadTimestamp(f"is not a valid date-time ({exc}): {_show(text)}") from None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


_JSON_TYPES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
