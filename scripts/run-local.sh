#!/usr/bin/env bash
# Start Azurite (unless one already listens on the default ports), then the app:
# with `func start` when Azure Functions Core Tools is installed, else with the stand-in host.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

port_open() { (echo > "/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

azurite_pid=""
wait_gone() { for _ in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }
cleanup() {
  [[ -n "$azurite_pid" ]] || return 0
  # Azurite runs in its own session, so the terminal's Ctrl-C never reaches it: a second signal
  # while it is already closing leaves it hung. It gets exactly one SIGTERM, from here.
  # Azurite 3.37 closes blob and queue at once but its table service never finishes closing,
  # so after a grace period it is killed (table data is saved as it is written).
  kill -TERM "$azurite_pid" 2>/dev/null || true
  wait_gone "$azurite_pid" 50 || kill -KILL "$azurite_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if port_open 10000 && port_open 10001 && port_open 10002; then
  echo "Using the storage emulator already listening on 127.0.0.1:10000-10002."
else
  mkdir -p .azurite
  echo "Starting Azurite (data in .azurite/, log in .azurite/azurite.log)."
  setsid node_modules/.bin/azurite --silent --skipApiVersionCheck --location .azurite \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --debug .azurite/azurite.log &
  azurite_pid=$!
  for _ in $(seq 1 100); do
    port_open 10000 && port_open 10001 && port_open 10002 && break
    sleep 0.1
  done
fi

# The upload page sends large manuscripts straight to the blob endpoint (direct uploads): let its
# origin through CORS, as the Bicep does in Azure.
.venv/bin/python scripts/azurite_cors.py "UseDevelopmentStorage=true" http://localhost:7071 http://127.0.0.1:7071 \
  || echo "Could not set the emulator's CORS rules: the upload page's direct uploads will be refused."

if command -v func >/dev/null 2>&1; then
  echo "Azure Functions Core Tools found: func start"
  source .venv/bin/activate
  func start "$@" &
else
  echo "Azure Functions Core Tools not found: using the stand-in host (python -m devhost)."
  .venv/bin/python -m devhost "$@" &
fi
app_pid=$!
trap 'kill -INT $app_pid 2>/dev/null || true' INT TERM
wait "$app_pid" || true
wait "$app_pid" 2>/dev/null || true
