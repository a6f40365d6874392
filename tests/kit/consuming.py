"""Reading a topic in tests: poll until what arrived satisfies a condition, with a deadline.

`consume_until(poll, done, deadline_s, what)` is `waiting.wait_until` with the poll as its step:
`poll(got)` is one consumer call with its own short timeout (it sees what arrived so far, so it
can ask only for what is still wanted), its records are added to `got`, and `done(got)` is
checked between calls. After `deadline_s` it fails with an AssertionError naming `what` and
what arrived (`describe`), never returning a short list for the test to misread.

`valid_messages` filters confluent-kafka's messages: the records, with the error events a
reader expects (partition end, a topic not created yet) left out and any other one raised.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sized
from typing import TypeVar

from confluent_kafka import KafkaError, Message

from tests.kit.waiting import wait_until

T = TypeVar("T")

#: Error events a reader of a topic sees in normal operation: not failures.
EXPECTED_EVENTS = (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART)


def count_of(got: Sized) -> str:
    """What a failed wait shows by default: how many records arrived."""
    return f"got {len(got)} records"


def consume_until(
    poll: Callable[[list[T]], Iterable[T]],
    done: Callable[[list[T]], object],
    deadline_s: float = 30.0,
    what: str = "the records",
    describe: Callable[[list[T]], str] = count_of,
) -> list[T]:
    """Every record `poll` returned until `done(got)` held; AssertionError after `deadline_s`."""
    got: list[T] = []
    try:
        wait_until(lambda: done(got), deadline_s, what, step=lambda: got.extend(poll(got)))
    except AssertionError as exc:
        raise AssertionError(f"{exc} ({describe(got)})") from None
    return got


def valid_messages(
    messages: Iterable[Message], expected: Collection[int] = EXPECTED_EVENTS
) -> list[Message]:
    """The messages that carry a record; AssertionError on an error event not in `expected`."""
    out = []
    for msg in messages:
        err = msg.error()
        if err is None:
            out.append(msg)
        elif err.code() not in expected:
            raise AssertionError(f"consumer error: {err}")
    return out
