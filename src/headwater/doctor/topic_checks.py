"""Checks of each topic against the promise: replication factor 3, min.insync.replicas 2 (and
below the replication factor), unclean leader election off, copies in distinct zones, every
partition led and in sync now.

Pure: a `Survey` in, findings out. On a single node the replication checks are left out: the
cluster finding says once what one node cannot promise.
"""

from __future__ import annotations

from collections.abc import Iterator

import headwater.transport as hwt
from headwater.doctor import fixes
from headwater.doctor.cluster_checks import listed, plural
from headwater.doctor.findings import Finding, Severity
from headwater.doctor.survey import Survey, TopicSurvey

RF = hwt.DURABLE_REPLICATION_FACTOR
MIN_ISR = hwt.DURABLE_MIN_INSYNC_REPLICAS


def topic_checks(s: Survey, topic: TopicSurvey) -> Iterator[Finding]:
    subject = f"topic {topic.name}"
    if topic.missing:
        yield Finding(
            Severity.INFO,
            subject,
            "exists",
            "no such topic yet: a producer's first write creates it with the broker's defaults "
            "(default.replication.factor, min.insync.replicas)",
        )
        return
    findings = [*_availability(s, topic, subject)]
    if len(s.cluster.brokers) > 1:
        findings += [*_replication(s, topic, subject), *_zones(s, topic, subject)]
    yield from findings
    if not any(f.severity <= Severity.MEDIUM for f in findings):
        yield Finding(Severity.OK, subject, "durability", _summary(s, topic))


def _replication_factor(topic: TopicSurvey) -> int:
    return max((len(p.replicas) for p in topic.partitions), default=0)


def _min_isr(s: Survey, topic: TopicSurvey) -> int:
    value = (topic.config or {}).get("min.insync.replicas") or s.broker_setting(
        "min.insync.replicas"
    )
    return int(value) if value is not None and value.isdigit() else 1


def _unclean(s: Survey, topic: TopicSurvey) -> tuple[bool, bool]:
    """(unclean election on, set on the topic itself rather than inherited)."""
    own = (topic.config or {}).get("unclean.leader.election.enable")
    value = own if own is not None else s.broker_setting("unclean.leader.election.enable")
    return value == "true", own is not None


def _availability(s: Survey, topic: TopicSurvey, subject: str) -> Iterator[Finding]:
    live = {b.id for b in s.cluster.brokers}
    offline = [p for p in topic.partitions if p.leader is None]
    if offline:
        away = sorted({r for p in offline for r in p.replicas if r not in live})
        yield Finding(
            Severity.CRITICAL,
            subject,
            "offline",
            f"no leader for {_partitions(offline)}: nothing is written to or read from "
            f"them; their records are only on {plural('broker', away)} {listed(away)}, down",
            f"bring {plural('broker', away)} {listed(away)} back; "
            + fixes.describe_partitions(s.bootstrap, topic.name, "unavailable-partitions"),
        )
    lagging = [p for p in topic.partitions if p.leader is not None and p.under_replicated]
    if not lagging:
        return
    min_isr = _min_isr(s, topic)
    out = sorted({r for p in lagging for r in p.replicas if r not in p.isr})
    down = [r for r in out if r not in live]
    if down:
        why = f"{plural('broker', down)} {listed(down)} down"
        action = f"bring {plural('broker', down)} {listed(down)} back"
    else:
        why = f"{plural('broker', out)} {listed(out)} behind"
        action = f"read the logs of {plural('broker', out)} {listed(out)}"
    fix = f"{action}; " + fixes.describe_partitions(
        s.bootstrap, topic.name, "under-replicated-partitions"
    )
    short = [p for p in lagging if len(p.isr) < min_isr or len(p.isr) == 1]
    if short:
        smallest = min(len(p.isr) for p in short)
        yield Finding(
            Severity.CRITICAL,
            subject,
            "under-replicated",
            f"{smallest} in-sync cop{'y' if smallest == 1 else 'ies'} of {_partitions(short)}"
            f" (min.insync.replicas={min_isr}; {why}): their records are one failure from loss"
            + (" and acks=all writes to them fail now" if smallest < min_isr else ""),
            fix,
        )
    rest = [p for p in lagging if p not in short]
    if rest:
        yield Finding(
            Severity.HIGH,
            subject,
            "under-replicated",
            f"under-replicated {_partitions(rest)} ({why}): "
            f"{min(len(p.isr) for p in rest)} of {_replication_factor(topic)} copies in sync, "
            "one more failure from stopping writes",
            fix,
        )


