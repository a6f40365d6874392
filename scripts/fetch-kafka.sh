#!/usr/bin/env bash
# Fetches Apache Kafka's broker jars from Maven Central into .cache/kafka/<version>/libs, for the
# tests' private Kafka clusters (tests/kit/kafka.py runs them with `java -cp`). Two clusters, two
# poms: scripts/kafka/pom.xml (Kafka 4, KRaft, log4j 2) and scripts/kafka/pom-3.xml (Kafka 3.9,
# ZooKeeper mode, reload4j, the ZooKeeper server). `scripts/fetch-kafka.sh` fetches both poms'
# kafka.version; `scripts/fetch-kafka.sh VERSION...` those versions (3.x ones with pom-3.xml).
# Idempotent: a complete cache (its libs/.complete marker) is kept and nothing is fetched. The jars
# are copied into a temporary directory first and renamed into place at the end, so an interrupted
# fetch leaves no half-filled cache. Needs `java` (17+) and `mvn` (bootstrap.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

pom_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$1"; }

fetch() {
  local version=$1 pom=scripts/kafka/pom.xml
  case $version in 3.*) pom=scripts/kafka/pom-3.xml ;; esac
  local cache=.cache/kafka/$version
  [ -f "$cache/libs/.complete" ] && return 0

  for tool in java mvn; do
    command -v "$tool" >/dev/null || { echo "fetch-kafka: '$tool' is missing (apt-get install openjdk-17-jre-headless maven)" >&2; exit 1; }
  done

  echo "bootstrap: fetching Apache Kafka $version from Maven Central into $cache"
  mkdir -p "$cache"
  staging=$(mktemp -d "$cache/libs.partial.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  # Maven's own repository stays inside the cache too: one `rm -rf .cache` forgets everything.
  if ! mvn -B -q --no-transfer-progress -f "$pom" \
      -Dmaven.repo.local="$PWD/.cache/kafka/m2" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$PWD/$staging" \
      >"$cache/fetch.log" 2>&1; then
    echo "fetch-kafka: Maven could not fetch Kafka $version; its output ($cache/fetch.log):" >&2
    tail -n 30 "$cache/fetch.log" >&2
    exit 1
  fi
  [ -f "$staging/kafka_2.13-$version.jar" ] || { echo "fetch-kafka: kafka_2.13-$version.jar missing after the fetch" >&2; exit 1; }
  touch "$staging/.complete"
  rm -rf "$cache/libs"
  mv "$staging" "$cache/libs"
  trap - EXIT
  echo "bootstrap: Kafka $version: $(ls "$cache/libs" | wc -l) jars, $(du -sh "$cache/libs" | cut -f1)"
}

if [ $# -eq 0 ]; then
  set -- "$(pom_version scripts/kafka/pom.xml)" "$(pom_version scripts/kafka/pom-3.xml)"
fi
for version in "$@"; do
  fetch "$version"
done
