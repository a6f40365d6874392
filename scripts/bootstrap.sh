#!/usr/bin/env bash
# Installs what headwater's commands and tests need on a fresh Debian machine (as root), then the
# Python dependencies into .venv with uv. Idempotent: a second run installs nothing.
# `--bench` adds what the benchmarks need (wrk, nginx).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_missing=()
command -v python3 >/dev/null || apt_missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_missing+=(python3-venv)
command -v kcat >/dev/null || apt_missing+=(kcat)
# Headless browser for the tracker's end-to-end tests (driven by Playwright, never downloaded).
command -v chromium >/dev/null || apt_missing+=(chromium)
# Live HLS streams written during the video tests (libx264, hls muxer with a sliding window).
command -v ffmpeg >/dev/null || apt_missing+=(ffmpeg)
if [ "${1:-}" = "--bench" ]; then
  # Load generator and baseline server of bench/collector.py.
  command -v wrk >/dev/null || apt_missing+=(wrk)
  command -v nginx >/dev/null || apt_missing+=(nginx-light)
fi
# Real Apache Kafka clusters in the tests: Kafka 4 (KRaft) and Kafka 3.9 with its ZooKeeper ensemble,
# their jars from Maven Central (fetch-kafka.sh fetches both; idempotent).
command -v java >/dev/null || apt_missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || apt_missing+=(maven)
# Change data capture tests: a private MariaDB with row binlog, PostgreSQL's wal2json decoder.
command -v mariadbd >/dev/null || apt_missing+=(mariadb-server)
[ -f "$(pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/wal2json.so" ] \
  || apt_missing+=(postgresql-15-wal2json)
# Snapshots: mysqlclient is built from source against libmariadb (no Linux wheels on PyPI).
dpkg -s libmariadb-dev >/dev/null 2>&1 || apt_missing+=(libmariadb-dev)
command -v pkg-config >/dev/null || apt_missing+=(pkg-config)
command -v gcc >/dev/null || apt_missing+=(gcc libc6-dev)
[ -f "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)/Python.h" ] \
  || apt_missing+=(python3-dev)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "bootstrap: apt-get install ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

bash scripts/fetch-kafka.sh

uv_bin=$(command -v uv || true)
if [ -z "$uv_bin" ]; then
  if [ ! -x .tools/bin/uv ]; then
    echo "bootstrap: installing uv into .tools/"
    python3 -m venv .tools
    .tools/bin/pip install -q uv
  fi
  uv_bin=.tools/bin/uv
fi
groups=()
[ "${1:-}" = "--bench" ] && groups=(--group debezium)
UV_PYTHON_DOWNLOADS=never "$uv_bin" sync --frozen --quiet --all-extras "${groups[@]}"