def _replication(s: Survey, topic: TopicSurvey, subject: str) -> Iterator[Finding]:
    rf = _replication_factor(topic)
    target = min(RF, len(s.cluster.brokers))
    if rf < target:
        yield Finding(
            Severity.CRITICAL if rf == 1 else Severity.HIGH,
            subject,
            "replication factor",
            f"replication factor {rf}: "
            + (
                "each partition has one copy, lost with its broker's disk"
                if rf == 1
                else f"one broker down leaves one copy; with min.insync.replicas={MIN_ISR} writes "
                "stop, with 1 an acknowledged record can be lost"
            )
            + f"; the fix moves it to {target} copies in distinct zones",
            fixes.reassign(s.bootstrap, topic.name, topic.partitions, s.cluster.brokers, target),
        )
    min_isr = _min_isr(s, topic)
    if rf >= RF and min_isr < MIN_ISR:
        yield Finding(
            Severity.HIGH,
            subject,
            "min.insync.replicas",
            f"min.insync.replicas={min_isr}: once followers fall behind, acks=all is satisfied "
            "by the leader alone, and an acknowledged record can die with it",
            fixes.topic_config(s.bootstrap, topic.name, "min.insync.replicas", str(MIN_ISR)),
        )
    elif rf > 1 and min_isr >= rf:
        better = max(1, rf - 1)
        yield Finding(
            Severity.HIGH,
            subject,
            "min.insync.replicas",
            f"min.insync.replicas={min_isr} with {rf} replicas: one broker down stops every "
            "acks=all write (the collector answers 503)",
            fixes.topic_config(s.bootstrap, topic.name, "min.insync.replicas", str(better)),
        )
    unclean, own = _unclean(s, topic)
    if unclean:
        yield Finding(
            Severity.HIGH,
            subject,
            "unclean.leader.election.enable",
            "unclean leader election is on"
            + ("" if own else " (inherited from the brokers)")
            + ": a replica that missed records can become leader, truncating acknowledged "
            "records",
            fixes.topic_config(s.bootstrap, topic.name, "unclean.leader.election.enable", "false"),
        )


def _zones(s: Survey, topic: TopicSurvey, subject: str) -> Iterator[Finding]:
    rack = {b.id: b.rack for b in s.cluster.brokers}
    zones = {r for r in rack.values() if r is not None}
    if not zones:
        return  # the cluster finding says so once
    crowded = []
    for p in topic.partitions:
        known = [rack[r] for r in p.replicas if r in rack]
        if len(set(known)) < min(len(p.replicas), len(zones)) and len(known) == len(p.replicas):
            crowded.append(p)
    if crowded:
        yield Finding(
            Severity.MEDIUM,
            subject,
            "rack spread",
            f"two or more copies in one zone for {_partitions(crowded)}: losing that zone "
            "takes them together",
            fixes.reassign(
                s.bootstrap,
                topic.name,
                topic.partitions,
                s.cluster.brokers,
                _replication_factor(topic),
            ),
        )


def _summary(s: Survey, topic: TopicSurvey) -> str:
    n = len(topic.partitions)
    head = f"{n} partition{'s' if n != 1 else ''}, all led and in sync"
    if len(s.cluster.brokers) == 1:
        return head + " (one copy each: a single node)"
    rack = {b.id: b.rack for b in s.cluster.brokers}
    spans = min((len({rack.get(r) for r in p.replicas}) for p in topic.partitions), default=0)
    unclean, _ = _unclean(s, topic)
    return (
        f"replication factor {_replication_factor(topic)}, min.insync.replicas "
        f"{_min_isr(s, topic)}, unclean leader election {'on' if unclean else 'off'}, "
        + (f"copies in {spans} zones, " if any(rack.values()) else "")
        + head
    )


def _partitions(partitions: list[hwt.PartitionReplicas]) -> str:
    return f"{plural('partition', partitions)} {_ids(partitions)}"


def _ids(partitions: list[hwt.PartitionReplicas]) -> str:
    return listed([p.partition for p in partitions])
