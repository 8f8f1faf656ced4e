#!/usr/bin/env bash
# Opens a report in headless Chromium (Debian's `chromium`), fails on any console error, and takes a
# screenshot. Kept out of `npm test`: Chromium is a large install for CI. Usage:
#   scripts/check-report.sh runs/mnist/report.html [screenshot.png] [width] [height]
set -euo pipefail
html=$(realpath "$1"); png=${2:-${1%.html}.png}; w=${3:-1280}; h=${4:-3200}
command -v chromium >/dev/null || { echo "check-report: chromium is not installed (apt-get install -y chromium)" >&2; exit 2; }
prof=$(mktemp -d)
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
  --disable-component-update --disable-sync --user-data-dir="$prof" --hide-scrollbars)
log=$(mktemp)
chromium "${flags[@]}" --enable-logging=stderr --v=0 --window-size="$w,$h" --screenshot="$png" "file://$html" 2>"$log" >/dev/null || true
if grep -E 'CONSOLE|Uncaught|Failed to load resource' "$log"; then
  echo "check-report: console errors in $html (above)" >&2; exit 1
fi
[ -s "$png" ] || { echo "check-report: no screenshot written" >&2; cat "$log" >&2; exit 1; }
echo "check-report: $html opened with no console errors; screenshot $png"
