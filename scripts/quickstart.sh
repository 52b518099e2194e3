#!/usr/bin/env bash
# Command 1 of the README: install everything, build the default image, start a real hearth server,
# run examples/hello.py through it, print the output and the timing, and stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node bin/hearth.js images build default
node bin/hearth.js doctor

port=${HEARTH_PORT:-8080}
log=$(mktemp -t hearth-serve.XXXXXX.log)
node bin/hearth.js serve --port "$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
echo "==> running examples/hello.py through the server at http://127.0.0.1:$port"
HEARTH_URL="http://127.0.0.1:$port" node bin/hearth.js run examples/hello.py --timing
