#!/usr/bin/env bash
# Run one k6 script of this folder against a fresh demo server.
#
#   bash k6/run.sh SCRIPT MODE [extra demo-server flags...]
#   bash k6/run.sh smoke.js sized -max-body 1MiB
#   RATE=50 DURATION=15s bash k6/run.sh load.js sized
#   SOAK_DURATION=10m bash k6/run.sh soak.js syncpool -budget 67108864
#
# SCRIPT is smoke.js, load.js, spike.js, soak.js (or a path to a script);
# MODE is the server's -pool (demo-server -help lists them; the server
# refuses any other, and so does this script).
#
# It installs k6 (go install go.k6.io/k6@v1.8.1) when it is not on PATH,
# builds ./cmd/demo-server, starts it on 127.0.0.1 on a free port, waits for
# /healthz, scrapes /metrics, runs k6 with BASE_URL set, scrapes /metrics
# again, reads the server's peak RSS (VmHWM) and prints, next to k6's
# summary, the requests, allocated bytes per request, GC cycles, GC cycles
# per 1000 requests and peak RSS. The server is always stopped. The exit
# status is k6's (99 when a threshold failed), or 1 when the run itself
# could not be done.
#
# Environment: everything the scripts read (RATE, DURATION, SOAK_DURATION,
# MAX_BODY, ...) is passed through. Also:
#   SUMMARY       where the k6 summary JSON goes (default k6/out/SCRIPT-summary.json;
#                 the server figures go beside it as SCRIPT-MODE-server.json)
#   DEMO_BIN      a demo-server binary to use instead of building one
#   RUN_TIMEOUT   hard limit for k6 (default 20m; k6 is interrupted after it)
#   K6_ARGS       extra arguments for `k6 run` (split on spaces)
#   PROM_RW_URL   also send k6's metrics to this Prometheus remote-write
#                 endpoint (http://HOST:PORT/api/v1/write; Prometheus started
#                 with --web.enable-remote-write-receiver), with the trend
#                 statistics p(95), p(99) and avg the dashboard's k6 row
#                 reads, tagged testid=run-SCRIPT-MODE (TESTID overrides)
#   KEEP_WORKDIR  keep the temporary folder (server log, scrapes)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/launch.sh
source k6/lib/launch.sh

log() { printf 'run.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
usage() {
	sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $# -ge 2 ]] || usage
SCRIPT=$1
MODE=$2
shift 2
if [[ ! -f $SCRIPT && -f k6/$SCRIPT ]]; then
	SCRIPT=k6/$SCRIPT
fi
[[ -f $SCRIPT ]] || die "no such script: $SCRIPT"
NAME=$(basename "$SCRIPT" .js)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bodypool-k6.XXXXXX")
SERVER_PID=""
K6_PID=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$K6_PID" 15
	stop_pid "$SERVER_PID"
	[[ $rc -eq 0 ]] || show_tails "$WORK/server.log"
	leave_workdir "$rc"
}
on_exit cleanup

# 1. k6, pinned, from the Go module proxy.
k6_install
k6_version=$(k6 version 2>/dev/null | head -n 1)
case $k6_version in
*"$K6_VERSION"*) ;;
*) log "warning: expected k6 $K6_VERSION, using: $k6_version" ;;
esac

# 2. The demo server and the report helper.
if [[ -n ${DEMO_BIN:-} ]]; then
	cp "$DEMO_BIN" "$WORK/demo-server"
else
	[[ -f cmd/demo-server/main.go ]] || die "cmd/demo-server is missing"
	log "building ./cmd/demo-server"
	timeout 600 go build -o "$WORK/demo-server" ./cmd/demo-server
fi
timeout 300 go build -o "$WORK/summary" ./k6/internal/summary

