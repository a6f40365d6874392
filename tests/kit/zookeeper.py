"""Kafka 3.9 in ZooKeeper mode for tests: a 3-node ZooKeeper ensemble and three brokers on it.

The topology Kafka ran before KRaft: ZooKeeper holds the cluster's metadata and elects the
controller (the broker whose ephemeral `/controller` znode exists), and that controller elects
partition leaders. 3.9 is the last Kafka release with ZooKeeper mode; its jars and ZooKeeper 3.8
(`QuorumPeerMain`, a dependency of kafka_2.13 3.9) come from scripts/kafka/pom-3.xml into
`.cache/kafka/3.9.x/libs`, and both log through slf4j to log4j 1 (reload4j) to the console.

Each ZooKeeper node has its own data directory with its `myid`, and client, peer and election
ports on loopback; the admin HTTP server is off (it would take port 8080) and only the `srvr`
four-letter word is on: the ensemble is ready when every node answers it as leader or follower.
The brokers are `ZooKeeperCluster` (`KafkaCluster`'s API, `kind` "zookeeper"), racks az1..az3,
with the same durability settings (SERVER_SETTINGS) and a 6 s ZooKeeper session, so a killed
controller's znode goes, and another broker takes over, within seconds. Stopping the cluster
stops the brokers first (a controlled shutdown needs ZooKeeper), then the ensemble.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from confluent_kafka import KafkaException

from tests.kit.kafka import RACKS, JvmProcess, KafkaCluster, KafkaKind, KafkaNode, java_command
from tests.kit.ports import free_port
from tests.kit.processes import ManagedProcess
from tests.kit.waiting import wait_until

#: log4j 1 (reload4j) to the console: the brokers' and ZooKeeper's logs go to their log files.
LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
log4j.logger.org.apache.zookeeper.server.quorum.QuorumPeer=INFO
"""

#: A test ensemble holds a few hundred znodes: a quarter of a broker's heap is plenty.
ZOOKEEPER_JVM_FLAGS = ["-Xms32m", "-Xmx64m"]

#: Broker settings of ZooKeeper mode beside SERVER_SETTINGS.
ZOOKEEPER_MODE_SETTINGS = {
    # A dead broker's session (and a dead controller's /controller znode) ends after 6 s, not 18.
    "zookeeper.session.timeout.ms": "6000",
    "zookeeper.connection.timeout.ms": "30000",
    "controlled.shutdown.max.retries": "1",
}


@dataclass
class ZooKeeperNode(JvmProcess):
    """One server of a `ZooKeeperEnsemble` (`QuorumPeerMain` with its own zoo.cfg and myid)."""

    server_id: int
    directory: Path
    libs: Path
    logging: str
    client_port: int = field(default_factory=free_port)
    peer_port: int = field(default_factory=free_port)
    election_port: int = field(default_factory=free_port)
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def server_line(self) -> str:
        return f"server.{self.server_id}=127.0.0.1:{self.peer_port}:{self.election_port}"

    def write_config(self, servers: Sequence[str]) -> None:
        """zoo.cfg (ticks of 500 ms: a lost leader is noticed in seconds) and data/myid."""
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "myid").write_text(f"{self.server_id}\n")
        settings = {
            "tickTime": "500",
            "initLimit": "20",
            "syncLimit": "10",
            "dataDir": str(data),
            "clientPort": str(self.client_port),
            "clientPortAddress": "127.0.0.1",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "srvr",
            "maxClientCnxns": "0",
        }
        lines = [f"{k}={v}" for k, v in settings.items()] + list(servers)
        (self.directory / "zoo.cfg").write_text("\n".join(lines) + "\n")

    def start(self, deadline_s: float = 60.0) -> ZooKeeperNode:
        """Start and return once the client port accepts connections (not yet serving)."""
        main = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
        config = str(self.directory / "zoo.cfg")
        self.process = ManagedProcess(
            java_command(self.libs, self.logging, main, config, flags=ZOOKEEPER_JVM_FLAGS),
            self.directory / f"zookeeper{self.server_id}.log",
            name=f"zookeeper{self.server_id}",
            stop_timeout_s=10,
        )
        self.process.start(ready_port=("127.0.0.1", self.client_port), deadline_s=deadline_s)
        return self

    def mode(self) -> str | None:
        """`leader`, `follower` or `standalone` from the `srvr` command; None if not serving."""
        try:
            with socket.create_connection(("127.0.0.1", self.client_port), timeout=2) as conn:
                conn.sendall(b"srvr")
                answer = b""
                while chunk := conn.recv(4096):
                    answer += chunk
        except OSError:
            return None
        for line in answer.decode(errors="replace").splitlines():
            if line.startswith("Mode: "):
                return line.removeprefix("Mode: ").strip()
        return None  # "This ZooKeeper instance is not currently serving requests"


