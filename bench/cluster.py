"""Benchmark of `headwater.transport` on a 3-node Apache Kafka cluster, against Kafka's own tools.

    .venv/bin/python bench/cluster.py [--records N] [--failovers K] [--json PATH]

The cluster is the tests' (tests/kit/kafka.py: KRaft, three combined broker+controller nodes on
127.0.0.1, racks az1-az3, replication factor 3, min.insync.replicas 2), started once for the run.
Workload: 100-byte keyless records, acks=all, idempotent producers, no compression, a topic of
6 partitions.

  produce     headwater.transport (`produce_group`, groups of 1000 records) against
              kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance) in the same run
  consume     headwater.transport (`consume_columns`) against kafka-consumer-perf-test
              (org.apache.kafka.tools.ConsumerPerformance), each reading the whole topic; and
              confluent-kafka's bare `Consumer.consume` (counting messages, touching none): the
              ceiling of any Python consumer on librdkafka, to tell the transport's cost apart
  failover    a paced producer (a group of 20 records every 10 ms) into a 1-partition topic while
              the partition's leader is killed with kill -9, K times (the node restarted and back
              in the ISR between kills): how long each group waited for its acknowledgement;
              p50/p99 over every group, and each fail-over's stall (its longest wait)

Ratios are headwater.transport over Kafka's tool (above 1 is faster). Figures depend on the
machine's load: compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' kit starts the cluster

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from tests.kit.kafka import KafkaCluster, kafka_libs

import headwater.transport as hwt

VALUE = b"x" * 100
GROUP = 1000


def create_topic(cluster: KafkaCluster, partitions: int) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    with hwt.connect(cluster.url) as t:
        t.admin().create_topics([hwt.TopicSpec(name, partitions)])
    return name


def produce_transport(cluster: KafkaCluster, topic: str, records: int) -> float:
    """Records/s through `produce_group`, until every group is acknowledged."""
    group = [(topic, VALUE, None, None)] * GROUP
    failures: list[object] = []
    with hwt.connect(cluster.url) as t, t.producer() as producer:
        start = time.perf_counter()
        for _ in range(records // GROUP):
            producer.produce_group(group, lambda err: err is None or failures.append(err))
        assert producer.flush(300) == 0
        elapsed = time.perf_counter() - start
    assert not failures, failures[:3]
    return (records // GROUP) * GROUP / elapsed


def consume_transport(cluster: KafkaCluster, topic: str, records: int) -> float:
    """Records/s through `consume_columns`, from the first fetch to the last record."""
    with hwt.connect(cluster.url) as t, t.consumer(f"bench-{uuid.uuid4().hex[:6]}") as consumer:
        consumer.assign([hwt.TopicPartition(topic, p, hwt.EARLIEST) for p in range(6)])
        got, start = 0, time.perf_counter()
        while got < records:
            got += len(consumer.consume_columns(50_000, 1.0))
        return got / (time.perf_counter() - start)


#: Kafka's tools log warnings only, to stderr: their results alone are on stdout.
TOOLS_LOG4J2 = """\
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
"""


def consume_bare_librdkafka(cluster: KafkaCluster, topic: str, records: int) -> float:
    """Records/s of confluent-kafka's `consume` alone: the messages are counted, not read."""
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "bench-bare"})
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(6)])
        got, start = 0, time.perf_counter()
        while got < records:
            got += len(consumer.consume(50_000, 1.0))
        return got / (time.perf_counter() - start)
    finally:
        consumer.close()


def kafka_tool(cluster: KafkaCluster, main: str, *args: str) -> str:
    """Run one of Kafka's tools from the cluster's jars; its stdout."""
    config = cluster.directory / "tools-log4j2.properties"
    config.write_text(TOOLS_LOG4J2)
    cmd = ["java", "-Xmx512m", f"-Dlog4j2.configurationFile={config}",
           "-cp", f"{cluster.libs}/*", main, *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=900).stdout


def produce_kafka_tool(cluster: KafkaCluster, topic: str, records: int) -> float:
    out = kafka_tool(
        cluster, "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
        "--num-records", str(records), "--record-size", "100", "--throughput", "-1",
        "--producer-props", f"bootstrap.servers={cluster.bootstrap}", "acks=all",
        "enable.idempotence=true", "linger.ms=5",
    )  # fmt: skip
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    found = re.search(r"([\d.]+) records/sec", last)
    assert found, out
    return float(found.group(1))


