"""Readers of MySQL's binary row formats, one built per column from its table-map metadata.

Each reader is `(data, pos) -> value` over a fixed number of bytes (`Fixed.width`). The values are
what the envelope holds (see `values.py`): they are exactly mysql-replication's values after our
converters, so that `envelope.encode` writes the same bytes. Where the library's arithmetic is
quirky (signed fractional seconds, YEAR 0 as 1900, an empty SET as NULL, TIME2's negative
encoding) it is copied, not corrected: the two decoders must agree byte for byte.

Formats (https://dev.mysql.com/doc/dev/mysql-server/latest/, "binary log / row event"):

    NEWDECIMAL  big-endian groups of 9 digits in 4 bytes (leading/trailing partial groups in
                1-4 bytes), sign in the top bit (set = positive; negative values are inverted)
    DATETIME2   5 bytes big-endian: sign, year*13+month (17), day (5), hour (5), min, sec (6 each)
    TIMESTAMP2  4 bytes big-endian epoch seconds;  TIME2: 3 bytes (sign, hour 10, min 6, sec 6)
    fractional  0-3 more bytes big-endian for fsp 1-2 / 3-4 / 5-6, signed, in 10^(6-fsp) units
    DATE        3 bytes little-endian: year (15) month (4) day (5)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from headwater.contracts.cdc import format_duration

Reader = Callable[[bytes, int], Any]

_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
_EPOCH = dt.datetime(1970, 1, 1)
_SET_CACHE = 1024  # distinct member combinations remembered per SET column


@dataclass(frozen=True, slots=True)
class Fixed:
    """A fixed-width value: `read(data, pos)` over `width` bytes (`read(data, pos)[0]` when
    `unpack`: a `struct` unpacker, called without a wrapper)."""

    width: int
    read: Reader
    unpack: bool = False


def _fsp_width(fsp: int) -> int:
    return (fsp + 1) // 2


def _fsp_micros(data: bytes, pos: int, width: int, fsp: int) -> int:
    """The library's `__read_fsp`: signed big-endian, odd fsp truncated towards zero."""
    raw = int.from_bytes(data[pos : pos + width], "big", signed=True)
    if fsp % 2:
        raw = int(raw / 10)
    return raw * 10 ** (6 - fsp)


