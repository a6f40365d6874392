"""A private Apache Kafka cluster for tests: three KRaft nodes on loopback, one per "zone".

This module holds the API both kinds of cluster share (`KafkaCluster`, `KafkaNode`; the
ZooKeeper-mode cluster, Kafka 3.9 with a ZooKeeper ensemble, is tests/kit/zookeeper.py) and the
KRaft cluster itself. The jars come from Maven Central through scripts/fetch-kafka.sh (run by
scripts/bootstrap.sh) into `.cache/kafka/<version>/libs`; the version is the kind's pom's
`kafka.version` (`POMS`; `HEADWATER_KAFKA_LIBS` / `HEADWATER_KAFKA3_LIBS` point at another
directory of jars). Each node runs `kafka.Kafka` with
`java -cp libs/*` in combined mode (broker and controller in one JVM: three voters, so the
quorum and the partitions survive the loss of any one node), `broker.rack` az1/az2/az3, its
own data directory and `server.properties` under the cluster's directory, and its log (stdout
and stderr, log4j to the console) in `node<N>.log` there. Topics default to replication factor
3 with `min.insync.replicas=2` and unclean leader election off: the settings that keep every
acknowledged record through the loss of one broker.

Start-up: the storage of all nodes is formatted in parallel (`kafka.tools.StorageTool format`),
then the three JVMs start together; the cluster is ready when its metadata lists three brokers.
Stopping sends SIGTERM to every node at once (a controlled shutdown) and SIGKILL to those still
running after a timeout, so no JVM outlives the test session. A node can be killed (-9), paused
(SIGSTOP), resumed and restarted on the same ports and data, for broker-loss tests.

`controller()` names the active controller: KRaft's DescribeCluster answers a random broker as
"controller" (KIP-919), so the kit asks the quorum itself (`MetadataQuorumCommand --status`).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from tests.kit.ports import free_port
from tests.kit.processes import ManagedProcess
from tests.kit.waiting import wait_for, wait_until

ROOT = Path(__file__).resolve().parents[2]


class KafkaKind(StrEnum):
    """Where a cluster keeps its metadata: a KRaft quorum (Kafka 4) or ZooKeeper (Kafka 3.9)."""

    KRAFT = "kraft"
    ZOOKEEPER = "zookeeper"


#: The pom each kind's jars come from (scripts/fetch-kafka.sh) and the variable that overrides them.
POMS = {
    KafkaKind.KRAFT: ROOT / "scripts" / "kafka" / "pom.xml",
    KafkaKind.ZOOKEEPER: ROOT / "scripts" / "kafka" / "pom-3.xml",
}
LIBS_VARIABLES = {
    KafkaKind.KRAFT: "HEADWATER_KAFKA_LIBS",
    KafkaKind.ZOOKEEPER: "HEADWATER_KAFKA3_LIBS",
}
POM = POMS[KafkaKind.KRAFT]

#: Small heaps and a fast start: C1 only, the serial collector, the JDK's class-data archive.
JVM_FLAGS = ["-Xms64m", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-Xshare:auto", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]  # fmt: skip

#: Broker settings beside the listeners, ids and directories (see the module docstring).
SERVER_SETTINGS = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    # Fewer internal partitions than Kafka's 50: the first group or transaction waits for them.
    "offsets.topic.num.partitions": "6",
    "transaction.state.log.num.partitions": "6",
    "group.initial.rebalance.delay.ms": "0",
    "num.partitions": "1",
    # Threads sized for a shared 2-core machine, not a server.
    "num.network.threads": "2",
    "num.io.threads": "2",
    "background.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "log.cleaner.threads": "1",
    "num.replica.fetchers": "1",
}

#: Settings Kafka 4 knows and 3.9 does not (share groups came with 4.0).
KRAFT_SETTINGS = {
    "share.coordinator.state.topic.num.partitions": "3",
    "share.coordinator.state.topic.replication.factor": "3",
    # A killed broker is fenced (and its partitions led elsewhere) after 6 s, not 9: the same
    # as the ZooKeeper cluster's session, so broker-loss rounds cost alike on both.
    "broker.session.timeout.ms": "6000",
    "broker.heartbeat.interval.ms": "1500",
}

#: Client settings of the kit's Kafka tools: an answer that does not come soon is asked again.
TOOL_CONFIG = {"request.timeout.ms": "3000", "default.api.timeout.ms": "6000"}

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""

RACKS = ("az1", "az2", "az3")


def kafka_version(kind: KafkaKind = KafkaKind.KRAFT) -> str:
    """The Kafka version setup fetches for `kind`: its pom's `kafka.version`."""
    pom = POMS[kind]
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if found is None:
        raise RuntimeError(f"{pom} names no kafka.version")
    return found.group(1)


