"""A single-node Apache Kafka broker for the broker benchmark: the fair peer of the single-node
embedded broker.

One KRaft node in combined mode (broker and controller in one JVM) from the jars the tests' kit
runs (tests/kit/kafka.py: `.cache/kafka/<version>/libs`, or `HEADWATER_KAFKA_LIBS`), on a free
loopback port with its own data directory, replication factor 1 everywhere (one node has nothing
to replicate to). `broker_argv` writes `server.properties`, formats the storage and returns the
command that runs it; the harness runs, probes and kills it like any other broker.

Durability is matched to headwater's `--flush` policy, the nearest Kafka has:
  always    log.flush.interval.messages=1: every append is fsynced before it is acknowledged
  interval  log.flush.interval.ms=FLUSH_INTERVAL_MS (headwater's default period, 1000 ms)
  never     Kafka's default: the OS writes the page cache back when it likes
JVM: Kafka's own start-script settings (kafka-server-start.sh: a 1 GB heap, G1 with 20 ms pauses),
not the tests' small-heap C1-only flags, which trade throughput for start-up time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' kit knows the jars

from tests.kit.kafka import LOG4J2, kafka_libs, new_cluster_id

#: headwater broker's default `--flush-interval-ms`: the `interval` policy's fsync period.
FLUSH_INTERVAL_MS = 1000

#: kafka-server-start.sh's KAFKA_HEAP_OPTS and kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
JVM_FLAGS = ["-Xms1g", "-Xmx1g", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
             "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
             "-Djava.awt.headless=true"]  # fmt: skip

FLUSH_SETTINGS = {
    "always": {"log.flush.interval.messages": "1"},
    "interval": {
        "log.flush.interval.ms": str(FLUSH_INTERVAL_MS),
        "log.flush.scheduler.interval.ms": str(FLUSH_INTERVAL_MS),
    },
    "never": {},
}


def libs() -> Path:
    found = kafka_libs()
    if found is None:
        raise RuntimeError("Apache Kafka's jars are not fetched: run scripts/fetch-kafka.sh")
    return found


def settings(port: int, controller_port: int, data_dir: Path, flush: str) -> dict[str, str]:
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "group.initial.rebalance.delay.ms": "0",
        **FLUSH_SETTINGS[flush],
    }


def broker_argv(port: int, controller_port: int, data_dir: Path, flush: str) -> list[str]:
    """Write the node's config beside `data_dir`, format its storage; the command to run it."""
    home = data_dir.parent
    home.mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    config.write_text(
        "".join(f"{k}={v}\n" for k, v in settings(port, controller_port, data_dir, flush).items())
    )
    log4j = home / "log4j2.properties"
    log4j.write_text(LOG4J2.replace("rootLogger.level = INFO", "rootLogger.level = WARN"))

    def java(main: str, *args: str) -> list[str]:
        return ["java", *JVM_FLAGS, f"-Dlog4j2.configurationFile={log4j}",
                "-cp", f"{libs()}/*", main, *args]  # fmt: skip

    # `--cluster-id=ID`, not `-t ID`: a base64 id may begin with "-" and read as an option.
    fmt = java("kafka.tools.StorageTool", "format", f"--cluster-id={new_cluster_id()}",
               "--config", str(config))  # fmt: skip
    done = subprocess.run(fmt, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"formatting Kafka's storage failed:\n{done.stdout}{done.stderr}")
    return java("kafka.Kafka", str(config))
