"""Waiting on an AdminClient future: our errors for theirs, one deadline for many futures."""

from __future__ import annotations

import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from confluent_kafka import KafkaException

from headwater.transport.errors import BrokerUnavailableError
from headwater.transport.kafka.errors import kafka_error, translate


def result(
    fut: Future[Any], what: str, topic: str, ignore: set[int], deadline: float
) -> tuple[bool, Any]:
    """(True, value) on success, (False, None) for an ignored error; raises ours for others."""
    try:
        return True, fut.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        raise BrokerUnavailableError(f"{what} {topic!r}: no answer before the deadline") from None
    except KafkaException as exc:
        err = kafka_error(exc)
        if err.code() in ignore:
            return False, None
        raise translate(err, f"{what} {topic!r}", topic=topic) from None
