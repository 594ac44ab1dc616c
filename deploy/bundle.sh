#!/usr/bin/env bash
# Write deploy/base/load.tar, the k6 archive of k6/load.js that the
# kustomization puts in the ConfigMap the k6 operator runs.
#
#   bash deploy/bundle.sh && kubectl apply -k deploy/base
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$(go env GOPATH | cut -d: -f1)/bin:$PATH"
command -v k6 >/dev/null || { echo "bundle.sh: k6 not found (go install go.k6.io/k6@v1.8.1)" >&2; exit 1; }
cd "$ROOT/k6"
k6 archive --quiet -O "$ROOT/deploy/base/load.tar" load.js
echo "bundle.sh: wrote deploy/base/load.tar ($(wc -c <"$ROOT/deploy/base/load.tar") bytes)"
