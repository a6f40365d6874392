"""Where a binlog session starts: the stored position, else the server's (no server needed)."""

from __future__ import annotations

from headwater.sources.cdc.config import CdcConfig, SourceUrl
from headwater.sources.cdc.mysql.settings import ServerState
from headwater.sources.cdc.mysql.start import StartPoint, gtid_state, start_point

CONFIG = CdcConfig(name="unit", url=SourceUrl.parse("mysql://cdc@127.0.0.1:3306/app"))
MARIADB = ServerState(True, "10.11.6-MariaDB", 1, "0-1-40,1-1-7", "mysql-bin.000003", 900)
MYSQL = ServerState(False, "8.0.36", 1, "", "binlog.000009", 4_000)


def test_gtid_state_keeps_one_gtid_per_domain() -> None:
    assert gtid_state("0-1-40, 1-1-7") == {0: "0-1-40", 1: "1-1-7"}
    assert gtid_state("") == {} and gtid_state(None) == {}


def test_mariadb_resumes_by_the_stored_gtid() -> None:
    stored = {"gtid": "0-1-12", "file": "mysql-bin.000002", "pos": 345}
    start = start_point(CONFIG, MARIADB, stored)
    assert start == StartPoint(True, "0-1-12", "mysql-bin.000002", 900)


def test_mariadb_without_a_position_starts_at_the_servers_gtid() -> None:
    start = start_point(CONFIG, MARIADB, None)
    assert start.gtid == "0-1-40,1-1-7" and start.file == "mysql-bin.000003"
    assert start.as_position() == {"gtid": "0-1-40,1-1-7", "file": "mysql-bin.000003", "pos": 900}


def test_a_fresh_mariadb_without_gtids_starts_with_none() -> None:
    fresh = ServerState(True, "10.11.6-MariaDB", 1, "", "mysql-bin.000001", 4)
    assert start_point(CONFIG, fresh, None).gtid is None


def test_mysql_resumes_by_file_and_position() -> None:
    stored = {"gtid": None, "file": "binlog.000008", "pos": 1234}
    assert start_point(CONFIG, MYSQL, stored) == StartPoint(False, None, "binlog.000008", 1234)
    assert start_point(CONFIG, MYSQL, None) == StartPoint(False, None, "binlog.000009", 4_000)
