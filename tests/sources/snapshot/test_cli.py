"""`headwater snapshot` and `headwater import` as a person runs them: a result line on stdout,
`error:` and `fix:` on stderr with exit status 2, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import typer
from deltalake import DeltaTable

from headwater.snapshot_cli import parse_duration
from tests.kit.processes import run_headwater
from tests.sources.snapshot.conftest import MyDb, PgDb

DATA = Path(__file__).parent / "imports" / "data"


def _headwater(*args: str) -> subprocess.CompletedProcess[str]:
    return run_headwater(*args, timeout_s=120)


def test_snapshot_command_writes_the_table_and_prints_the_position(pg: PgDb, lake: Path) -> None:
    pg.execute(
        "CREATE TABLE orders (id int PRIMARY KEY, total numeric(8,2))",
        "INSERT INTO orders SELECT g, g / 4.0 FROM generate_series(1, 1000) g",
    )
    done = _headwater("snapshot", pg.url(), "--table", "orders", "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"snapshots_{pg.name}_orders version 0: 1,000 rows")
    assert '"lsn":' in done.stdout
    assert '"event":"snapshot_written"' in done.stderr
    assert DeltaTable(str(lake / f"snapshots_{pg.name}_orders")).to_pyarrow_table().num_rows == 1000


def test_faults_print_cause_and_fix_without_traceback(pg: PgDb, my: MyDb, lake: Path) -> None:
    pg.execute("CREATE TABLE spans (id int PRIMARY KEY, took interval)")
    my.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cases = [
        (pg.url(password="nope"), "spans", "refused the login of user 'reader'"),
        (pg.url(user="outsider"), "spans", "may not SELECT"),
        (pg.url(), "spans", "column 'took'"),
        (my.url(password="nope"), "t", "refused the login of user 'reader'"),
        (my.url(), "missing", "no table"),
        ("sqlite:///x.db", "t", "unsupported source URL scheme"),
    ]
    for url, table, cause in cases:
        done = _headwater("snapshot", url, "--table", table, "--lake", str(lake))
        assert done.returncode == 2, (url, done.stderr)
        assert "Traceback" not in done.stderr
        assert "error: " in done.stderr and cause in done.stderr, done.stderr
        assert "\nfix: " in done.stderr


def test_import_commands(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    done = _headwater(
        "import", "mongoexport", str(DATA / "users.mongoexport.json"), "--db", "crm", "--lake", lake
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("snapshots_crm_users version 0: 3 rows")
    done = _headwater(
        "import",
        "cql-csv",
        str(DATA / "users.cql.csv"),
        "--keyspace",
        "shop",
        "--table",
        "users",
        "--cql-type",
        "price=decimal",
        "--lake",
        lake,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("snapshots_shop_users version 0: 3 rows")
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE `t` (\n  `id` int\n);\nINSERT INTO `t` VALUES (1),(2;\n")
    done = _headwater("import", "mysqldump", str(bad), "--db", "x", "--lake", lake)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: {bad}, line 4:" in done.stderr


def test_every_takes_durations() -> None:
    assert [parse_duration(t) for t in ("30s", "15m", "1h", "2d")] == [30, 900, 3600, 172800]
    for bad in ("1", "h", "1.5h", "-1h"):
        with pytest.raises(typer.BadParameter):
            parse_duration(bad)
