#!/usr/bin/env bash
# Generates the envd Connect service code from proto/envd with protoc (Debian: protobuf-compiler) and
# protoc-gen-es, into src/e2b/gen or the directory given. test/e2b-proto.test.ts checks they agree.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/e2b/gen}
mkdir -p "$out"
protoc --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es --es_out="$out" \
  --es_opt=target=ts,import_extension=js -I proto/envd proto/envd/process.proto proto/envd/filesystem.proto
