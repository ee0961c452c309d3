#!/usr/bin/env bash
# Install the test tools and run every test on Debian, as root or through sudo.
# Usage: bash scripts/test.sh [PYTEST_ARGS...]
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
else
    as_root=(sudo)
fi

python3 -m pip install -r requirements-dev.txt

# The browser tests drive Debian's Chromium. `playwright install` is never run,
# because it downloads a browser build from hosts outside PyPI and apt.
if [ ! -x /usr/bin/chromium ]; then
    "${as_root[@]}" apt-get update
    # DPkg::Lock::Timeout makes apt-get wait up to 300 s for another apt or dpkg run
    # to release its lock, instead of failing at once.
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -o DPkg::Lock::Timeout=300 chromium
fi

python3 -m pytest "$@"
