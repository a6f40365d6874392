"""The cluster as a whole: brokers, zones, broker defaults, fsync, producers, follower fetching."""

from __future__ import annotations

import headwater.transport as hwt
from headwater import doctor
from headwater.doctor import Severity

from .support import KAFKA_DEFAULTS, survey, topic


def by_check(report: doctor.Report, subject: str) -> dict[str, doctor.Finding]:
    return {f.check: f for f in report.findings if f.subject == subject}


def test_three_brokers_in_three_zones_with_safe_defaults_is_ok() -> None:
    report = doctor.check(survey(topic()))
    cluster = by_check(report, "cluster")
    assert (cluster["brokers"].severity, cluster["racks"].severity) == (Severity.OK, Severity.OK)
    assert by_check(report, "brokers")["fsync"].severity is Severity.INFO
    assert by_check(report, "producer")["acks"].severity is Severity.OK
    assert report.exit_code == 0


def test_two_brokers_are_high() -> None:
    finding = by_check(doctor.check(survey(topic(), brokers=2)), "cluster")["brokers"]
    assert finding.severity is Severity.HIGH


def test_brokers_without_racks_are_medium() -> None:
    finding = by_check(doctor.check(survey(topic(), racks=())), "cluster")["racks"]
    assert finding.severity is Severity.MEDIUM
    assert "broker.rack" in (finding.fix or "")


def test_broker_defaults_that_make_auto_created_topics_fragile() -> None:
    config = {**KAFKA_DEFAULTS, "default.replication.factor": "1", "min.insync.replicas": "1"}
    found = by_check(doctor.check(survey(topic(), broker_config=config)), "brokers")
    assert found["default.replication.factor"].severity is Severity.HIGH
    assert found["min.insync.replicas"].severity is Severity.MEDIUM
    assert found["min.insync.replicas"].fix == (
        "kafka-configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type brokers "
        "--entity-default --alter --add-config min.insync.replicas=2"
    )


def test_producer_settings_are_read_from_the_transport() -> None:
    """A transport whose raw settings weaken acks is caught: the doctor reads what the
    producer is built with, not a copy of the defaults."""
    weak = hwt.connect("kafka://h1.invalid:9092", config={"acks": "1", "enable.idempotence": False})
    found = by_check(doctor.check(survey(topic(), producer=weak.producer_settings())), "producer")
    assert found["acks"].severity is Severity.HIGH
    assert found["enable.idempotence"].severity is Severity.HIGH
    safe = hwt.connect("kafka://h1.invalid:9092").producer_settings()
    assert by_check(doctor.check(survey(topic(), producer=safe)), "producer")["acks"].severity is (
        Severity.OK
    )


def test_follower_fetching_needs_the_selector_and_a_client_rack() -> None:
    selector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
    off = by_check(doctor.check(survey(topic())), "consumers")["client.rack"]
    assert off.severity is Severity.INFO and "replica.selector.class" in (off.fix or "")
    config = {**KAFKA_DEFAULTS, "replica.selector.class": selector}
    no_rack = by_check(doctor.check(survey(topic(), broker_config=config)), "consumers")
    assert "?client.rack=" in (no_rack["client.rack"].fix or "")
    on = by_check(
        doctor.check(survey(topic(), broker_config=config, client_rack="az1")), "consumers"
    )
    assert on["client.rack"].severity is Severity.OK
