"""Protocol errors: the peer sent something we cannot decode.

    ProtocolError                  the peer is at fault; retrying the same bytes never helps
    ├── FrameError                 the length prefix is impossible: the connection is closed
    ├── RequestDecodeError         the header or body does not parse for its API and version
    └── UnsupportedVersionError    the API key or version is not one we advertise

Each carries what the server needs to answer or log it: the correlation id when the header parsed.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid Kafka request."""

    retriable = False


class FrameError(ProtocolError):
    """The frame's declared size is negative or over the limit."""


class RequestDecodeError(ProtocolError):
    """A request whose header or body does not decode."""

    def __init__(
        self,
        message: str,
        api_key: int = -1,
        api_version: int = -1,
        correlation_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id


class UnsupportedVersionError(RequestDecodeError):
    """An API key we do not implement, or a version outside the advertised range."""
