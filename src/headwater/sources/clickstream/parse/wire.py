"""The bodies the fast path takes, as msgspec types: one typed decode checks them in C.

    Document   an object body: one call, or a Segment batch {"batch": [Call], "context", "sentAt"}
    Call       one call; the fields event.py reads, typed as event.py accepts them without help
    Json       any JSON value in the range orjson decodes to the same Python value

The types are narrower than what event.py accepts; a body outside them is read by the precise
path instead (fast.py), so narrowing costs speed, never a result. Rules, each because msgspec
and orjson would otherwise disagree on a body:

Rule 1: no field is skipped (`forbid_unknown_fields`). msgspec skips an unknown field's value
without checking its UTF-8 or its numbers' range, where orjson refuses the whole body. The extra
fields that Segment's and RudderStack's libraries send are therefore listed and decoded (`Json`).
Rule 2: integers are 64-bit signed (`Int`). Beyond that orjson decodes a float, msgspec an int.
Rule 3: `Json` nests at most `JSON_DEPTH` levels (and `Document` adds 3): the decode never nears
orjson's depth limit (1024) nor Python's recursion limit, whatever the limits are set to.
Floats: both libraries round correctly and both refuse what overflows a double.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

import msgspec

#: nesting levels of objects and arrays that `Json` admits (deeper: the precise path)
JSON_DEPTH = 8

Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: an identifier as a non-empty string ("" is an absent id to event.py: the precise path says so)
Text = Annotated[str, msgspec.Meta(min_length=1)]


def _json_type(depth: int) -> Any:
    """A JSON value of at most `depth` nested levels: a union per level, since this Python's
    msgspec takes no recursive type alias."""
    value: Any = Union[str, Int, float, bool, None]  # noqa: UP007 (a runtime union of types)
    for _ in range(depth):
        value = Union[str, Int, float, bool, None, list[value], dict[str, value]]  # noqa: UP007
    return value


if TYPE_CHECKING:
    Json = Any
    Id = str | int | None
    Name = str | None
    Time = str | int | float | None
else:
    Json = _json_type(JSON_DEPTH)
    Id = Union[Text, Int, None]  # noqa: UP007
    Name = Union[Text, None]  # noqa: UP007
    Time = Union[str, Int, float, None]  # noqa: UP007
Object = dict[str, Json]


class Call(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One call (event.py's fields). Decoded only, never built: `gc=False` (no cycles)."""

    type: str | None = None
    event: Name = None
    messageId: Id = None
    userId: Id = None
    anonymousId: Id = None
    sessionId: Id = None
    session_id: Id = None
    timestamp: Time = None
    originalTimestamp: Time = None
    sentAt: Time = None
    name: str | None = None
    properties: Object | None = None
    traits: Object | None = None
    context: Object | None = None
    channel: Json = None
    # sent by the libraries, ignored by event.py: decoded to be checked (Rule 1)
    integrations: Json = None
    metadata: Json = msgspec.field(default=None, name="_metadata")
    options: Json = None
    version: Json = None
    writeKey: Json = None
    receivedAt: Json = None
    rudderId: Json = None
    request_ip: Json = None


class Document(Call, forbid_unknown_fields=True, gc=False):
    """An object body: a call, or a batch when `batch` is present (then `context` and `sentAt`
    are the batch's and the other fields are ignored, as body.py ignores them)."""

    batch: list[Call] | msgspec.UnsetType = msgspec.UNSET


class BatchSlices(msgspec.Struct):
    """A batch's calls as the bytes received (for their sizes and rejections)."""

    batch: list[msgspec.Raw] = msgspec.field(default_factory=list)


#: a body on /collect (an array of calls, or an object) and on Segment's endpoints
BODY = msgspec.json.Decoder(Union[Document, list[Call]])  # noqa: UP007
#: one line of a newline-delimited body
LINE = msgspec.json.Decoder(Call)
ARRAY_SLICER = msgspec.json.Decoder(list[msgspec.Raw])
BATCH_SLICER = msgspec.json.Decoder(BatchSlices)
