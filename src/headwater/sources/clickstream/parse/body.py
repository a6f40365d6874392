"""The collector's request bodies, split into calls; each call read by event.py.

    endpoint                       body
    collect                        one call {...}; an array of calls [...]; a Segment batch
                                   {"batch": [...]}; or newline-delimited calls (content type
                                   application/x-ndjson, or detected: one object, then more)
    track, page, screen, identify  one call (Segment's /v1/<type>); the endpoint gives its type
    batch                          {"batch": [calls], "context": {...}, "sentAt": ...}; other
                                   fields (writeKey, integrations) are ignored

Segment's endpoints need `userId` or `anonymousId` in each call; /collect does not (the collector
fills them from its cookies).

Two paths, one result. A body whose every call is accepted is read by fast.py: one typed C-level
decode (msgspec, wire.py's types) checks most fields, Python builds the events. Any other body,
and any body fast.py declines, is read here on the precise path: one C-level decode of the whole
body (orjson), then each call checked alone by event.py, so that each refusal names its index
and field and keeps the call's exact bytes. Those bytes (also needed to hold a call to the
per-event limit when the body exceeds that limit) come from a second C-level pass made only then
(msgspec's `Raw`, which slices the body without decoding it). NDJSON is decoded line by line, so
that a malformed line is one rejected event.

Nothing here raises on any body: the outcome is a `ParseResult` (limits.py). A `ValueError` means
the caller passed an unknown endpoint.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from headwater.sources.clickstream.model import IncomingEvent, Rejection
from headwater.sources.clickstream.parse.event import EventReader, Invalid
from headwater.sources.clickstream.parse.fast import SINGLE_CALLS, read_valid
from headwater.sources.clickstream.parse.limits import BodyError, ParseLimits, ParseResult
from headwater.sources.clickstream.parse.timestamps import BadTimestamp, epoch_ms, json_type
from headwater.sources.clickstream.parse.wire import ARRAY_SLICER, BATCH_SLICER

ENDPOINTS = ("collect", "track", "page", "screen", "identify", "batch")
NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
        "application/json-lines",
    }
)
_MORE_AFTER_DOCUMENT = "unexpected content after document"  # orjson's message
_DEFAULT_LIMITS = ParseLimits()


def parse_body(
    body: bytes,
    *,
    endpoint: str,
    content_type: str | None,
    received_ts: int,
    limits: ParseLimits = _DEFAULT_LIMITS,
) -> ParseResult:
    """The events and rejections of one request body (see the module docstring)."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}, expected one of {ENDPOINTS}")
    size = len(body)
    if size > limits.max_body_bytes:
        return _body_error(
            413, f"body of {size} bytes exceeds the limit of {limits.max_body_bytes} bytes"
        )
    if not body or body.isspace():
        return _body_error(400, "empty body")
    segment = endpoint != "collect"
    ndjson = (
        not segment
        and content_type != "application/json"  # the usual one, not parsed
        and _media_type(content_type) in NDJSON_TYPES
    )
    valid = read_valid(
        body, endpoint=endpoint, ndjson=ndjson, received_ts=received_ts, limits=limits
    )
    if valid is not None:
        return valid
    return _read_precisely(body, endpoint, ndjson, received_ts, limits)


def _read_precisely(
    body: bytes, endpoint: str, ndjson: bool, received_ts: int, limits: ParseLimits
) -> ParseResult:
    """parse_body for a body the fast path did not take: each call read and judged alone."""
    segment = endpoint != "collect"

    def reader(
        forced_type: str | None = None,
        context: dict[str, Any] | None = None,
        sent_ts: int | None = None,
    ) -> EventReader:
        return EventReader(
            forced_type=forced_type,
            identity_required=segment,
            received_ts=received_ts,
            max_future_skew_ms=limits.max_future_skew_ms,
            batch_context=context,
            batch_sent_ts=sent_ts,
        )

    if ndjson:
        return _read_lines(reader(), body, limits)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not segment and exc.msg.startswith(_MORE_AFTER_DOCUMENT):
            return _read_lines(reader(), body, limits)
        return _body_error(400, _decode_error(body, exc))

    if endpoint in SINGLE_CALLS:
        if type(doc) is not dict:
            return _body_error(400, f"body must be a JSON object, got {json_type(doc)}")
        return _read_one(reader(endpoint), doc, body, limits)
    if endpoint == "batch" or (type(doc) is dict and "batch" in doc):
        if type(doc) is not dict:
            return _body_error(400, f"body must be a JSON object, got {json_type(doc)}")
        items = doc.get("batch")
        if type(items) is not list:
            if items is None:
                return _body_error(400, "'batch' is required")
            return _body_error(400, f"'batch' must be an array, got {json_type(items)}")
        context = doc.get("context")
        if context is not None and type(context) is not dict:
            return _body_error(400, f"'context' must be an object, got {json_type(context)}")
        sent = doc.get("sentAt")
        try:
            sent_ts = None if sent is None else epoch_ms(sent)
        except BadTimestamp as exc:
            return _body_error(400, f"'sentAt' {exc}")
        return _read_items(reader(None, context, sent_ts), items, _Calls(body, items, True), limits)
    if type(doc) is dict:
        return _read_one(reader(), doc, body, limits)
    if type(doc) is list:
        return _read_items(reader(), doc, _Calls(body, doc, False), limits)
    return _body_error(400, f"body must be a JSON object or array, got {json_type(doc)}")


