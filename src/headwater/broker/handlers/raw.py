"""A response body encoded by hand, for layouts kio has no schema for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RawResponse:
    """Encoded body bytes; the server adds the size and a v0 header."""

    payload: bytes
