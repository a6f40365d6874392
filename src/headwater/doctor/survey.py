"""Gather what the checks look at, through `headwater.transport` only: the live brokers and their
racks, each broker's configuration, the topics to check (leader, replicas, ISR, config), and the
settings headwater's producers start with.

Which topics: those the contracts name that exist (`clickstream.*`, `cdc.*`, `video.*`,
`feeds.items`, `crawl.pages`, `files.*`, `_headwater.positions`), Kafka's `__consumer_offsets`
(consumer groups keep their positions there), and every topic asked for by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import headwater.transport as hwt
from headwater.contracts import topics as names

#: Topics headwater writes under a fixed name, and the prefixes of those it names per source.
FIXED_TOPICS = frozenset(
    {
        names.CLICKSTREAM_EVENTS,
        names.CLICKSTREAM_INVALID,
        names.VIDEO_SEGMENTS,
        names.VIDEO_FRAMES,
        names.FEEDS_ITEMS,
        names.CRAWL_PAGES,
        names.POSITIONS,
    }
)
#: `clickstream.<route>`, `cdc.<source>.…`, `files.<name>` (contracts.topics spells them).
TOPIC_PREFIXES = (names.clickstream_route(""), names.cdc_prefix(), names.files(""))
CONSUMER_OFFSETS = "__consumer_offsets"


@dataclass(frozen=True, slots=True)
class TopicSurvey:
    """One topic as the cluster reports it; `missing` when it was asked for and is not there."""

    name: str
    partitions: tuple[hwt.PartitionReplicas, ...] = ()
    config: dict[str, str] | None = None
    missing: bool = False


@dataclass(frozen=True, slots=True)
class Survey:
    """Everything one doctor run checks, read at one moment."""

    broker: str  # the --broker value, as parsed
    bootstrap: str  # one address for the commands a fix names
    cluster: hwt.ClusterDescription
    broker_configs: dict[int, dict[str, str]]
    topics: tuple[TopicSurvey, ...]
    producer: dict[str, object]
    client_rack: str | None

    @property
    def headwater_broker(self) -> bool:
        """The embedded headwater broker (it reports its fsync policy as `log.flush.policy`)."""
        return any("log.flush.policy" in c for c in self.broker_configs.values())

    @property
    def silent_brokers(self) -> list[int]:
        """Brokers that hold replicas of a checked topic and are not among those answering."""
        live = {b.id for b in self.cluster.brokers}
        held = {r for t in self.topics for p in t.partitions for r in p.replicas}
        return sorted(held - live)

    def broker_setting(self, key: str) -> str | None:
        """`key` as the first broker that reports it says (brokers of a cluster should agree)."""
        for broker_id in sorted(self.broker_configs):
            value = self.broker_configs[broker_id].get(key)
            if value is not None:
                return value
        return None


def is_headwater_topic(name: str) -> bool:
    return name in FIXED_TOPICS or name.startswith(TOPIC_PREFIXES)


def take_survey(
    transport: hwt.Transport, asked: tuple[str, ...] = (), timeout_s: float = 10.0
) -> Survey:
    """Read the cluster; raises `BrokerUnavailableError` when nobody answers within `timeout_s`."""
    admin = transport.admin()
    listed = admin.list_topics(timeout_s, internal=True)
    cluster = admin.describe_cluster(timeout_s)
    configs = {b.id: admin.broker_config(b.id, timeout_s) for b in cluster.brokers}
    chosen = [n for n in sorted(listed) if is_headwater_topic(n) or n == CONSUMER_OFFSETS]
    chosen += [n for n in asked if n in listed and n not in chosen]
    layouts = admin.describe_partitions(chosen, timeout_s)
    found = [TopicSurvey(n, layouts[n], admin.describe_topic(n, timeout_s).config) for n in chosen]
    found += [TopicSurvey(n, missing=True) for n in dict.fromkeys(asked) if n not in listed]
    url = transport.url
    return Survey(
        str(url),
        url.bootstrap[0],
        cluster,
        configs,
        tuple(found),
        transport.producer_settings(),
        url.client_rack,
    )
