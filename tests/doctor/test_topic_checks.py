"""Each topic against the promise, on hand-built surveys: what is flagged, how urgently, and the
exact fix named."""

from __future__ import annotations

import json
import shlex

import headwater.transport as hwt
from headwater import doctor
from headwater.doctor import Severity
from headwater.doctor.survey import TopicSurvey

from .support import EMBEDDED_DEFAULTS, spread, survey, topic


def findings_for(report: doctor.Report, subject: str) -> list[doctor.Finding]:
    return [f for f in report.findings if f.subject == subject]


def test_durable_topic_is_ok() -> None:
    report = doctor.check(survey(topic()))
    (ok,) = findings_for(report, "topic clickstream.events")
    assert ok.severity is Severity.OK
    assert "replication factor 3, min.insync.replicas 2" in ok.message
    assert "copies in 3 zones" in ok.message
    assert report.exit_code == 0


def test_replication_factor_one_is_critical_with_a_reassignment_to_three_zones() -> None:
    report = doctor.check(survey(topic(partitions=spread(2, 1))))
    (finding,) = findings_for(report, "topic clickstream.events")
    assert (finding.severity, finding.check) == (Severity.CRITICAL, "replication factor")
    assert finding.fix is not None and "kafka-reassign-partitions.sh" in finding.fix
    plan = json.loads(shlex.split(finding.fix)[1])
    assert [sorted(p["replicas"]) for p in plan["partitions"]] == [[1, 2, 3], [1, 2, 3]]
    assert [p["replicas"][0] for p in plan["partitions"]] == [1, 2]  # leaders stay put
    assert report.exit_code == doctor.EXIT_AT_RISK


def test_replication_factor_two_is_high_and_min_isr_two_stops_writes_on_one_loss() -> None:
    report = doctor.check(survey(topic(partitions=spread(1, 2))))
    checks = {f.check: f.severity for f in findings_for(report, "topic clickstream.events")}
    assert checks == {"replication factor": Severity.HIGH, "min.insync.replicas": Severity.HIGH}


def test_min_insync_one_is_high_with_the_kafka_configs_command() -> None:
    (finding,) = findings_for(
        doctor.check(survey(topic(min_insync_replicas="1"))), "topic clickstream.events"
    )
    assert (finding.severity, finding.check) == (Severity.HIGH, "min.insync.replicas")
    assert finding.fix == (
        "kafka-configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type topics "
        "--entity-name clickstream.events --alter --add-config min.insync.replicas=2"
    )


def test_min_insync_equal_to_the_replication_factor_stops_writes_on_one_loss() -> None:
    (finding,) = findings_for(
        doctor.check(survey(topic(min_insync_replicas="3"))), "topic clickstream.events"
    )
    assert finding.severity is Severity.HIGH
    assert "one broker down stops every acks=all write" in finding.message
    assert finding.fix is not None and finding.fix.endswith("min.insync.replicas=2")


def test_unclean_election_is_high_whether_set_on_the_topic_or_inherited() -> None:
    (own,) = findings_for(
        doctor.check(survey(topic(unclean_leader_election_enable="true"))),
        "topic clickstream.events",
    )
    assert (own.severity, own.check) == (Severity.HIGH, "unclean.leader.election.enable")
    assert own.fix is not None and own.fix.endswith("unclean.leader.election.enable=false")
    inherited = doctor.check(
        survey(
            hwt_topic_without_unclean(),
            broker_config={"unclean.leader.election.enable": "true", "min.insync.replicas": "2"},
        )
    )
    topic_finding = findings_for(inherited, "topic clickstream.events")[0]
    assert "inherited from the brokers" in topic_finding.message
    brokers = findings_for(inherited, "brokers")
    assert any(f.check == "unclean.leader.election.enable" and "--entity-default" in (f.fix or "")
               for f in brokers)  # fmt: skip


def hwt_topic_without_unclean() -> TopicSurvey:
    t = topic()
    assert t.config is not None
    config = {k: v for k, v in t.config.items() if k != "unclean.leader.election.enable"}
    return TopicSurvey(t.name, t.partitions, config)


