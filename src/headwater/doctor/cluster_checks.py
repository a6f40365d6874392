"""Checks of the cluster as a whole: brokers and zones, the defaults auto-created topics take,
how the brokers sync to disk, how headwater's producers acknowledge, follower fetching.

Pure: a `Survey` in, findings out; nothing here talks to a broker.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import headwater.transport as hwt
from headwater.doctor import fixes
from headwater.doctor.findings import Finding, Severity
from headwater.doctor.survey import Survey

RF = hwt.DURABLE_REPLICATION_FACTOR
MIN_ISR = hwt.DURABLE_MIN_INSYNC_REPLICAS
RACK_SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
NEVER = 2**63 - 1  # Kafka's Long.MAX_VALUE: "never flush on count/time", the OS decides


def cluster_checks(s: Survey) -> Iterator[Finding]:
    yield from brokers(s)
    yield from racks(s)
    yield from broker_defaults(s)
    yield from flush(s)
    yield from producer(s)
    yield from follower_fetching(s)


def brokers(s: Survey) -> Iterator[Finding]:
    live = [b.id for b in s.cluster.brokers]
    silent = s.silent_brokers
    if silent:
        yield Finding(
            Severity.HIGH,
            "cluster",
            "brokers",
            f"{plural('broker', silent)} {listed(silent)}: "
            f"{'holds' if len(silent) == 1 else 'hold'} replicas but "
            f"{'does' if len(silent) == 1 else 'do'} not answer (down, or fenced by the "
            "controller): the partitions it holds run on fewer copies",
            f"restart {plural('broker', silent)} {listed(silent)} and read "
            f"{'its' if len(silent) == 1 else 'their'} log",
        )
    count = len(live) + len(silent)
    ids = listed(sorted(live + silent))
    if count == 1:
        what = "the embedded headwater broker" if s.headwater_broker else "a single Kafka broker"
        yield Finding(
            Severity.MEDIUM,
            "cluster",
            "brokers",
            f"{what}: one node cannot replicate. Every partition has one copy: losing this "
            "machine's disk loses the data, and while it is down nothing is written or read. "
            "acks=all means only 'written by this node'.",
            "for replication and zone fail-over, run a Kafka cluster of 3 or more brokers, one per "
            "zone (broker.rack), and pass --broker kafka://h1:9092,h2:9092,h3:9092",
        )
    elif count < RF:
        yield Finding(
            Severity.HIGH,
            "cluster",
            "brokers",
            f"{count} brokers ({ids}): a partition has at most {count} copies; with "
            f"min.insync.replicas={MIN_ISR} one broker down stops every write, with 1 an "
            "acknowledged record can sit on one broker and die with it",
            f"add brokers until there are {RF}, each in its own zone (broker.rack)",
        )
    elif not silent:
        yield Finding(Severity.OK, "cluster", "brokers", f"{count} brokers ({ids})")


def racks(s: Survey) -> Iterator[Finding]:
    nodes = s.cluster.brokers
    if len(nodes) < 2:
        return
    bare = [str(b.id) for b in nodes if b.rack is None]
    zones = sorted({b.rack for b in nodes if b.rack is not None})
    fix = (
        "set broker.rack=<zone> in each broker's server.properties (one zone per availability "
        "zone), restart the brokers one at a time, then reassign existing topics"
    )
    if len(bare) == len(nodes):
        yield Finding(
            Severity.MEDIUM,
            "cluster",
            "racks",
            "no broker sets broker.rack: Kafka cannot keep a partition's copies in distinct "
            "zones, so one zone's outage can take every copy",
            fix,
        )
    elif bare:
        yield Finding(
            Severity.MEDIUM,
            "cluster",
            "racks",
            f"brokers {', '.join(bare)} set no broker.rack: their replicas are placed as if "
            "they shared no zone with anyone",
            fix,
        )
    elif len(zones) < min(RF, len(nodes)):
        yield Finding(
            Severity.MEDIUM,
            "cluster",
            "racks",
            f"brokers in {len(zones)} zone(s) only ({', '.join(zones)}): losing one zone takes "
            "more than one copy of a partition",
            f"spread the brokers over {RF} zones (broker.rack), then reassign existing topics",
        )
    elif not s.silent_brokers:  # with a broker missing, its zone is unknown: no verdict
        yield Finding(Severity.OK, "cluster", "racks", f"brokers in zones {', '.join(zones)}")


def broker_defaults(s: Survey) -> Iterator[Finding]:
    """Topics created by a producer's first write (auto-creation) take the broker's defaults."""
    if len(s.cluster.brokers) < RF:
        return
    default_rf = _int(s.broker_setting("default.replication.factor"))
    if default_rf is not None and default_rf < RF:
        yield Finding(
            Severity.HIGH,
            "brokers",
            "default.replication.factor",
            f"default.replication.factor={default_rf}: a topic created by a producer's first "
            f"write (auto-creation; headwater's components create theirs with {RF}) gets "
            f"{default_rf} copies",
            f"set default.replication.factor={RF} in every broker's server.properties and "
            "restart them one at a time (it is read-only at run time); fix existing topics as "
            "their findings say",
        )
    min_isr = _int(s.broker_setting("min.insync.replicas"))
    if min_isr is not None and min_isr < MIN_ISR:
        yield Finding(
            Severity.MEDIUM,
            "brokers",
            "min.insync.replicas",
            f"broker default min.insync.replicas={min_isr}: topics that do not set their own "
            "(auto-created ones) acknowledge a record held by one broker",
            fixes.broker_default_config(s.bootstrap, "min.insync.replicas", str(MIN_ISR)),
        )
    unclean = sorted(
        i for i, c in s.broker_configs.items() if c.get("unclean.leader.election.enable") == "true"
    )
    if unclean:
        yield Finding(
            Severity.HIGH,
            "brokers",
            "unclean.leader.election.enable",
            f"{plural('broker', unclean)} {listed(unclean)}: unclean leader election allowed: "
            "a replica that missed records can become leader, truncating acknowledged records",
            fixes.broker_default_config(s.bootstrap, "unclean.leader.election.enable", "false"),
        )


def flush(s: Survey) -> Iterator[Finding]:
    single = len(s.cluster.brokers) == 1
    if s.headwater_broker:
        policy = s.broker_setting("log.flush.policy") or "unknown"
        if policy == "always":
            yield Finding(
                Severity.INFO,
                "broker",
                "fsync",
                "fsync policy 'always' (log.flush.policy): an acknowledged record survives a "
                "power loss of this machine, not the loss of its disk",
            )
        else:
            yield Finding(
                Severity.MEDIUM,
                "broker",
                "fsync",
                f"fsync policy {policy!r} (log.flush.policy): records acknowledged since the last "
                "fsync are lost if the machine loses power or the kernel crashes (a crash of the "
                "broker process alone loses nothing)",
                "restart the broker with `headwater broker --flush always` (acks then survive a "
                "power loss, at some throughput)",
            )
        return
    messages = _int(s.broker_setting("log.flush.interval.messages"))
    interval = s.broker_setting("log.flush.interval.ms")
    if messages is None or messages >= NEVER:
        how = "left to the operating system (log.flush.interval.messages unset)"
    else:
        how = f"every {messages} records (log.flush.interval.messages)"
    if interval is not None:
        how += f", and every {interval} ms (log.flush.interval.ms)"
    if single:
        yield Finding(
            Severity.MEDIUM,
            "broker",
            "fsync",
            f"fsync {how}: with one broker there is no replica to cover a power loss, so "
            "records acknowledged since the last flush can be lost",
            "run 3 or more brokers in distinct zones; Kafka's durability is replication",
        )
    else:
        yield Finding(
            Severity.INFO,
            "brokers",
            "fsync",
            f"fsync {how}: Kafka's durability is replication, an acknowledged record is in "
            "the memory or disk of min.insync.replicas brokers, so it survives the power loss "
            "of fewer than that many at once",
        )


def producer(s: Survey) -> Iterator[Finding]:
    acks = str(s.producer.get("acks"))
    idempotent = s.producer.get("enable.idempotence") in (True, "true")
    fix = (
        "remove 'acks' / 'enable.idempotence' from the transport's raw settings "
        "(connect(config=…), ProducerOptions.extra): headwater's defaults are acks=all and "
        "enable.idempotence=true"
    )
    if acks not in ("all", "-1"):
        yield Finding(
            Severity.HIGH,
            "producer",
            "acks",
            f"headwater's producers use acks={acks}: a record is acknowledged before the "
            "in-sync replicas have it, and dies with the leader",
            fix,
        )
    if not idempotent:
        yield Finding(
            Severity.HIGH,
            "producer",
            "enable.idempotence",
            "headwater's producers are not idempotent: a retried send can be stored twice or "
            "out of order",
            fix,
        )
    if acks in ("all", "-1") and idempotent:
        yield Finding(
            Severity.OK,
            "producer",
            "acks",
            "headwater's producers: acks=all, enable.idempotence=true (from headwater.transport's "
            "producer settings)",
        )


def follower_fetching(s: Survey) -> Iterator[Finding]:
    if not any(b.rack for b in s.cluster.brokers) or len(s.cluster.brokers) < 2:
        return
    selector = s.broker_setting("replica.selector.class")
    if not selector or selector != RACK_SELECTOR:
        yield Finding(
            Severity.INFO,
            "consumers",
            "client.rack",
            "follower fetching is off (replica.selector.class unset): consumers read from "
            "each partition's leader, across zones",
            f"to read within a zone, set replica.selector.class={RACK_SELECTOR} on the brokers "
            "(server.properties, rolling restart) and add ?client.rack=<zone> to --broker",
        )
    elif s.client_rack is None:
        yield Finding(
            Severity.INFO,
            "consumers",
            "client.rack",
            "the brokers serve fetches from the nearest replica, but this --broker names no zone",
            "add ?client.rack=<zone> to --broker, e.g. kafka://h1:9092?client.rack=az1",
        )
    else:
        yield Finding(
            Severity.OK,
            "consumers",
            "client.rack",
            f"consumers fetch from replicas in zone {s.client_rack}",
        )


def plural(word: str, items: Sized) -> str:
    return word if len(items) == 1 else f"{word}s"


def listed(items: list[int]) -> str:
    return ", ".join(map(str, items))


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None
