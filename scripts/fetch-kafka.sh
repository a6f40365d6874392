#!/usr/bin/env bash
# Fetches Apache Kafka's broker jars from Maven Central into .cache/kafka/<version>/libs, for the
# tests' private Kafka clusters (tests/kit/kafka.py runs them with `java -cp`). The version is
# scripts/kafka/pom.xml's kafka.version unless given: `scripts/fetch-kafka.sh [VERSION]`.
# Idempotent: a complete cache (its libs/.complete marker) is kept and nothing is fetched. The jars
# are copied into a temporary directory first and renamed into place at the end, so an interrupted
# fetch leaves no half-filled cache. Needs `java` (17+) and `mvn` (bootstrap.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

pom=scripts/kafka/pom.xml
version=${1:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")}
cache=.cache/kafka/$version
[ -f "$cache/libs/.complete" ] && exit 0

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
echo "bootstrap: Kafka $version: $(ls "$cache/libs" | wc -l) jars, $(du -sh "$cache/libs" | cut -f1)"