def test_a_dead_broker_leaves_partitions_under_replicated() -> None:
    partitions = tuple(
        hwt.PartitionReplicas(p.partition, p.leader if p.leader != 3 else p.replicas[1],
                              p.replicas, tuple(r for r in p.isr if r != 3))
        for p in spread(3, 3)
    )  # fmt: skip
    s = survey(topic(partitions=partitions), brokers=2)
    report = doctor.check(s)
    (finding,) = findings_for(report, "topic clickstream.events")
    assert (finding.severity, finding.check) == (Severity.HIGH, "under-replicated")
    assert "broker 3 down" in finding.message and "2 of 3 copies in sync" in finding.message
    cluster = [f for f in findings_for(report, "cluster") if f.check == "brokers"]
    assert [f.severity for f in cluster] == [Severity.HIGH]
    assert "broker 3: holds replicas but does not answer" in cluster[0].message


def test_one_copy_in_sync_is_critical() -> None:
    alone = (hwt.PartitionReplicas(0, 1, (1, 2, 3), (1,)),)
    (finding,) = findings_for(
        doctor.check(survey(topic(partitions=alone))), "topic clickstream.events"
    )
    assert finding.severity is Severity.CRITICAL
    assert "acks=all writes to them fail now" in finding.message


def test_partition_without_leader_is_critical() -> None:
    offline = (hwt.PartitionReplicas(0, None, (3,), ()),)
    report = doctor.check(survey(topic(partitions=offline), brokers=2))
    checks = {f.check: f for f in findings_for(report, "topic clickstream.events")}
    assert checks["offline"].severity is Severity.CRITICAL
    assert "--unavailable-partitions" in (checks["offline"].fix or "")


def test_copies_in_one_zone_are_medium_and_the_plan_spreads_them() -> None:
    crowded = (hwt.PartitionReplicas(0, 1, (1, 2, 3), (1, 2, 3)),)  # az1, az1, az2
    s = survey(topic(partitions=crowded), brokers=4, racks=("az1", "az1", "az2", "az3"))
    (finding,) = [f for f in doctor.check(s).findings if f.check == "rack spread"]
    assert finding.severity is Severity.MEDIUM
    assert finding.fix is not None
    (planned,) = json.loads(shlex.split(finding.fix)[1])["partitions"]
    zones = {1: "az1", 2: "az1", 3: "az2", 4: "az3"}
    assert planned["replicas"][0] == 1 and {zones[r] for r in planned["replicas"]} == {
        "az1",
        "az2",
        "az3",
    }


def test_single_node_reports_what_it_cannot_promise_and_exits_zero() -> None:
    single = hwt.PartitionReplicas(0, 1, (1,), (1,))
    s = survey(
        topic(partitions=(single,), min_insync_replicas="1"),
        brokers=1,
        racks=(None,),
        broker_config=EMBEDDED_DEFAULTS,
    )
    report = doctor.check(s)
    severities = {(f.subject, f.check): f.severity for f in report.findings}
    assert severities[("cluster", "brokers")] is Severity.MEDIUM
    assert severities[("broker", "fsync")] is Severity.MEDIUM
    assert severities[("topic clickstream.events", "durability")] is Severity.OK
    assert report.exit_code == 0
    assert "one node cannot replicate" in doctor.as_text(report)


def test_missing_topic_asked_for_is_reported_not_fatal() -> None:
    s = survey(TopicSurvey("orders", missing=True))
    (finding,) = findings_for(doctor.check(s), "topic orders")
    assert (finding.severity, finding.check) == (Severity.INFO, "exists")


def test_findings_come_most_urgent_first() -> None:
    report = doctor.check(
        survey(topic("a", min_insync_replicas="1"), topic("b", partitions=spread(1, 1)))
    )
    ranks = [f.severity for f in report.findings]
    assert ranks == sorted(ranks) and ranks[0] is Severity.CRITICAL


def test_durable_constants_are_the_transports() -> None:
    assert (hwt.DURABLE_REPLICATION_FACTOR, hwt.DURABLE_MIN_INSYNC_REPLICAS) == (3, 2)