def kafka_libs(version: str | None = None, kind: KafkaKind = KafkaKind.KRAFT) -> Path | None:
    """The directory of Kafka's jars for `kind`, or None when setup has not fetched them."""
    override = os.environ.get(LIBS_VARIABLES[kind])
    libs = (
        Path(override)
        if override
        else ROOT / ".cache" / "kafka" / (version or kafka_version(kind)) / "libs"
    )
    return libs if (libs / ".complete").is_file() or (override and libs.is_dir()) else None


def new_cluster_id() -> str:
    """A cluster id as Kafka makes one (`Uuid.randomUuid`): a random UUID in URL-safe base64
    without padding, never starting with "-" (the storage tool would read it as an option)."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not found.startswith("-"):
            return found


class JvmProcess:
    """kill -9, SIGSTOP/SIGCONT and a controlled stop for a node that runs one JVM (`process`)."""

    process: ManagedProcess | None

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def kill(self) -> None:
        """kill -9: the node stops answering at once, nothing is flushed or handed over."""
        if self.process is not None:
            self.process.kill()

    def pause(self) -> None:
        """SIGSTOP: the node holds its connections but answers nothing until `resume`."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM (a controlled shutdown), SIGKILL after `timeout_s`; the exit code."""
        if self.process is None:
            return None
        self.resume()  # a paused JVM cannot act on SIGTERM
        return self.process.stop(timeout_s=timeout_s)

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.proc is not None and self.alive():
            self.process.proc.send_signal(sig)


def java_command(
    libs: Path, logging: str, main_class: str, *args: str, flags: Sequence[str] = ()
) -> list[str]:
    """`java` with the kit's flags (then `flags`: the last of a kind wins), `logging` (the -D
    naming the log config) and `libs/*` on the class path."""
    return ["java", *JVM_FLAGS, *flags, logging, "-cp", f"{libs}/*", main_class, *args]


