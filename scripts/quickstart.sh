#!/usr/bin/env bash
# Command 1 of the README: install everything, build the default image, start a real hearth server,
# run examples/hello.py through it, print the output and the timing, and stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node bin/hearth.js images build default
node bin/hearth.js doctor

# Any free port unless HEARTH_PORT names one: a taken 8080 (another server) must not stop the
# quickstart, nor have it talk to whatever answers there.
port=${HEARTH_PORT:-0}
log=$(mktemp -t hearth-serve.XXXXXX.log)
node bin/hearth.js serve --port "$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 1 300); do
  url=$(sed -n 's/^hearth listening on //p' "$log" | head -n 1)
  [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1 && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "hearth serve did not start on port $port (HEARTH_PORT=$port taken? unset it for any free port):" >&2
    cat "$log" >&2
    exit 1
  fi
  url=
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "hearth serve did not answer within 30 s:" >&2
  cat "$log" >&2
  exit 1
fi
echo "==> running examples/hello.py through the server at $url"
HEARTH_URL="$url" node bin/hearth.js run examples/hello.py --timing
