#!/usr/bin/env bash
# Install Debian's Chromium for tests/test_ui_browser.py, only when it is missing. Playwright drives
# this browser through executable_path, so `playwright install` (a browser download) is never needed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