@dataclass
class ZooKeeperEnsemble:
    """Three ZooKeeper servers in `directory`: a quorum that survives the loss of any one."""

    directory: Path
    libs: Path
    logging: str
    nodes: list[ZooKeeperNode] = field(default_factory=list)

    @property
    def connect(self) -> str:
        """The brokers' `zookeeper.connect`: every server, so any two of three will do."""
        return ",".join(node.address for node in self.nodes)

    def start(self, deadline_s: float = 60.0) -> ZooKeeperEnsemble:
        """Start the three servers at once and wait until they form a quorum."""
        if not self.nodes:
            self.nodes = [
                ZooKeeperNode(i, self.directory / f"zk{i}", self.libs, self.logging)
                for i in (1, 2, 3)
            ]
        servers = [node.server_line for node in self.nodes]
        for node in self.nodes:
            node.write_config(servers)
        try:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(lambda n: n.start(deadline_s), self.nodes))
            self.wait_serving(deadline_s)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_serving(self, deadline_s: float = 60.0) -> None:
        """Until every server is the leader or a follower of the quorum."""
        wait_until(
            lambda: all(n.mode() in ("leader", "follower") for n in self.nodes),
            deadline_s,
            "the ZooKeeper ensemble to elect a leader and serve",
            interval_s=0.2,
        )

    def heal(self, deadline_s: float = 60.0) -> None:
        for node in self.nodes:
            if node.alive():
                node.resume()
            else:
                node.start(deadline_s)
        self.wait_serving(deadline_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        for node in self.nodes:
            node.resume()
            node._signal(signal.SIGTERM)  # to all first: they stop together
        for node in self.nodes:
            node.stop(timeout_s)

    def processes(self) -> list[ManagedProcess]:
        return [n.process for n in self.nodes if n.process is not None]


@dataclass
class ZooKeeperCluster(KafkaCluster):
    """Three Kafka 3.9 brokers in ZooKeeper mode on a `ZooKeeperEnsemble` (module docstring)."""

    kind: ClassVar[KafkaKind] = KafkaKind.ZOOKEEPER

    ensemble: ZooKeeperEnsemble | None = None

    @property
    def logging(self) -> str:
        return f"-Dlog4j.configuration=file:{self.directory / 'log4j.properties'}"

    def start(self, deadline_s: float = 180.0) -> ZooKeeperCluster:
        """Start the ensemble, then the three brokers, and wait until all are in the metadata."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "log4j.properties").write_text(LOG4J)
        if self.ensemble is None:
            self.ensemble = ZooKeeperEnsemble(self.directory / "zookeeper", self.libs, self.logging)
        self.ensemble.start(deadline_s)
        if not self.nodes:
            self.nodes = [
                KafkaNode(i + 1, rack, self.directory / f"node{i + 1}", self.libs, self.logging)
                for i, rack in enumerate(RACKS)
            ]
        for node in self.nodes:
            node.write_config(self._zookeeper_settings(node, self.ensemble.connect))
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            self._start_nodes(pool, deadline_s)
        return self

    @staticmethod
    def _zookeeper_settings(node: KafkaNode, connect: str) -> dict[str, str]:
        return {
            "broker.id": str(node.node_id),
            "broker.rack": node.rack,
            "zookeeper.connect": connect,
            "listeners": f"PLAINTEXT://{node.address}",
            "advertised.listeners": f"PLAINTEXT://{node.address}",
            "log.dirs": str(node.data_dir),
            **ZOOKEEPER_MODE_SETTINGS,
        }

    def _controller_id(self) -> int | None:
        """The controller a Metadata answer names (in ZooKeeper mode, the one that holds the
        `/controller` znode), if that node is alive: a dead controller is named until its
        ZooKeeper session ends. (DescribeCluster names it too, but librdkafka sends that to one
        chosen broker and waits on it even when that one is dead.)"""
        try:
            found = self.admin().list_topics(timeout=5).controller_id
        except KafkaException:  # no answer yet: asked again until the deadline
            return None
        return found if any(n.node_id == found and n.alive() for n in self.nodes) else None

    def heal(self, deadline_s: float = 120.0) -> None:
        if self.ensemble is not None:
            self.ensemble.heal(deadline_s)
        super().heal(deadline_s)

    def stop(self, timeout_s: float = 20.0) -> None:
        """The brokers (a controlled shutdown talks to ZooKeeper), then the ensemble."""
        try:
            super().stop(timeout_s)
        finally:
            if self.ensemble is not None:
                self.ensemble.stop()

    def processes(self) -> Sequence[ManagedProcess]:
        ensemble = self.ensemble.processes() if self.ensemble is not None else []
        return [*super().processes(), *ensemble]