def new_decimal(precision: int, scale: int) -> Fixed:
    """DECIMAL(precision, scale) as the exact text `format(Decimal(...), "f")` gives."""
    intg = precision - scale
    digits = ([intg % 9] if intg % 9 else []) + [9] * (intg // 9)
    frac_digits = [9] * (scale // 9) + ([scale % 9] if scale % 9 else [])
    sizes = [_DIG2BYTES[d] for d in digits + frac_digits]
    width = sum(sizes)
    groups, shift = [], 8 * width
    for size, count in zip(sizes, digits + frac_digits, strict=True):
        shift -= 8 * size
        groups.append((shift, (1 << (8 * size)) - 1, 10**count))
    whole_of = _digits_value(groups[: len(digits)])
    frac_of = _digits_value(groups[len(digits) :])
    sign = 1 << (8 * width - 1)
    mask = (1 << (8 * width)) - 1
    frac_format = f"0{scale}d"

    def read(data: bytes, pos: int) -> str:
        x = int.from_bytes(data[pos : pos + width], "big") ^ sign
        negative = x & sign  # the sign bit is set for positive values
        if negative:
            x ^= mask
        text = f"-{whole_of(x)}" if negative else str(whole_of(x))
        return f"{text}.{frac_of(x):{frac_format}}" if scale else text

    return Fixed(width, read)


def _digits_value(groups: list[tuple[int, int, int]]) -> Callable[[int], int]:
    """The number written by `groups` (shift, bits, 10**digits) of a decimal's bits; one and
    two groups (up to 18 digits), the usual sizes, without a loop."""
    if not groups:
        return lambda x: 0
    if len(groups) == 1:
        ((shift, bits, _),) = groups
        return lambda x: (x >> shift) & bits
    if len(groups) == 2:
        (s0, b0, _), (s1, b1, base1) = groups
        return lambda x: ((x >> s0) & b0) * base1 + ((x >> s1) & b1)

    def value(x: int) -> int:
        n = 0
        for shift, bits, base in groups:
            n = n * base + ((x >> shift) & bits)
        return n

    return value


def datetime2(fsp: int) -> Fixed:
    """DATETIME2(fsp) as a naive datetime (None for zero or invalid dates, as the library)."""
    extra = _fsp_width(fsp)
    datetime = dt.datetime

    def read(data: bytes, pos: int) -> dt.datetime | None:
        v = int.from_bytes(data[pos : pos + 5], "big")
        ym = (v >> 22) & 0x1FFFF
        try:
            t = datetime(ym // 13, ym % 13, (v >> 17) & 31, (v >> 12) & 31, (v >> 6) & 63, v & 63)
        except ValueError:
            return None
        if extra:
            micros = _fsp_micros(data, pos + 5, extra, fsp)
            if micros > 0:
                return t.replace(microsecond=micros)
        return t

    return Fixed(5 + extra, read)


def timestamp2(fsp: int) -> Fixed:
    """TIMESTAMP2(fsp): UTC in the binlog, written as ISO-8601 with a `Z` (values._utc)."""
    extra = _fsp_width(fsp)
    delta = dt.timedelta

    def read(data: bytes, pos: int) -> str:
        t = _EPOCH + delta(seconds=int.from_bytes(data[pos : pos + 4], "big", signed=True))
        if extra:
            micros = _fsp_micros(data, pos + 4, extra, fsp)
            if micros > 0:
                t = t.replace(microsecond=micros)
        return t.isoformat() + "Z"

    return Fixed(4 + extra, read)


def time2(fsp: int) -> Fixed:
    """TIME2(fsp) as `[-]HH:MM:SS[.ffffff]`, through the library's timedelta arithmetic."""
    extra = _fsp_width(fsp)

    def read(data: bytes, pos: int) -> str:
        v = int.from_bytes(data[pos : pos + 3], "big", signed=True)
        sign = 1 if (v >> 23) & 1 else -1
        if sign == -1:
            v = ~v + 1
        micros = _fsp_micros(data, pos + 3, extra, fsp) if extra else 0
        t = dt.timedelta(
            hours=(v >> 12) & 0x3FF, minutes=(v >> 6) & 63, seconds=v & 63, microseconds=micros
        )
        return format_duration(t * sign)

    return Fixed(3 + extra, read)


def date(data: bytes, pos: int) -> dt.date | None:
    """DATE (3 bytes): None for a zero part, as the library."""
    v = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
    year, month, day = (v >> 9) & 0x7FFF, (v >> 5) & 15, v & 31
    if not (year and month and day):
        return None
    return dt.date(year, month, day)


def enum(size: int, values: Sequence[str] | None) -> Fixed:
    """ENUM: its label (index 0 is the empty string of an invalid value)."""
    labels = list(values) if values else None

    def read(data: bytes, pos: int) -> str | None:
        index = int.from_bytes(data[pos : pos + size], "little")
        return labels[index] if labels is not None else None

    return Fixed(size, read)


def set_(size: int, values: Sequence[str] | None) -> Fixed:
    """SET: its members sorted and comma-joined (values._set); no member is NULL."""
    members = list(values or ())
    seen: dict[int, str | None] = {}

    def read(data: bytes, pos: int) -> str | None:
        bits = int.from_bytes(data[pos : pos + size], "little")
        try:
            return seen[bits]
        except KeyError:
            chosen = {v for i, v in enumerate(members) if bits & (1 << i)}
            text = ",".join(sorted(chosen)) if chosen else None
            if len(seen) < _SET_CACHE:
                seen[bits] = text
            return text

    return Fixed(size, read)


def bit(bits: int) -> Fixed:
    """BIT(n): the string of its n bits, most significant first."""
    width, keep, spec = (bits + 7) // 8, (1 << bits) - 1, f"0{bits}b"

    def read(data: bytes, pos: int) -> str:
        return format(int.from_bytes(data[pos : pos + width], "big") & keep, spec)

    return Fixed(width, read)