# 3. Start it on a free loopback port and read the address it prints. A
# bad MODE or flag: the server says why and exits 2, and so does this.
log "starting demo-server -addr 127.0.0.1:0 -pool $MODE $*"
rc=0
demo_start "$WORK/demo-server" "$WORK/server.log" -pool "$MODE" "$@" || rc=$?
SERVER_PID=$DEMO_PID
BASE_URL=$DEMO_URL
[[ $rc -ne 2 ]] || { cat "$WORK/server.log" >&2; rm -f "$WORK/server.log"; exit 2; }
[[ $rc -eq 0 ]] || die "the demo server did not start"
# The request limit it enforces, for smoke.js's 413 case, as its start
# line prints it (max-body=...).
MAX_BODY_EFFECTIVE=$(sed -n 's/.*listening on .* max-body=\([^ ]*\) .*/\1/p' "$WORK/server.log" | head -n 1)
log "demo server $BASE_URL (pid $SERVER_PID, pool $MODE, max-body $MAX_BODY_EFFECTIVE)"

# 4. k6, bounded in time, with /metrics scraped around it.
SUMMARY_FILE=${SUMMARY:-$ROOT/k6/out/$NAME-summary.json}
mkdir -p "$(dirname "$SUMMARY_FILE")"
rm -f "$SUMMARY_FILE"
FIGURES_FILE="$(dirname "$SUMMARY_FILE")/$NAME-$MODE-server.json"
"$WORK/summary" scrape "$BASE_URL/metrics" "$WORK/metrics-before.txt"

k6_flags=(--address "" --no-color)
[[ -t 1 ]] || k6_flags+=(--quiet) # no progress bars in logs
# shellcheck disable=SC2206 # K6_ARGS is split on purpose
[[ -z ${K6_ARGS:-} ]] || k6_flags+=($K6_ARGS)
if [[ -n ${PROM_RW_URL:-} ]]; then
	export K6_PROMETHEUS_RW_SERVER_URL=$PROM_RW_URL
	export K6_PROMETHEUS_RW_TREND_STATS=${K6_PROMETHEUS_RW_TREND_STATS:-p(95),p(99),avg}
	export K6_PROMETHEUS_RW_PUSH_INTERVAL=${K6_PROMETHEUS_RW_PUSH_INTERVAL:-5s}
	k6_flags+=(-o experimental-prometheus-rw --tag "testid=${TESTID:-run-$NAME-$MODE}")
	log "k6 metrics go to $PROM_RW_URL (testid ${TESTID:-run-$NAME-$MODE})"
fi
set +e
timeout --signal=INT --kill-after=30s "${RUN_TIMEOUT:-20m}" \
	k6 run "${k6_flags[@]}" -e "BASE_URL=$BASE_URL" -e "SUMMARY=$SUMMARY_FILE" \
	-e "MAX_BODY=$MAX_BODY_EFFECTIVE" -e "POOL=$MODE" "$SCRIPT" &
K6_PID=$!
wait "$K6_PID"
k6_rc=$?
set -e
K6_PID=""

"$WORK/summary" scrape "$BASE_URL/metrics" "$WORK/metrics-after.txt"
hwm_kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || true)
stop_pid "$SERVER_PID"
SERVER_PID=""

# 5. The server's figures next to k6's.
report_rc=0
if [[ -s $SUMMARY_FILE ]]; then
	"$WORK/summary" report -summary "$SUMMARY_FILE" -before "$WORK/metrics-before.txt" \
		-after "$WORK/metrics-after.txt" -hwm-kib "${hwm_kib:-0}" -script "$NAME.js" -mode "$MODE" \
		-json "$FIGURES_FILE" || report_rc=$?
else
	log "k6 wrote no summary to $SUMMARY_FILE"
	report_rc=1
fi

if [[ $k6_rc -ne 0 ]]; then
	case $k6_rc in
	99) log "k6 exit 99: thresholds failed" ;;
	124 | 137) log "k6 was stopped after RUN_TIMEOUT=${RUN_TIMEOUT:-20m}" ;;
	*) log "k6 failed with exit status $k6_rc" ;;
	esac
	exit "$k6_rc"
fi
[[ $report_rc -eq 0 ]] || die "could not report the server's figures"
log "ok: $SUMMARY_FILE, $FIGURES_FILE"
