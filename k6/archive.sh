#!/usr/bin/env bash
# Bundle every k6 script of this folder with `k6 archive` and prove that the
# bundle runs on its own, as the k6 operator runs it on a cluster.
#
#   bash k6/archive.sh            # from the repository root (or anywhere)
#
# For each k6/*.js it runs `k6 archive` (which fails on an import or open()
# it cannot resolve), then, from an empty folder where no script or
# library is, `k6 inspect` on the archive, which evaluates the script's
# init code from the bundle alone. It needs k6 on PATH or in
# $(go env GOPATH)/bin (go install go.k6.io/k6@v1.8.1); it sends no request.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$(go env GOPATH | cut -d: -f1)/bin:$PATH"
command -v k6 >/dev/null || { echo "archive.sh: k6 not found (go install go.k6.io/k6@v1.8.1)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bodypool-k6-archive.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/empty"

n=0
for script in "$ROOT"/k6/*.js; do
	name=$(basename "$script" .js)
	(cd "$ROOT/k6" && k6 archive --quiet -O "$WORK/$name.tar" "$name.js")
	# The archive alone, far from the sources: nothing may come from disk.
	(cd "$WORK/empty" && k6 inspect "../$name.tar" >"$WORK/$name.json")
	grep -q '"scenarios"' "$WORK/$name.json" || { echo "archive.sh: $name: no scenarios in k6 inspect" >&2; exit 1; }
	printf 'archive.sh: %s.js: %s bytes, inspect ok\n' "$name" "$(wc -c <"$WORK/$name.tar")"
	n=$((n + 1))
done
[[ $n -gt 0 ]] || { echo "archive.sh: no scripts" >&2; exit 1; }
echo "archive.sh: $n scripts bundled"
