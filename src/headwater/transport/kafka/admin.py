"""Topic administration over confluent-kafka's AdminClient.

`create_topics` makes topics durable where the spec leaves it open: it reads the broker count and
the broker's defaults first and applies `headwater.transport.durability` (replication factor 3 and
min ISR 2 on a cluster of three or more brokers).

`wait=True` means more than "the controller accepted it": the call returns once the topic (with
its partitions) is visible, or gone, in the metadata this client sees, so a producer or consumer
created next does not race the change. `wait=False` fires the request and logs its failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# Where confluent-kafka defines them: `confluent_kafka.admin` re-exports these implicitly only,
# which mypy --strict (no_implicit_reexport) refuses.
from confluent_kafka.cimpl import NewTopic

from headwater.transport.base import (
    ClusterDescription,
    PartitionReplicas,
    TopicDescription,
    TopicSpec,
)
from headwater.transport.closing import ClosesOnExit
from headwater.transport.durability import ClusterDefaults, durable_spec
from headwater.transport.errors import (
    BrokerUnavailableError,
    TopicError,
    TransportConfigError,
    TransportError,
)
from headwater.transport.kafka import describe
from headwater.transport.kafka.config import ClientSettings, admin_config
from headwater.transport.kafka.errors import kafka_error, translate
from headwater.transport.kafka.results import result

log = logging.getLogger("headwater.transport")

T = TypeVar("T")

_METADATA_POLL_S = 0.05  # between metadata looks while waiting for a change to show
_PROPAGATION_GRACE_S = 2.0  # how long a topic may stay unknown to the broker asked


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
            defaults = self.cluster_defaults(timeout_s)
        except BrokerUnavailableError as exc:
            names = ", ".join(repr(s.name) for s in specs)
            what = f"create topic{'s' if len(specs) > 1 else ''} {names}"
            raise BrokerUnavailableError(
                f"{what}: no answer before the deadline ({exc.message})",
                name=exc.name,
                code=exc.code,
            ) from None
        specs = [durable_spec(spec, defaults) for spec in specs]
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
            done, _ = result(futures[spec.name], "create topic", spec.name, ignore, deadline)
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
            result(futures[name], "delete topic", name, ignore, deadline)
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
        deadline = time.monotonic() + timeout_s

        def described() -> TopicDescription:
            partitions = self._existing([name], "describe topic", timeout_s)[name]
            config = describe.topic_config(self._admin, name, timeout_s)
            return TopicDescription(name, partitions, config)

        return self._while_propagating(described, deadline)

    def describe_cluster(self, timeout_s: float = 10.0) -> ClusterDescription:
        """The live brokers (id, address, rack), the controller and the cluster id."""
        return describe.describe_cluster(self._admin, self.bootstrap, timeout_s)

    def describe_partitions(
        self, names: Iterable[str], timeout_s: float = 10.0
    ) -> dict[str, tuple[PartitionReplicas, ...]]:
        """Leader, replicas and ISR of every partition of each named topic."""
        deadline = time.monotonic() + timeout_s
        names = list(names)

        def described() -> dict[str, tuple[PartitionReplicas, ...]]:
            existing = list(self._existing(names, "describe topic", timeout_s))
            return describe.describe_partitions(self._admin, existing, timeout_s)

        return self._while_propagating(described, deadline)

    def broker_config(self, broker_id: int, timeout_s: float = 10.0) -> dict[str, str]:
        """A broker's configuration as it reports it, defaults included."""
        return describe.broker_config(self._admin, broker_id, timeout_s)

    def answering_brokers(self, broker_ids: Iterable[int], timeout_s: float = 3.0) -> set[int]:
        """The brokers among `broker_ids` that answer a request of their own in `timeout_s`."""
        return describe.answering_brokers(self._admin, broker_ids, timeout_s)

    def cluster_defaults(self, timeout_s: float = 10.0) -> ClusterDefaults:
        """The broker count and one broker's replication defaults (None where not readable: a
        broker that does not describe its configuration leaves the choice to itself)."""
        try:
            meta = self._admin.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            raise translate(exc, f"list brokers at {self.bootstrap}") from None
        brokers = sorted(meta.brokers)
        if not brokers:
            return ClusterDefaults(0)
        try:
            config = self.broker_config(brokers[0], timeout_s)
        except TransportError as exc:
            log.debug("broker defaults unknown, the broker chooses: %s", exc)
            config = {}
        return ClusterDefaults(
            len(brokers),
            _integer(config.get("default.replication.factor")),
            _integer(config.get("min.insync.replicas")),
        )

    def close(self) -> None:
        """Nothing to release: the admin client holds no group or queue (kept for symmetry)."""

    def _existing(self, names: Iterable[str], what: str, timeout_s: float) -> dict[str, int]:
        """Name -> partitions of each named topic; `TopicError` for the first one not there."""
        topics = self.list_topics(timeout_s, internal=True)
        found = {}
        for name in dict.fromkeys(names):
            if name not in topics:
                raise TopicError(
                    f"{what} {name!r}: no such topic",
                    topic=name,
                    name="UNKNOWN_TOPIC_OR_PART",
                    code=KafkaError.UNKNOWN_TOPIC_OR_PART,
                )
            found[name] = topics[name]
        return found

    def _while_propagating(self, call: Callable[[], T], deadline: float) -> T:
        """`call()`, asked again for a short while when a topic is unknown: on a cluster a new
        topic reaches each broker's metadata cache at its own pace, so the broker asked may not
        know yet what another one told `create_topics`. A topic that stays unknown for
        `_PROPAGATION_GRACE_S` (or until `deadline`) is reported missing."""
        deadline = min(deadline, time.monotonic() + _PROPAGATION_GRACE_S)
        while True:
            try:
                return call()
            except TopicError as exc:
                if exc.code != KafkaError.UNKNOWN_TOPIC_OR_PART or time.monotonic() >= deadline:
                    raise
            time.sleep(_METADATA_POLL_S)

    def _wait_for(self, done: Callable[[dict[str, int]], bool], what: str, deadline: float) -> None:
        while True:
            if done(self.list_topics(max(0.1, deadline - time.monotonic()), internal=True)):
                return
            if time.monotonic() >= deadline:
                raise TopicError(f"waited in vain for {what} at {self.bootstrap}", retriable=True)
            time.sleep(_METADATA_POLL_S)


def _integer(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _log_failure(what: str, ignore: set[int]) -> Callable[[Future[Any]], None]:
    def done(fut: Future[Any]) -> None:
        exc = fut.exception()
        if isinstance(exc, KafkaException) and kafka_error(exc).code() not in ignore:
            log.error("%s", translate(exc, what))
        elif exc is not None and not isinstance(exc, KafkaException):
            log.error("%s: %s", what, exc)

    return done
