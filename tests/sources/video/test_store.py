"""The object area: layout, byte-exact whole-object writes, no partial files under final names."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from headwater.sources.video.store import ObjectStore, check_stream_name, segment_path
from tests.kit.ports import free_port
from tests.kit.processes import ManagedProcess


def test_segments_land_byte_exact_under_stream_date_sequence(tmp_path: Path) -> None:
    store = ObjectStore(str(tmp_path / "objects"))
    rel = segment_path("cam1", date(2026, 3, 1), 42, "ts")
    url = store.put(rel, b"G" * 376)
    assert rel == "cam1/2026-03-01/42.ts"
    assert url == f"{tmp_path}/objects/cam1/2026-03-01/42.ts"
    assert (tmp_path / "objects/cam1/2026-03-01/42.ts").read_bytes() == b"G" * 376
    store.put(rel, b"H" * 188)  # a re-fetch after a restart replaces the object
    assert store.get(rel) == b"H" * 188
    assert sorted(p.name for p in (tmp_path / "objects/cam1/2026-03-01").iterdir()) == ["42.ts"]


def test_file_uris_work_like_paths(tmp_path: Path) -> None:
    store = ObjectStore(f"file://{tmp_path}")
    store.put("a/b/1.ts", b"x")
    assert (tmp_path / "a/b/1.ts").read_bytes() == b"x"


@pytest.mark.parametrize("name", ["", "../etc", "a/b", "cam 1", "x" * 129, ".."])
def test_unsafe_stream_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="stream name"):
        check_stream_name(name)


@pytest.fixture
def s3_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local S3-compatible server (moto's standalone server), credentials in the environment."""
    port = free_port()
    moto_server = str(Path(sys.executable).parent / "moto_server")
    server = ManagedProcess(
        [moto_server, "-H", "127.0.0.1", "-p", str(port)], tmp_path / "moto.log", name="moto_server"
    )
    server.start(ready_port=("127.0.0.1", port), deadline_s=30)
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def test_segments_land_byte_exact_in_an_s3_compatible_store(s3_endpoint: str) -> None:
    options = f"endpoint_override={s3_endpoint}&scheme=http&region=us-east-1"
    fs, _ = pafs.FileSystem.from_uri(f"s3://lake?{options}&allow_bucket_creation=true")
    fs.create_dir("lake")  # the operator's job
    store = ObjectStore(f"s3://lake/video?{options}")
    rel = segment_path("cam1", date(2026, 3, 1), 7, "ts")
    assert store.put(rel, b"G" * 376) == "s3://lake/video/cam1/2026-03-01/7.ts"
    assert store.get(rel) == b"G" * 376
    assert fs.get_file_info("lake/video/cam1/2026-03-01/7.ts").size == 376