def _read_one(
    reader: EventReader, call: dict[str, Any], body: bytes, limits: ParseLimits
) -> ParseResult:
    if len(body) > limits.max_event_bytes:
        return ParseResult([], [_oversize(0, len(body), body, limits)])
    try:
        return ParseResult([reader.read(call, 0)], [])
    except Invalid as exc:
        return ParseResult([], [Rejection(str(exc), body, 0)])


def _read_items(
    reader: EventReader, items: list[Any], calls: _Calls, limits: ParseLimits
) -> ParseResult:
    if len(items) > limits.max_batch_events:
        return _body_error(
            400,
            f"batch of {len(items)} events exceeds the limit of {limits.max_batch_events} events",
        )
    events: list[IncomingEvent] = []
    rejections: list[Rejection] = []
    max_bytes = limits.max_event_bytes
    sized = len(calls.body) > max_bytes  # else no call can exceed the limit
    read = reader.read
    for index, item in enumerate(items):
        if sized:
            size = calls.size(index)
            if size is not None and size > max_bytes:
                rejections.append(_oversize(index, size, calls.raw(index), limits))
                continue
        try:
            events.append(read(item, index))
        except Invalid as exc:
            rejections.append(Rejection(str(exc), calls.raw(index), index))
    return ParseResult(events, rejections)


def _read_lines(reader: EventReader, body: bytes, limits: ParseLimits) -> ParseResult:
    """Newline-delimited JSON: one call per non-blank line, each decoded on its own."""
    lines = []
    offset = 0
    for number, line in enumerate(body.split(b"\n"), 1):
        if line and not line.isspace():
            lines.append((number, offset, line))
        offset += len(line) + 1
    if len(lines) > limits.max_batch_events:
        return _body_error(
            400, f"body of {len(lines)} lines exceeds the limit of {limits.max_batch_events} events"
        )
    events: list[IncomingEvent] = []
    rejections: list[Rejection] = []
    for index, (number, offset, line) in enumerate(lines):
        if len(line) > limits.max_event_bytes:
            rejections.append(_oversize(index, len(line), line, limits))
            continue
        try:
            events.append(reader.read(orjson.loads(line), index))
        except orjson.JSONDecodeError as exc:
            reason = _decode_error(line, exc, first_line=number, first_byte=offset)
            rejections.append(Rejection(f"event {index}: {reason}", line, index))
        except Invalid as exc:
            rejections.append(Rejection(str(exc), line, index))
    return ParseResult(events, rejections)


class _Calls:
    """The calls of a JSON array (or of a batch's "batch" array) as the bytes received.

    Slicing the body costs a second C-level pass, made only when a call is rejected or sizes
    matter. Should msgspec ever split the body differently from orjson, a call's bytes are
    orjson's re-serialisation of it instead (and its size that of the re-serialisation).
    """

    __slots__ = ("_batch", "_items", "_slices", "body")

    def __init__(self, body: bytes, items: list[Any], batch: bool) -> None:
        self.body = body
        self._items = items
        self._batch = batch
        self._slices: list[msgspec.Raw] | None = None

    def _sliced(self) -> list[msgspec.Raw]:
        if self._slices is None:
            try:
                if self._batch:
                    slices = BATCH_SLICER.decode(self.body).batch
                else:
                    slices = ARRAY_SLICER.decode(self.body)
            except Exception:  # a decoder disagreement (depth, numbers): fall back, never fail
                slices = []
            self._slices = slices if len(slices) == len(self._items) else []
        return self._slices

    def raw(self, index: int) -> bytes:
        slices = self._sliced()
        if slices:
            return bytes(slices[index])
        try:
            return orjson.dumps(self._items[index])
        except orjson.JSONEncodeError:  # nested deeper than orjson writes: keep the whole body
            return self.body

    def size(self, index: int) -> int | None:
        """The call's size in bytes; None when unknown (then it is not held to the limit)."""
        slices = self._sliced()
        if slices:
            return len(slices[index])
        try:
            return len(orjson.dumps(self._items[index]))
        except orjson.JSONEncodeError:
            return None


def _decode_error(
    data: bytes, exc: orjson.JSONDecodeError, first_line: int = 1, first_byte: int = 0
) -> str:
    """Where and why `data` (starting at line `first_line`, byte `first_byte` of the body) is
    not JSON: orjson counts characters, the byte offset is computed here."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {first_byte + bad.start}: {bad.reason}"
    byte = first_byte + len(text[: exc.pos].encode())
    return (
        f"malformed JSON at line {first_line - 1 + exc.lineno}, column {exc.colno} "
        f"(byte {byte}): {exc.msg}"
    )


def _oversize(index: int, size: int, raw: bytes, limits: ParseLimits) -> Rejection:
    return Rejection(
        f"event {index}: {size} bytes exceeds the limit of "
        f"{limits.max_event_bytes} bytes per event",
        raw,
        index,
    )


def _body_error(status: int, reason: str) -> ParseResult:
    return ParseResult([], [], BodyError(status, reason))


def _media_type(content_type: str | None) -> str:
    return content_type.split(";", 1)[0].strip().lower() if content_type else ""
