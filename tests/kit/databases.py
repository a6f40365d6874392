"""Private PostgreSQL and MariaDB servers for tests, started from the installed binaries.

Each server lives in its own temporary directory (data, unix socket, log) on a free TCP port and is
stopped and removed by `remove()`. PostgreSQL refuses to run as root, so its directory belongs to
the `postgres` system user and the server is exec'ed under that user with `setpriv` (no
intermediate process, so signals reach the server itself). MariaDB is the product's own
`headwater.local.mariadb.MariaDbServer` (mariadbd as root with `--user=root`).

The first PostgreSQL cluster is made with initdb; later ones copy it (a tenth of the time).
`remove_pg_template()` deletes that copy source at the end of a session.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

from headwater.local.mariadb import MariaDbServer
from tests.kit.ports import free_port
from tests.kit.waiting import wait_until

__all__ = ["PG_BIN", "PG_SUPERUSER_PASSWORD", "MariaDbServer", "PostgresServer",
           "remove_pg_template"]  # fmt: skip

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_SUPERUSER_PASSWORD = "hw-super"

_pg_template: Path | None = None


def _pg_user() -> tuple[int, int]:
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd]


def _pg_template_dir() -> Path:
    """An initdb'ed cluster (owned by postgres) that servers copy instead of running initdb."""
    global _pg_template
    if _pg_template is None:
        base = Path(tempfile.mkdtemp(prefix="hw-pg-template-"))
        base.chmod(0o755)
        pwfile = base / "pw"
        pwfile.write_text(PG_SUPERUSER_PASSWORD + "\n")
        uid, gid = _pg_user()
        _chown_tree(base, uid, gid)
        data = base / "data"
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        _pg_template = data
    return _pg_template


@dataclass
class PostgresServer:
    """A private PostgreSQL on 127.0.0.1:<port>; `settings` become `-c name=value` options."""

    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hw-pg-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        return self.base / "postgres.log"

    def dsn(
        self, user: str = "postgres", password: str = PG_SUPERUSER_PASSWORD, db: str = "app"
    ) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def start(self) -> PostgresServer:
        if not self.data.exists():
            shutil.copytree(_pg_template_dir(), self.data, symlinks=True)
            self.base.chmod(0o755)
            _chown_tree(self.base, *_pg_user())
            self.data.chmod(0o700)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.base),
            "wal_level": "logical",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "wal_sender_timeout": "60s",
            **self.settings,
        }
        cmd = [str(PG_BIN / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            cmd += ["-c", f"{name}={value}"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(_as_postgres(cmd), stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self, deadline_s: float = 30.0) -> None:
        def accepts_connections() -> bool:
            try:
                psycopg2.connect(self.dsn(db="postgres"), connect_timeout=2).close()
                return True
            except psycopg2.OperationalError:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"postgres exited:\n{self.log_text()}") from None
                return False

        try:
            wait_until(accepts_connections, deadline_s, "postgres to accept connections")
        except AssertionError:
            raise RuntimeError(f"postgres not ready:\n{self.log_text()}") from None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def execute(
        self, *statements: str, db: str = "app", autocommit: bool = True, dsn: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Run statements (as the superuser by default); returns the last statement's rows."""
        conn = psycopg2.connect(dsn or self.dsn(db=db))
        conn.autocommit = autocommit
        try:
            rows: list[tuple[Any, ...]] = []
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                    rows = cur.fetchall() if cur.description else []
            if not autocommit:
                conn.commit()
            return rows
        finally:
            conn.close()

    def stop(self, sig: int = signal.SIGINT) -> None:
        """SIGINT is PostgreSQL's fast shutdown (rolls back sessions, checkpoints, exits)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self) -> PostgresServer:
        self.stop()
        return self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def remove_pg_template() -> None:
    """Delete the initdb'ed cluster servers were copied from (the next start makes another)."""
    global _pg_template
    if _pg_template is not None:
        shutil.rmtree(_pg_template.parent, ignore_errors=True)
        _pg_template = None
