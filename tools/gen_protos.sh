#!/usr/bin/env bash
# Regenerate tensorkeep/proto/*_pb2.py (and .pyi stubs) from tensorkeep/proto/*.proto.
#
# Usage (from anywhere):  bash tools/gen_protos.sh
#
# protoc comes from a pinned grpcio-tools installed into a throwaway venv under /tmp,
# never into the main environment (that would pull in another protobuf runtime).
# grpcio-tools 1.75.1 bundles protoc 31.1, whose Python gencode is protobuf 6.31.1:
# the oldest runtime we allow (protobuf>=6.31.1,<8, the same range as TF 2.21).
# protoc runs from the repository root, so generated modules import each other as
# `from tensorkeep.proto import x_pb2`.
set -euo pipefail

GRPCIO_TOOLS_VERSION=1.75.1
EXPECTED_GENCODE="6.31.1"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(mktemp -d /tmp/tensorkeep-protoc.XXXXXX)"
trap 'rm -rf "$venv"' EXIT

python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "grpcio-tools==${GRPCIO_TOOLS_VERSION}"

cd "$repo"
rm -f tensorkeep/proto/*_pb2.py tensorkeep/proto/*_pb2.pyi
"$venv/bin/python" -m grpc_tools.protoc \
    --proto_path=. \
    --python_out=. \
    --pyi_out=. \
    tensorkeep/proto/*.proto

# Fail loudly if the bundled protoc ever produces newer gencode than our runtime floor.
for f in tensorkeep/proto/*_pb2.py; do
    if ! grep -q "^# Protobuf Python Version: ${EXPECTED_GENCODE}\$" "$f"; then
        echo "error: $f is not protobuf ${EXPECTED_GENCODE} gencode" >&2
        exit 1
    fi
done
echo "generated $(ls tensorkeep/proto/*_pb2.py | wc -l) modules (gencode ${EXPECTED_GENCODE})"
