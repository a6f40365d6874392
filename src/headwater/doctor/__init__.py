"""`headwater doctor`: check a broker or cluster, and headwater's topics on it, against the
durability promise (DESIGN.md, "Delivery guarantees"; `headwater.transport.durability`), and say
what to change, most urgent first.

    import headwater.transport as hwt
    from headwater import doctor

    with hwt.connect("kafka://h1:9092,h2:9092,h3:9092") as transport:
        report = doctor.examine(transport, topics=("orders",))
    print(doctor.as_text(report)); exit(report.exit_code)

`survey` reads the cluster through `headwater.transport` (the one seam); `cluster_checks` and
`topic_checks` turn that reading into `Finding`s without any I/O; `render` writes them.
"""

from __future__ import annotations

import headwater.transport as hwt
from headwater.doctor.cluster_checks import cluster_checks
from headwater.doctor.findings import EXIT_AT_RISK, Finding, Report, Severity
from headwater.doctor.render import as_json, as_text
from headwater.doctor.survey import Survey, take_survey
from headwater.doctor.topic_checks import topic_checks

__all__ = [
    "EXIT_AT_RISK",
    "Finding",
    "Report",
    "Severity",
    "Survey",
    "as_json",
    "as_text",
    "check",
    "examine",
]


def examine(
    transport: hwt.Transport, topics: tuple[str, ...] = (), timeout_s: float = 10.0
) -> Report:
    """Survey the cluster behind `transport` and check it (raises `BrokerUnavailableError`)."""
    return check(take_survey(transport, topics, timeout_s))


def check(s: Survey) -> Report:
    """Every finding for one survey, most urgent first."""
    findings = [*cluster_checks(s)]
    for topic in s.topics:
        findings += topic_checks(s, topic)
    if not any(not t.missing for t in s.topics):
        findings.append(
            Finding(
                Severity.INFO,
                "topics",
                "exists",
                "no headwater topics on this broker yet; topics headwater creates get "
                f"replication factor {hwt.DURABLE_REPLICATION_FACTOR} and "
                f"min.insync.replicas={hwt.DURABLE_MIN_INSYNC_REPLICAS} on 3 or more brokers",
            )
        )
    return Report.of(s.broker, _summary(s), findings)


def _summary(s: Survey) -> str:
    c = s.cluster
    zones = sorted({b.rack for b in c.brokers if b.rack})
    kind = "embedded headwater broker" if s.headwater_broker else f"cluster {c.cluster_id}"
    return (
        f"{kind}: {len(c.brokers)} broker{'s' if len(c.brokers) != 1 else ''}"
        + (f" in zones {', '.join(zones)}" if zones else ", no racks")
        + f", controller {c.controller_id}; {len(s.topics)} topic"
        + ("" if len(s.topics) == 1 else "s")
        + " checked"
    )
