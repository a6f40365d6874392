"""What the cluster says about itself: its brokers and racks, where partitions live, broker configs.

Read-only calls over confluent-kafka's AdminClient, translated into `headwater.transport` values
(`ClusterDescription`, `PartitionReplicas`) so that `headwater doctor` and topic creation never
touch a client library. DescribeCluster is answered from the metadata a client already holds by
brokers without that API (librdkafka falls back), so the embedded broker answers it too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType

from headwater.transport.base import BrokerNode, ClusterDescription, PartitionReplicas
from headwater.transport.errors import BrokerUnavailableError
from headwater.transport.kafka.errors import translate
from headwater.transport.kafka.results import result


def describe_cluster(admin: AdminClient, bootstrap: str, timeout_s: float) -> ClusterDescription:
    try:
        future = admin.describe_cluster(request_timeout=timeout_s)
    except KafkaException as exc:
        raise translate(exc, f"describe cluster at {bootstrap}") from None
    _, found = result(future, "describe cluster at", bootstrap, set(), _deadline(timeout_s))
    controller = found.controller
    brokers = tuple(
        sorted((BrokerNode(n.id, n.host, n.port, n.rack or None) for n in found.nodes),
               key=lambda b: b.id)
    )  # fmt: skip
    if not brokers:
        raise BrokerUnavailableError(f"describe cluster at {bootstrap}: no broker is registered")
    return ClusterDescription(
        found.cluster_id, None if controller is None else int(controller.id), brokers
    )


def describe_partitions(
    admin: AdminClient, names: Iterable[str], timeout_s: float
) -> dict[str, tuple[PartitionReplicas, ...]]:
    """From a Metadata request, which any live broker answers: librdkafka sends DescribeTopics
    to the controller, and waits in vain for one while a KRaft quorum is lost (two of three
    combined nodes down), exactly when a caller wants to know where partitions stand."""
    names = list(dict.fromkeys(names))
    if not names:
        return {}
    try:
        meta = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise translate(exc, "describe topics") from None
    described = {}
    for name in names:
        topic = meta.topics.get(name)
        if topic is None:
            raise translate(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART),
                            f"describe topic {name!r}", topic=name)  # fmt: skip
        if topic.error is not None:
            raise translate(topic.error, f"describe topic {name!r}", topic=name)
        described[name] = tuple(
            sorted((_partition(p) for p in topic.partitions.values()), key=lambda p: p.partition)
        )
    return described


def topic_config(admin: AdminClient, name: str, timeout_s: float) -> dict[str, str]:
    """Every entry the broker reports, defaults included: brokers disagree on which are."""
    resource = ConfigResource(ResourceType.TOPIC, name)
    try:
        futures = admin.describe_configs([resource], request_timeout=timeout_s)
    except KafkaException as exc:
        raise translate(exc, f"describe topic {name!r}", topic=name) from None
    _, entries = result(futures[resource], "describe topic", name, set(), _deadline(timeout_s))
    return {key: entry.value for key, entry in entries.items() if entry.value is not None}


def broker_config(admin: AdminClient, broker_id: int, timeout_s: float) -> dict[str, str]:
    resource = ConfigResource(ResourceType.BROKER, str(broker_id))
    what = f"describe broker {broker_id}"
    try:
        futures = admin.describe_configs([resource], request_timeout=timeout_s)
    except KafkaException as exc:
        raise translate(exc, what) from None
    _, entries = result(futures[resource], "describe broker", str(broker_id), set(),
                        _deadline(timeout_s))  # fmt: skip
    return {key: entry.value for key, entry in entries.items() if entry.value is not None}


def answering_brokers(admin: AdminClient, broker_ids: Iterable[int], timeout_s: float) -> set[int]:
    """The brokers among `broker_ids` that answer a request sent to each itself (DescribeConfigs
    of its own config, all sent at once) within `timeout_s`. The metadata cannot say this when
    a KRaft quorum is lost: it keeps listing dead brokers as leaders and in-sync replicas."""
    futures = {}
    for broker_id in dict.fromkeys(broker_ids):
        resource = ConfigResource(ResourceType.BROKER, str(broker_id))
        try:
            futures[broker_id] = admin.describe_configs([resource], request_timeout=timeout_s)[
                resource
            ]
        except KafkaException:
            continue
    deadline = _deadline(timeout_s)
    answered = set()
    for broker_id, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except (KafkaException, FutureTimeout):
            continue
        answered.add(broker_id)
    return answered


def _partition(info: Any) -> PartitionReplicas:
    """A partition of a Metadata answer (ids: leader, replicas, isrs)."""
    return PartitionReplicas(
        int(info.id),
        None if info.leader < 0 else int(info.leader),
        tuple(int(b) for b in info.replicas),
        tuple(int(b) for b in info.isrs),
    )


def _deadline(timeout_s: float) -> float:
    return time.monotonic() + timeout_s
