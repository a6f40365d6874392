"""The kit's topic reading: polls until the condition holds, fails naming what arrived, and
keeps records apart from a reader's expected error events."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, Message

from tests.kit.consuming import consume_until, valid_messages


def test_consume_until_gathers_polls_until_done_and_tells_poll_what_arrived() -> None:
    batches = iter([[1, 2], [], [3]])
    seen: list[int] = []

    def poll(got: list[int]) -> list[int]:
        seen.append(len(got))
        return next(batches)

    assert consume_until(poll, lambda got: len(got) >= 3, 5, "3 records") == [1, 2, 3]
    assert seen == [0, 2, 2]


def test_consume_until_fails_naming_what_it_waited_for_and_what_arrived() -> None:
    with pytest.raises(AssertionError, match=r"waiting for 9 records of t \(got 4 records\)"):
        consume_until(lambda got: [] if got else [0] * 4, lambda got: len(got) >= 9, 0.05,
                      "9 records of t")  # fmt: skip
    with pytest.raises(AssertionError, match=r"waiting for the end \(last: \[7\]\)"):
        consume_until(lambda got: [7], lambda got: False, 0.05, "the end",
                      describe=lambda got: f"last: {got[-1:]}")  # fmt: skip


def test_valid_messages_skips_expected_events_and_raises_on_others() -> None:
    record = Message(topic="t", partition=0, offset=3, value=b"v")
    end = Message(topic="t", error=KafkaError(KafkaError._PARTITION_EOF))
    assert valid_messages([end, record, end]) == [record]
    broken = Message(topic="t", error=KafkaError(KafkaError._MSG_TIMED_OUT))
    with pytest.raises(AssertionError, match="consumer error"):
        valid_messages([record, broken])
    with pytest.raises(AssertionError, match="consumer error"):
        valid_messages([end], expected=())
