"""A MySQL tokenizer for dump files: bytes in, (kind, value, offset) tokens out.

One master regular expression with a named group per token kind, applied with `finditer` (the
classic scanner), so each value is recognised by the grammar of its kind, not by ad-hoc splitting.
Strings stay bytes: mysqldump writes BLOB contents raw unless run with --hex-blob, so a dump is not
necessarily valid UTF-8 as a whole. A quote with no closing quote is a BAD token, which the caller
reads as "this statement continues on the next line" or, at the end of the file, as an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple


class Token(NamedTuple):
    kind: str  # WS COMMENT STRING DQSTRING NUMBER HEX BITS IDENT QIDENT PUNCT BAD
    value: bytes
    offset: int


_TOKEN = re.compile(
    rb"""
    (?P<WS>\s+)
  | (?P<COMMENT>--[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<STRING>'(?:[^'\\]|\\.|'')*')
  | (?P<DQSTRING>"(?:[^"\\]|\\.|"")*")
  | (?P<HEX>0x[0-9A-Fa-f]+|[xX]'[0-9A-Fa-f]*')
  | (?P<BITS>0b[01]+|[bB]'[01]*')
  | (?P<NUMBER>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<QIDENT>`(?:[^`]|``)*`)
  | (?P<IDENT>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<PUNCT>[(),;.=@:*])
  | (?P<BAD>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {
    b"0": b"\x00",
    b"b": b"\x08",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"Z": b"\x1a",
    b"%": b"\\%",
    b"_": b"\\_",
}
_ESCAPE = re.compile(rb"\\(.)|''|\"\"", re.DOTALL)


def tokens(text: bytes, start: int = 0) -> Iterator[Token]:
    """All tokens but whitespace and comments, in order."""
    for match in _TOKEN.finditer(text, start):
        kind = match.lastgroup
        assert kind is not None
        if kind not in ("WS", "COMMENT"):
            yield Token(kind, match.group(), match.start())


def _unescape_one(match: re.Match[bytes]) -> bytes:
    char = match.group(1)
    if char is None:
        return match.group()[:1]
    return _ESCAPES.get(char, char)


def string_value(token: Token) -> bytes:
    """The bytes a quoted string literal stands for (MySQL escapes, doubled quotes)."""
    return unescape(token.value[1:-1])


def unescape(body: bytes) -> bytes:
    """A string literal's body (between the quotes) → the bytes it stands for."""
    if b"\\" not in body and b"''" not in body and b'""' not in body:
        return body
    return _ESCAPE.sub(_unescape_one, body)


def hex_value(token: Token) -> bytes:
    value = token.value
    digits = value[2:] if value[:2] == b"0x" else value[2:-1]
    if len(digits) % 2:
        digits = b"0" + digits  # MySQL reads 0x4 as 0x04
    return bytes.fromhex(digits.decode(errors="replace"))


def bits_value(token: Token) -> bytes:
    value = token.value
    digits = value[2:] if value[:2] == b"0b" else value[2:-1]
    number = int(digits or b"0", 2)
    return number.to_bytes(max(1, (len(digits) + 7) // 8), "big")


def identifier(token: Token) -> str:
    if token.kind == "QIDENT":
        return token.value[1:-1].replace(b"``", b"`").decode(errors="replace")
    return token.value.decode(errors="replace")


def line_of(text: bytes, offset: int, first_line: int) -> int:
    return first_line + text.count(b"\n", 0, offset)
