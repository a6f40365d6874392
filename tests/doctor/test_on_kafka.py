"""`headwater doctor` on the 3-zone Kafka cluster: a durable topic passes, weak ones are flagged
with a fix that Kafka's own tools accept (and that makes them pass), a killed broker shows up as
under-replicated partitions. The real CLI runs as a subprocess."""

from __future__ import annotations

import json
import shlex
import subprocess
import uuid
from pathlib import Path

import pytest

import headwater.transport as hwt
from headwater import doctor
from headwater.doctor import Severity
from tests.kit.kafka import KafkaCluster, KafkaKind
from tests.kit.processes import run_headwater
from tests.kit.waiting import wait_for

pytestmark = pytest.mark.kafka

#: The scripts a fix names -> the class each runs (bin/kafka-*.sh call kafka-run-class.sh CLASS),
#: on Kafka 4, and where Kafka 3.9 still has it in Scala.
KAFKA_TOOLS = {
    "kafka-configs.sh": "org.apache.kafka.tools.ConfigCommand",
    "kafka-reassign-partitions.sh": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
}
KAFKA3_TOOLS = {**KAFKA_TOOLS, "kafka-configs.sh": "kafka.admin.ConfigCommand"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def topic_findings(report: doctor.Report, name: str) -> dict[str, doctor.Finding]:
    return {f.check: f for f in report.findings if f.subject == f"topic {name}"}


def examine(cluster: KafkaCluster, *topics: str) -> doctor.Report:
    with hwt.connect(cluster.url) as transport:
        return doctor.examine(transport, topics)


def run_fix(cluster: KafkaCluster, fix: str, workdir: Path) -> None:
    """Run a finding's fix as a user would, with Kafka's tool classes for the bin/ scripts."""
    for command in fix.split(" && "):
        argv = shlex.split(command)
        if argv[0] == "echo":  # echo '<plan>' > file
            (workdir / argv[3]).write_text(argv[1])
            continue
        tools = KAFKA3_TOOLS if cluster.kind == KafkaKind.ZOOKEEPER else KAFKA_TOOLS
        java = cluster.nodes[0].java(tools[argv[0]], *argv[1:])
        done = subprocess.run(java, cwd=workdir, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


def test_durable_topic_passes(kafka_cluster: KafkaCluster) -> None:
    name = unique("durable")
    with hwt.connect(kafka_cluster.url) as transport:
        transport.admin().create_topics([hwt.TopicSpec(name, partitions=3)])
    report = examine(kafka_cluster, name)
    (ok,) = topic_findings(report, name).values()
    assert ok.severity is Severity.OK
    assert ok.message == (
        "replication factor 3, min.insync.replicas 2, unclean leader election off, "
        "copies in 3 zones, 3 partitions, all led and in sync"
    )
    cluster = {f.check: f.severity for f in report.findings if f.subject == "cluster"}
    assert cluster == {"brokers": Severity.OK, "racks": Severity.OK}


def test_weak_topics_are_flagged_and_their_fixes_make_them_pass(
    kafka_cluster: KafkaCluster, tmp_path: Path
) -> None:
    rf1, isr1, unclean = unique("rf1"), unique("isr1"), unique("unclean")
    with hwt.connect(kafka_cluster.url) as transport:
        transport.admin().create_topics(
            [
                hwt.TopicSpec(rf1, partitions=2, replication_factor=1),
                hwt.TopicSpec(isr1, config={"min.insync.replicas": "1"}),
                hwt.TopicSpec(unclean, config={"unclean.leader.election.enable": "true"}),
            ]
        )
    args = ["doctor", "--broker", kafka_cluster.url, "--json"]
    done = run_headwater(*args, "--topic", rf1, "--topic", f"{isr1},{unclean}", timeout_s=60)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["exit_code"] == 1
    found = {(f["subject"], f["check"]): f for f in report["findings"]}
    weak = [
        (rf1, "replication factor", "CRITICAL", "kafka-reassign-partitions.sh"),
        (isr1, "min.insync.replicas", "HIGH", "--add-config min.insync.replicas=2"),
        (unclean, "unclean.leader.election.enable", "HIGH", "unclean.leader.election.enable=false"),
    ]
    for name, check, severity, fix in weak:
        finding = found[(f"topic {name}", check)]
        assert (finding["severity"], fix in finding["fix"]) == (severity, True), finding
        run_fix(kafka_cluster, finding["fix"], tmp_path)

    def all_pass() -> doctor.Report | None:
        report = examine(kafka_cluster, rf1, isr1, unclean)
        verdicts = [topic_findings(report, n) for n in (rf1, isr1, unclean)]
        return report if all(list(v) == ["durability"] for v in verdicts) else None

    report_after = wait_for(all_pass, 60, "the fixed topics to pass")  # reassignment copies data
    assert topic_findings(report_after, rf1)["durability"].message.startswith(
        "replication factor 3, min.insync.replicas 2"
    )


@pytest.mark.slow  # the controller fences the dead broker after its session (~10 s), then a heal
def test_killed_broker_shows_as_under_replicated(kafka_cluster: KafkaCluster) -> None:
    name = unique("loss")
    with hwt.connect(kafka_cluster.url) as transport:
        transport.admin().create_topics([hwt.TopicSpec(name, partitions=3)])
    victim = kafka_cluster.leader(name, 0)
    victim.kill()

    def under_replicated() -> doctor.Finding | None:
        try:
            report = examine(kafka_cluster, name)
        except hwt.BrokerUnavailableError:  # the controller may be moving: ask again
            return None
        return topic_findings(report, name).get("under-replicated")

    finding = wait_for(under_replicated, 60, f"{name} under-replicated after kill -9")
    assert finding.severity is Severity.HIGH
    assert f"broker {victim.node_id} down" in finding.message
    assert "2 of 3 copies in sync" in finding.message
    assert "--under-replicated-partitions" in (finding.fix or "")
