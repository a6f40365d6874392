#!/usr/bin/env bash
# Installs Debian's Chromium for the tracker's browser tests (tests/sources/clickstream/
# test_tracker_browser.py drives /usr/bin/chromium through Playwright; `playwright install` is
# never used). Idempotent: does nothing when chromium is already on the PATH. Needs root.
set -euo pipefail

if command -v chromium >/dev/null; then
  exit 0
fi
echo "install-chromium: apt-get install chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends chromium >/dev/null