@dataclass
class KafkaNode(JvmProcess):
    """One broker of a `KafkaCluster` (in KRaft mode also a controller); restartable in place."""

    node_id: int
    rack: str
    directory: Path
    libs: Path
    #: The JVM option that names the log configuration (log4j 2 for Kafka 4, log4j 1 for 3.9).
    logging: str = ""
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)  # KRaft's CONTROLLER listener
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def java(self, main_class: str, *args: str) -> list[str]:
        logging = self.logging or (
            f"-Dlog4j2.configurationFile={self.directory.parent / 'log4j2.properties'}"
        )
        return java_command(self.libs, logging, main_class, *args)

    def write_config(self, settings: Mapping[str, str]) -> None:
        """server.properties: `settings`, then SERVER_SETTINGS."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = {**settings, **SERVER_SETTINGS}
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def format_storage(self, cluster_id: str) -> None:
        """`kafka-storage format`: meta.properties and the bootstrap metadata of the log dir."""
        cmd = self.java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                        "-c", str(self.config_path), "--ignore-formatted")  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            output = done.stdout + done.stderr
            raise RuntimeError(
                f"formatting node {self.node_id} failed ({done.returncode}):\n{output}"
            )

    def start(self, deadline_s: float = 120.0) -> KafkaNode:
        """Start (or start again) and return once its broker port accepts connections."""
        self.process = ManagedProcess(
            self.java("kafka.Kafka", str(self.config_path)),
            self.directory / f"node{self.node_id}.log",
            name=f"kafka-node{self.node_id}-{self.rack}",
            stop_timeout_s=20,
        )
        self.process.start(ready_port=("127.0.0.1", self.port), deadline_s=deadline_s)
        return self

    def restart(self) -> KafkaNode:
        self.stop()
        return self.start()


@dataclass
class KafkaCluster:
    """Three brokers in `directory`, one per rack of `RACKS`, all voters of a KRaft quorum (this
    class); tests/kit/zookeeper.py's `ZooKeeperCluster` keeps the same API over ZooKeeper."""

    kind: ClassVar[KafkaKind] = KafkaKind.KRAFT

    directory: Path
    libs: Path
    nodes: list[KafkaNode] = field(default_factory=list)
    cluster_id: str = field(default_factory=new_cluster_id)
    _admin: AdminClient | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        """Every node's address, comma-separated: clients find the cluster while any one lives."""
        return ",".join(node.address for node in self.nodes)

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def start(self, deadline_s: float = 180.0) -> KafkaCluster:
        """Format the nodes' storage, start them, and wait until the metadata has 3 brokers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "log4j2.properties").write_text(LOG4J2)
        if not self.nodes:
            self.nodes = [
                KafkaNode(i + 1, rack, self.directory / f"node{i + 1}", self.libs)
                for i, rack in enumerate(RACKS)
            ]
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.write_config(self._kraft_settings(node, voters))
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: n.format_storage(self.cluster_id), self.nodes))
            self._start_nodes(pool, deadline_s)
        return self

    @staticmethod
    def _kraft_settings(node: KafkaNode, voters: str) -> dict[str, str]:
        return {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "broker.rack": node.rack,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{node.address},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{node.address}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(node.data_dir),
            **KRAFT_SETTINGS,
        }

    def _start_nodes(self, pool: ThreadPoolExecutor, deadline_s: float) -> None:
        """Start every broker at once and wait until all are in the metadata; stop on failure."""
        try:
            list(pool.map(lambda n: n.start(deadline_s), self.nodes))
            self.wait_for_brokers(len(self.nodes), deadline_s)
        except BaseException:
            self.stop()
            raise

    def admin(self) -> AdminClient:
        """The kit's one admin client for this cluster (each client holds threads and sockets)."""
        if self._admin is None:
            config: dict[str, str | int | float | bool] = {
                "bootstrap.servers": self.bootstrap,
                "socket.timeout.ms": 5000,
            }
            self._admin = AdminClient(config)
        return self._admin

    def broker_ids(self, timeout_s: float = 5.0) -> set[int]:
        """The brokers the cluster's metadata lists now (fenced or dead ones drop out)."""
        try:
            return set(self.admin().list_topics(timeout=timeout_s).brokers)
        except KafkaException:  # no answer yet is "no brokers": the wait goes on
            return set()

    def wait_for_brokers(self, count: int = 3, deadline_s: float = 120.0) -> None:
        """Until the metadata lists `count` brokers (all nodes registered and unfenced)."""
        wait_until(
            lambda: len(self.broker_ids()) == count,
            deadline_s,
            f"the Kafka cluster's metadata to list {count} brokers",
            interval_s=0.2,
        )

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def leader(self, topic: str, partition: int = 0, deadline_s: float = 30.0) -> KafkaNode:
        """The node that leads `topic`'s `partition` now (waits while it has no leader)."""

        def probe() -> int | None:
            try:
                meta = self.admin().list_topics(topic, timeout=5)
            except KafkaException:  # no answer yet: asked again until the deadline
                return None
            t = meta.topics.get(topic)
            p = None if t is None or t.error is not None else t.partitions.get(partition)
            return None if p is None or p.leader < 0 else int(p.leader)

        return self.node(wait_for(probe, deadline_s, f"a leader of {topic}[{partition}]"))

    def controller(self, deadline_s: float = 60.0) -> KafkaNode:
        """The live node that is the active controller now (waits while there is none)."""
        return self.node(wait_for(self._controller_id, deadline_s, "an active controller"))

    def _controller_id(self) -> int | None:
        """The quorum's leader as `kafka-metadata-quorum describe --status` reports it, if alive.

        The tool asks the controllers it is given; short timeouts (`TOOL_CONFIG`) make an answer
        from the leader just killed fail fast and the wait ask again."""
        live = [n for n in self.nodes if n.alive()]
        if not live:
            return None
        config = self.directory / "tool.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in TOOL_CONFIG.items()))
        controllers = ",".join(f"127.0.0.1:{n.controller_port}" for n in live)
        cmd = live[0].java("org.apache.kafka.tools.MetadataQuorumCommand",
                           "--bootstrap-controller", controllers, "--command-config", str(config),
                           "describe", "--status")  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return None
        found = re.search(r"^LeaderId:\s+(-?\d+)", done.stdout, re.MULTILINE)
        leader = int(found.group(1)) if found else -1
        return leader if any(n.node_id == leader for n in live) else None

    def heal(self, deadline_s: float = 120.0) -> None:
        """Resume paused nodes, restart dead ones, wait until all are brokers again and, if one
        was dead, until every partition is fully in sync (a node back in the broker list may
        still be catching up: a test that then kills another would leave an ISR of one)."""
        restarted = False
        for node in self.nodes:
            if node.alive():
                node.resume()
            else:
                node.start(deadline_s)
                restarted = True
        self.wait_for_brokers(len(self.nodes), deadline_s)
        if restarted:
            wait_until(self.fully_in_sync, deadline_s, "every partition's replicas in sync")

    def fully_in_sync(self) -> bool:
        """Whether every partition has a leader and all its replicas in sync."""
        try:
            meta = self.admin().list_topics(timeout=5)
        except KafkaException:  # no answer yet: not known to be in sync
            return False
        return all(
            p.leader >= 0 and set(p.isrs) == set(p.replicas)
            for topic in meta.topics.values()
            for p in topic.partitions.values()
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to every node at once, then wait; SIGKILL those still running after the
        timeout (a node left without a quorum may wait for it forever)."""
        self._admin = None  # let go of it before its brokers go: no reconnect noise
        running = [n for n in self.nodes if n.alive()]
        for node in running:
            node.resume()
            node._signal(signal.SIGTERM)
        for node in running:
            node.stop(timeout_s)

    def processes(self) -> Sequence[ManagedProcess]:
        return [n.process for n in self.nodes if n.process is not None]
