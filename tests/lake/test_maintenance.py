"""Compaction, vacuum and history: rows and the sink's offsets survive, failed commits' files go."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pyarrow as pa
from deltalake import DeltaTable

from headwater.lake.maintenance import compact, history, vacuum
from headwater.lake.writer import LakeTable
from tests.kit.processes import run_headwater

from .test_writer import lake_table, read, rows


def data_files(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*.parquet")}


def referenced(path: Path) -> set[str]:
    """Data files the newest version reads, relative to the table."""
    actions = DeltaTable(str(path)).get_add_actions(flatten=True)
    return {str(p) for p in actions.column("path").to_pylist()}


def lose_a_race(path: Path) -> None:
    """Two writers of partition 0; the loser's first attempt fails and leaves its data file."""
    loser, winner = lake_table(path), lake_table(path)
    loser.append_once(lambda _: rows(0, 0, 9), {0: 9})
    calls = []

    def build(_: object) -> pa.Table:
        calls.append(1)
        if len(calls) == 1:
            winner.append_once(lambda _: rows(0, 10, 19), {0: 19})
        return rows(0, 10, 24)

    assert loser.append_once(build, {0: 24}).attempts == 2


def test_compaction_keeps_rows_and_the_sinks_offsets(tmp_path: Path) -> None:
    path = tmp_path / "t"
    table = lake_table(path)
    for first in range(0, 50, 10):
        table.append_once(lambda _, f=first: rows(0, f, f + 9), {0: first + 9})
    table.append_once(lambda _: rows(1, 0, 4), {1: 4})
    assert len(referenced(path)) == 6
    done = compact(path)
    assert (done.files_removed, done.files_added) == (6, 1)
    assert len(referenced(path)) == 1
    assert read(path) == [(0, o) for o in range(50)] + [(1, o) for o in range(5)]
    fresh = LakeTable(path, "event_date", "sink", "topic")
    assert fresh.stored([0, 1]) == {0: 49, 1: 4}
    # A batch read again after the compaction is still written once.
    assert fresh.append_once(lambda _: rows(0, 45, 54), {0: 54}).rows == 5
    assert read(path)[:55] == [(0, o) for o in range(55)]
    assert compact(path).version is not None  # the new small file joins the big one
    assert compact(path).version is None


def test_vacuum_deletes_what_failed_commits_left_only_when_applied(tmp_path: Path) -> None:
    path = tmp_path / "t"
    lose_a_race(path)
    orphans = data_files(path) - referenced(path)
    assert len(orphans) == 1
    assert vacuum(path) == []  # younger than the table's retention: may be a commit in flight
    assert vacuum(path, retention_hours=0) == sorted(orphans)  # dry run by default
    assert data_files(path) - referenced(path) == orphans
    assert vacuum(path, apply=True, retention_hours=0) == sorted(orphans)
    assert data_files(path) == referenced(path)
    assert read(path) == [(0, o) for o in range(25)]
    assert lake_table(path).stored([0]) == {0: 24}


def test_vacuum_after_compaction_deletes_the_rewritten_files(tmp_path: Path) -> None:
    path = tmp_path / "t"
    table = lake_table(path)
    for first in (0, 10, 20):
        table.append_once(lambda _, f=first: rows(0, f, f + 9), {0: first + 9})
    before = referenced(path)
    compact(path)
    assert set(vacuum(path, apply=True, retention_hours=0)) == before
    assert data_files(path) == referenced(path)
    assert read(path) == [(0, o) for o in range(30)]


def test_history_lists_commits_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "t"
    table = lake_table(path)
    table.append_once(lambda _: rows(0, 0, 9), {0: 9})
    table.append_once(lambda _: rows(0, 10, 12), {0: 12})
    compact(path)
    got = history(path).to_pylist()
    assert [(h["version"], h["operation"]) for h in got] == [
        (2, "OPTIMIZE"),
        (1, "WRITE"),
        (0, "WRITE"),
    ]
    assert [h["rows_added"] for h in got] == [None, 3, 10]
    assert (got[0]["files_added"], got[0]["files_removed"]) == (1, 2)
    assert [h["version"] for h in history(path, limit=1).to_pylist()] == [2]


def test_the_commands_dry_run_apply_and_fail_on_unknown_tables(tmp_path: Path) -> None:
    lose_a_race(tmp_path / "t")

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return run_headwater("lake", *args, "--lake", str(tmp_path), text=False)

    dry = run("vacuum", "t", "--retention-hours", "0")
    assert dry.returncode == 0, dry.stderr
    assert len(dry.stdout.splitlines()) == 1
    assert b"would delete" in dry.stderr
    assert len(data_files(tmp_path / "t")) == 4
    applied = run("vacuum", "t", "--retention-hours", "0", "--apply")
    assert applied.stdout == dry.stdout and b"deleted: 1 files" in applied.stderr
    assert len(data_files(tmp_path / "t")) == 3
    compacted = run("compact", "t")
    assert compacted.stdout.startswith(b"version 5: 3 files rewritten into 1"), compacted.stdout
    hist = run("history", "t", "--format", "json", "--limit", "3")
    ops = [orjson.loads(line)["operation"] for line in hist.stdout.splitlines()]
    assert ops == ["OPTIMIZE", "VACUUM END", "VACUUM START"]
    missing = run("history", "nope")
    assert missing.returncode == 1 and b"no Delta table 'nope'" in missing.stderr
