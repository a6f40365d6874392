"""Sources create the topics they write before writing to them, instead of leaving it to the
broker's auto-creation: a topic made by `transport.Admin.create_topics` is durable (replication
factor 3 and `min.insync.replicas=2` set on the topic, on a cluster of 3 or more brokers:
`transport.durability`), while one auto-created by a producer's first record takes the broker's
`default.replication.factor`, 1 on a stock Kafka.

Rules:
1. A topic that exists is left as it is: its partitions and settings are the operator's.
2. A new topic gets the partitions auto-creation would have given it, the broker's
   `num.partitions` (1 where the broker does not say): creating instead of auto-creating changes
   the durability of a topic, nothing else.
3. A failure raises `TopicsNotCreatedError` (a `transport.TransportError`, retriable as the cause
   was) naming the topics; the component decides whether its run ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from headwater import transport
from headwater.logs import log_event

log = logging.getLogger("headwater.topics")

#: Kafka's own default of `num.partitions`: what auto-creation gives when the broker is silent.
_DEFAULT_PARTITIONS = 1


class TopicsNotCreatedError(transport.TransportError):
    """The topics a source is about to write could not be created (rule 3)."""


def ensure_topics(admin: transport.Admin, names: Iterable[str]) -> list[str]:
    """Create those of `names` that do not exist yet (rules 1 and 2); returns the ones created
    (or found created meanwhile by someone else)."""
    wanted = list(dict.fromkeys(names))
    try:
        existing = admin.list_topics(internal=True)
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return []
        partitions = broker_partitions(admin)
        specs = [transport.TopicSpec(name, partitions=partitions) for name in missing]
        admin.create_topics(specs, exist_ok=True)
    except transport.TransportError as exc:
        raise TopicsNotCreatedError(
            f"cannot create topic{'s' if len(wanted) > 1 else ''} {', '.join(wanted)}: {exc}",
            retriable=exc.retriable,
        ) from None
    log_event(log, "topics_created", topics=missing, partitions=partitions)
    return missing


def broker_partitions(admin: transport.Admin) -> int:
    """The partitions an auto-created topic gets: `num.partitions` of the lowest broker id."""
    brokers = admin.describe_cluster().brokers
    if not brokers:
        return _DEFAULT_PARTITIONS
    try:
        config = admin.broker_config(min(b.id for b in brokers))
    except transport.TransportError as exc:
        log.debug("num.partitions unknown, taking %d: %s", _DEFAULT_PARTITIONS, exc)
        return _DEFAULT_PARTITIONS
    try:
        return max(1, int(config.get("num.partitions", _DEFAULT_PARTITIONS)))
    except ValueError:
        return _DEFAULT_PARTITIONS