def consume_kafka_tool(cluster: KafkaCluster, topic: str, records: int) -> float:
    out = kafka_tool(
        cluster, "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server",
        cluster.bootstrap, "--topic", topic, "--messages", str(records),
    )  # fmt: skip
    lines = out.splitlines()
    header = next(line for line in lines if "fetch.nMsg.sec" in line)
    row = [line for line in lines if line[:1].isdigit()][-1]
    fields = dict(zip([h.strip() for h in header.split(",")], row.split(","), strict=False))
    if "fetch.nMsg.sec" not in fields:
        raise RuntimeError(f"unexpected kafka-consumer-perf-test output:\n{out}")
    return float(fields["fetch.nMsg.sec"])  # without the time spent joining the group


def failover(cluster: KafkaCluster, kills: int) -> dict[str, Any]:
    """Group acknowledgement waits of a paced producer while the leader is killed `kills` times."""
    topic = create_topic(cluster, 1)
    waits: list[float] = []
    stalls: list[float] = []
    group = [(topic, VALUE, None, None)] * 20
    with hwt.connect(cluster.url) as t, t.producer() as producer:

        def run(seconds: float) -> list[float]:
            mine: list[float] = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                sent = time.monotonic()
                producer.produce_group(
                    group, lambda _err, s=sent: mine.append(time.monotonic() - s)
                )
                producer.poll(0.01)
            assert producer.flush(120) == 0
            return mine

        run(2.0)  # warm: connections and producer id
        for _ in range(kills):
            leader = cluster.leader(topic)
            leader.kill()
            during = run(25.0)
            waits.extend(during)
            stalls.append(max(during))
            leader.start()
            cluster.wait_for_brokers(3)
    ordered = sorted(waits)
    return {
        "groups": len(ordered),
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "stalls_s": [round(s, 2) for s in stalls],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=1_000_000, help="records per throughput run")
    p.add_argument("--failovers", type=int, default=3, help="leader kills")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    libs = kafka_libs()
    if libs is None:
        print(
            "bench/cluster.py: Kafka's jars are missing: run scripts/fetch-kafka.sh",
            file=sys.stderr,
        )
        return 2
    report: dict[str, Any] = {"records": args.records}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        cluster = KafkaCluster(Path(tmp), libs)
        start = time.monotonic()
        cluster.start()
        report["cluster_start_s"] = round(time.monotonic() - start, 1)
        try:
            ours, theirs = create_topic(cluster, 6), create_topic(cluster, 6)
            report["produce"] = {
                "transport": produce_transport(cluster, ours, args.records),
                "kafka-producer-perf-test": produce_kafka_tool(cluster, theirs, args.records),
            }
            report["consume"] = {
                "transport": consume_transport(cluster, theirs, args.records),
                "kafka-consumer-perf-test": consume_kafka_tool(cluster, ours, args.records),
                "confluent-kafka bare": consume_bare_librdkafka(cluster, ours, args.records),
            }
            report["failover"] = failover(cluster, args.failovers)
        finally:
            cluster.stop()
    for kind in ("produce", "consume"):
        ours_rate, tool_rate, *bare = report[kind].values()
        report[kind]["ratio"] = ours_rate / tool_rate
        print(f"{kind:8} transport {ours_rate:>12,.0f} rec/s   Kafka's tool {tool_rate:>12,.0f} "
              f"rec/s   ratio {ours_rate / tool_rate:.2f}")  # fmt: skip
        if bare:
            print(f"{'':8} confluent-kafka's bare consume {bare[0]:>12,.0f} rec/s: transport "
                  f"at {ours_rate / bare[0]:.2f} of it")  # fmt: skip
    f = report["failover"]
    print(f"failover {f['groups']} groups: ack wait p50 {f['p50_ms']:.1f} ms, "
          f"p99 {f['p99_ms']:.0f} ms; stall per kill -9 of the leader (s): "
          f"{f['stalls_s']}")  # fmt: skip
    print(f"cluster start {report['cluster_start_s']} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
