#!/usr/bin/env bash
# Regenerates src/e2b/gen from proto/envd with protoc (Debian: protobuf-compiler) and protoc-gen-es.
set -euo pipefail
cd "$(dirname "$0")/.."
protoc --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es --es_out=src/e2b/gen \
  --es_opt=target=ts,import_extension=js -I proto/envd proto/envd/process.proto proto/envd/filesystem.proto
