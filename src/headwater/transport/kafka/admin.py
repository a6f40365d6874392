"""Topic administration over confluent-kafka's AdminClient.

`wait=True` means more than "the controller accepted it": the call returns once the topic (with
its partitions) is visible, or gone, in the metadata this client sees, so a producer or consumer
created next does not race the change. `wait=False` fires the request and logs its failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# Where confluent-kafka defines them: `confluent_kafka.admin` re-exports these implicitly only,
# which mypy --strict (no_implicit_reexport) refuses.
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

from headwater.transport.base import TopicDescription, TopicSpec
from headwater.transport.closing import ClosesOnExit
from headwater.transport.errors import BrokerUnavailableError, TopicError, TransportConfigError
from headwater.transport.kafka.config import ClientSettings, admin_config
from headwater.transport.kafka.errors import kafka_error, translate

log = logging.getLogger("headwater.transport")

_METADATA_POLL_S = 0.05  # between metadata looks while waiting for a change to show


class KafkaAdmin(ClosesOnExit):
    """`headwater.transport.Admin` over confluent-kafka."""

    def __init__(self, settings: ClientSettings) -> None:
        self.bootstrap = settings.bootstrap_servers
        try:
            self._admin = AdminClient(admin_config(settings))
        except KafkaException as exc:
            raise translate(exc, "create admin client") from None
        except (TypeError, ValueError) as exc:
            raise TransportConfigError(f"create admin client: {exc}") from None

    def create_topics(
        self,
        specs: Iterable[TopicSpec],
        wait: bool = True,
        exist_ok: bool = False,
        timeout_s: float = 30.0,
    ) -> None:
        """Create topics; with `exist_ok`, one that already exists is left as it is."""
        specs = list(specs)
        if not specs:
            return
        try:
            new = [
                NewTopic(s.name, s.partitions, s.replication_factor or -1, config=dict(s.config))
                for s in specs
            ]
            futures = self._admin.create_topics(
                new, operation_timeout=timeout_s, request_timeout=timeout_s
            )
        except KafkaException as exc:
            raise translate(exc, "create topics") from None
        except (TypeError, ValueError) as exc:
            raise TransportConfigError(f"create topics: {exc}") from None
        ignore = {KafkaError.TOPIC_ALREADY_EXISTS} if exist_ok else set()
        if not wait:
            for name, fut in futures.items():
                fut.add_done_callback(_log_failure(f"create topic {name!r}", ignore))
            return
        deadline = time.monotonic() + timeout_s
        created = {}
        for spec in specs:
            done, _ = _result(futures[spec.name], "create topic", spec.name, ignore, deadline)
            if done:
                created[spec.name] = spec.partitions
        existing = {s.name for s in specs} - created.keys()
        self._wait_for(
            lambda topics: (
                all(topics.get(n) == p for n, p in created.items()) and existing <= topics.keys()
            ),
            f"topics {sorted(created) or sorted(existing)} to appear",
            deadline,
        )

    def delete_topics(
        self,
        names: Iterable[str],
        wait: bool = True,
        missing_ok: bool = False,
        timeout_s: float = 30.0,
    ) -> None:
        """Delete topics and their records; with `missing_ok`, an absent topic is no error."""
        names = list(names)
        if not names:
            return
        try:
            futures = self._admin.delete_topics(
                names, operation_timeout=timeout_s, request_timeout=timeout_s
            )
        except KafkaException as exc:
            raise translate(exc, "delete topics") from None
        ignore = {KafkaError.UNKNOWN_TOPIC_OR_PART} if missing_ok else set()
        if not wait:
            for name, fut in futures.items():
                fut.add_done_callback(_log_failure(f"delete topic {name!r}", ignore))
            return
        deadline = time.monotonic() + timeout_s
        for name in names:
            _result(futures[name], "delete topic", name, ignore, deadline)
        gone = set(names)
        self._wait_for(
            lambda topics: not gone & topics.keys(), f"topics {sorted(gone)} to go", deadline
        )

    def list_topics(self, timeout_s: float = 10.0, internal: bool = False) -> dict[str, int]:
        """Topic name -> partition count; internal topics (`__…`) only when asked for."""
        try:
            meta = self._admin.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            raise translate(exc, f"list topics at {self.bootstrap}") from None
        return {
            name: len(t.partitions)
            for name, t in meta.topics.items()
            if (internal or not name.startswith("__"))
            and (t.error is None or t.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART)
        }

    def describe_topic(self, name: str, timeout_s: float = 10.0) -> TopicDescription:
        """Partition count and the topic's configuration as the broker reports it."""
        partitions = self.list_topics(timeout_s, internal=True).get(name)
        if partitions is None:
            raise TopicError(
                f"describe topic {name!r}: no such topic",
                topic=name,
                name="UNKNOWN_TOPIC_OR_PART",
                code=KafkaError.UNKNOWN_TOPIC_OR_PART,
            )
        resource = ConfigResource(ResourceType.TOPIC, name)
        try:
            futures = self._admin.describe_configs([resource], request_timeout=timeout_s)
        except KafkaException as exc:
            raise translate(exc, f"describe topic {name!r}", topic=name) from None
        _, entries = _result(
            futures[resource], "describe topic", name, set(), time.monotonic() + timeout_s
        )
        # Every entry the broker reports, defaults included: brokers disagree on which are.
        config = {key: entry.value for key, entry in entries.items() if entry.value is not None}
        return TopicDescription(name, partitions, config)

    def close(self) -> None:
        """Nothing to release: the admin client holds no group or queue (kept for symmetry)."""

    def _wait_for(self, done: Callable[[dict[str, int]], bool], what: str, deadline: float) -> None:
        while True:
            if done(self.list_topics(max(0.1, deadline - time.monotonic()), internal=True)):
                return
            if time.monotonic() >= deadline:
                raise TopicError(f"waited in vain for {what} at {self.bootstrap}", retriable=True)
            time.sleep(_METADATA_POLL_S)


def _result(
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


def _log_failure(what: str, ignore: set[int]) -> Callable[[Future[Any]], None]:
    def done(fut: Future[Any]) -> None:
        exc = fut.exception()
        if isinstance(exc, KafkaException) and kafka_error(exc).code() not in ignore:
            log.error("%s", translate(exc, what))
        elif exc is not None and not isinstance(exc, KafkaException):
            log.error("%s: %s", what, exc)

    return done
