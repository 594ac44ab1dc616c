#!/usr/bin/env bash
# End-to-end check of the bodypool Grafana dashboard against real data.
#
#   bash dashboard/e2e.sh          # from the repository root (or anywhere)
#
# It installs Debian's prometheus if it is not on PATH, builds and starts the
# demo server on a free loopback port (-pool sized), starts a private
# Prometheus that scrapes it every second, drives a bounded load against
# 127.0.0.1 (dashboard/loadgen), waits for the last scrapes and runs
# dashboard/promcheck (the same program `go run ./dashboard/promcheck` runs),
# which evaluates every expression of
# dashboard/bodypool.json and asserts the steady-state hit ratio and the heap
# bound. Both servers are always stopped on exit.
#
# Settings (environment):
#   LOAD_SECONDS   length of the load run            (default 25)
#   WARMUP         part of the run left out of the hit-ratio window (default 5s)
#   MIN_HIT_RATIO  lowest accepted hit ratio of the sized pool (default 0.95)
#   HEAP_MAX       bound on go_memstats_heap_inuse_bytes (default 256MiB)
#   MAX_BODY       the demo server's -max-body in bytes (default 1048576)
#   ECHO_SIZE      size of the repeated /echo body   (default 16384)
#   DEMO_BIN       a demo server binary to use instead of building ./cmd/demo-server
#   E2E_SVG        if set, also write an SVG of every panel (real data) there
#   KEEP_WORKDIR   if set, keep the temporary folder (logs, TSDB)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

LOAD_SECONDS=${LOAD_SECONDS:-25}
WARMUP=${WARMUP:-5s}
MIN_HIT_RATIO=${MIN_HIT_RATIO:-0.95}
HEAP_MAX=${HEAP_MAX:-256MiB}
MAX_BODY=${MAX_BODY:-1048576}
ECHO_SIZE=${ECHO_SIZE:-16384}
JOB=bodypool-demo

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bodypool-e2e.XXXXXX")
DEMO_PID=""
PROM_PID=""
CHILD_PID="" # the load generator or the checker, while it runs

log() { printf 'e2e: %s\n' "$*" >&2; }

stop() { # stop PID: TERM, wait up to 5 s, then KILL
	local pid=$1
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop "$CHILD_PID"
	stop "$DEMO_PID"
	stop "$PROM_PID"
	if [[ $rc -ne 0 ]]; then
		for f in demo.log prometheus.log; do
			if [[ -s $WORK/$f ]]; then
				log "last lines of $f:"
				tail -n 20 "$WORK/$f" >&2 || true
			fi
		done
	fi
	if [[ -n ${KEEP_WORKDIR:-} ]]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { # a loopback port nothing listens on now
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local secs=$1 what=$2
	shift 2
	for _ in $(seq $((secs * 10))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	log "timed out after ${secs}s waiting for $what"
	return 1
}

# 1. Prometheus.
if ! command -v prometheus >/dev/null 2>&1; then
	log "installing Debian's prometheus"
	export DEBIAN_FRONTEND=noninteractive
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends prometheus; } >"$WORK/apt.log" 2>&1; then
		tail -n 30 "$WORK/apt.log" >&2
		exit 1
	fi
	# The package may start a system service on :9090. This check does not
	# use it; stop it so that it does not outlive the run.
	if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
		systemctl disable --now prometheus >/dev/null 2>&1 || true
	else
		service prometheus stop >/dev/null 2>&1 || true
	fi
fi
command -v curl >/dev/null 2>&1 || { log "curl is needed"; exit 1; }
log "$(prometheus --version 2>&1 | head -n 1)"

# 2. Build the demo server and the load generator.
if [[ -n ${DEMO_BIN:-} ]]; then
	log "using demo server $DEMO_BIN"
	cp "$DEMO_BIN" "$WORK/demo-server"
else
	log "building ./cmd/demo-server"
	timeout 300 go build -o "$WORK/demo-server" ./cmd/demo-server
fi
# The checker is built like the rest rather than started with `go run`, so
# that the trap can stop it by its own pid.
log "building ./dashboard/loadgen and ./dashboard/promcheck"
timeout 300 go build -o "$WORK/loadgen" ./dashboard/loadgen
timeout 300 go build -o "$WORK/promcheck" ./dashboard/promcheck

# 3. Start the demo server on a free port and read its address.
"$WORK/demo-server" -addr 127.0.0.1:0 -pool sized -max-body "$MAX_BODY" >"$WORK/demo.log" 2>&1 &
DEMO_PID=$!
demo_url() { grep -o -m 1 'http://127\.0\.0\.1:[0-9]\+' "$WORK/demo.log" | head -n 1; }
wait_for 20 "the demo server's address" demo_url || exit 1
DEMO=$(demo_url)
wait_for 10 "$DEMO/healthz" curl -fsS "$DEMO/healthz" || exit 1
log "demo server $DEMO (pid $DEMO_PID)"

# 4. A private Prometheus scraping it every second.
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: $JOB
    static_configs:
      - targets: ['${DEMO#http://}']
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null
for attempt in 1 2 3; do
	PROM_PORT=$(free_port)
	PROM="http://127.0.0.1:$PROM_PORT"
	prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
		--web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
	PROM_PID=$!
	if wait_for 30 "Prometheus at $PROM" curl -fsS "$PROM/-/ready"; then
		break
	fi
	stop "$PROM_PID"
	PROM_PID=""
	[[ $attempt -lt 3 ]] || exit 1
done
log "prometheus $PROM (pid $PROM_PID)"
target_up() {
	curl -fsS --get "$PROM/api/v1/query" --data-urlencode "query=up{job=\"$JOB\"} == 1" | grep -q '"value"'
}
wait_for 20 "the first successful scrape" target_up || exit 1

# 5. Bounded load against 127.0.0.1 only.
sleep 2 # a few scrapes before the load, as a baseline for increase()
FROM=$(date +%s.%N)
log "load for ${LOAD_SECONDS}s"
# Children run in the background and are waited for, so that a signal
# reaches the trap at once and the trap can stop them.
"$WORK/loadgen" -url "$DEMO" -duration "${LOAD_SECONDS}s" -echo-size "$ECHO_SIZE" -max-body "$MAX_BODY" &
CHILD_PID=$!
wait "$CHILD_PID"
CHILD_PID=""
TO=$(date +%s.%N)
sleep 3 # the last scrapes of the run

# 6. The checker.
log "checking"
"$WORK/promcheck" -prom "$PROM" -dashboard dashboard/bodypool.json \
	-var pool=sized -var job="$JOB" -from "$FROM" -to "$TO" -warmup "$WARMUP" \
	-min-hit-ratio "$MIN_HIT_RATIO" -heap-max "$HEAP_MAX" ${E2E_SVG:+-svg "$E2E_SVG"} &
CHILD_PID=$!
wait "$CHILD_PID"
CHILD_PID=""
