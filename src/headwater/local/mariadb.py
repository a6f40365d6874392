"""A private MariaDB from the installed binaries: its own data directory, socket and free port.

Made for the demo and the tests: `mariadb-install-db` once into a temporary directory, then
`mariadbd` as the current user (root needs `--user=root`), with the row binlog CDC needs
(ROW / FULL / FULL, GTIDs) unless told otherwise, and durability traded for speed (no fsync of
the redo log or the binlog: the server is thrown away afterwards).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from headwater.local.ports import free_port, wait_for_port

ROW_BINLOG = (
    "--log-bin=mysql-bin",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--binlog-row-metadata=FULL",
    "--server-id=1",
)
#: What a CDC reader needs: read tables (snapshots), see and read the binlog.
CDC_GRANTS = "SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR"


@dataclass
class MariaDbServer:
    """A private MariaDB on 127.0.0.1:<port>; root (no password) over the unix socket."""

    binlog_args: tuple[str, ...] = ROW_BINLOG
    port: int = field(default_factory=free_port)
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hw-mariadb-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def socket(self) -> Path:
        return self.base / "mysqld.sock"

    @property
    def log_path(self) -> Path:
        return self.base / "mariadbd.log"

    def start(self) -> MariaDbServer:
        if shutil.which("mariadbd") is None:
            raise RuntimeError(
                "mariadbd is not installed: run `make setup` (apt-get install mariadb-server)"
            )
        if not self.data.exists():
            user = ["--user=root"] if os.geteuid() == 0 else []
            subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", *user,
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                check=True,
                capture_output=True,
            )  # fmt: skip
        cmd = [
            "mariadbd",
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.base / 'mariadbd.pid'}",
            f"--log-error={self.log_path}",
            *(["--user=root"] if os.geteuid() == 0 else []),
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=0",
            "--sync-binlog=0",
            "--character-set-server=utf8mb4",
            *self.binlog_args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port("127.0.0.1", self.port, 30)
        except TimeoutError:
            raise RuntimeError(f"mariadbd did not start:\n{self.log_text()}") from None
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def connect(self, db: str | None = None) -> pymysql.Connection:
        return pymysql.connect(
            unix_socket=str(self.socket), user="root", database=db, autocommit=True
        )

    def execute(self, *statements: str, db: str | None = None) -> tuple:
        """Run statements as root; returns the last statement's rows."""
        conn = self.connect(db)
        try:
            rows: tuple = ()
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                    rows = cur.fetchall()
            return rows
        finally:
            conn.close()

    def create_cdc_user(self, user: str, password: str) -> str:
        """A user with the privileges `headwater cdc` needs; returns its `mariadb://` URL."""
        self.execute(
            f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
            f"GRANT {CDC_GRANTS} ON *.* TO '{user}'@'%'",
        )
        return self.url(user, password)

    def url(self, user: str, password: str) -> str:
        return f"mariadb://{user}:{password}@127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self) -> MariaDbServer:
        self.stop()
        return self.start()

    def remove(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.base)
