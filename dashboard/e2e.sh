#!/usr/bin/env bash
# End-to-end check of the bodypool Grafana dashboard and rules against real
# data from two instances.
#
#   bash dashboard/e2e.sh          # from the repository root (or anywhere)
#
# It installs Debian's prometheus if it is not on PATH, and k6 (go install
# go.k6.io/k6@v1.8.1) if it is not on PATH; builds the demo server and
# starts two of it on free loopback ports (-pool sized both, so that every
# pool series exists on both instances); starts a private Prometheus that
# scrapes both every second under one job, and itself under job prometheus,
# loads dashboard/rules.yml and accepts remote write; drives k6/load.js
# against each server at a different rate (instance A at RATE_A, B at
# RATE_B), with k6's metrics sent to that Prometheus by remote write; waits
# for the last scrapes; checks that the rules are loaded and record data;
# and runs the checker (loadtest/fleet/promcheck), which checks that the
# template variables of dashboard/bodypool.json have values, evaluates
# every expression (the k6 panels included: they must return data), proves numerically that every panel
# aggregates the two instances correctly (sums are sums, ratios are ratios
# of sums, per-instance panels filter by $instance, and $job removes
# Prometheus's own series), and asserts the steady-state hit ratio and the
# heap bound. Everything it starts is stopped on exit.
#
# Settings (environment):
#   LOAD_SECONDS   length of the load run            (default 25)
#   RATE_A, RATE_B k6 requests/s against instance A and B (default 60, 25)
#   WARMUP         part of the run left out of the hit-ratio window (default 5s)
#   MIN_HIT_RATIO  lowest accepted hit ratio of the busiest band (default 0.95)
#   HEAP_MAX       bound on go_memstats_heap_inuse_bytes (default 256MiB)
#   MAX_BODY       the demo servers' -max-body in bytes (default 8388608)
#   DEMO_BIN       a demo server binary to use instead of building ./cmd/demo-server
#   E2E_SVG        if set, also write an SVG of every panel (real data) there
#   KEEP_WORKDIR   if set, keep the temporary folder (logs, TSDB)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=../k6/lib/launch.sh
source k6/lib/launch.sh

LOAD_SECONDS=${LOAD_SECONDS:-25}
RATE_A=${RATE_A:-60}
RATE_B=${RATE_B:-25}
WARMUP=${WARMUP:-5s}
MIN_HIT_RATIO=${MIN_HIT_RATIO:-0.95}
HEAP_MAX=${HEAP_MAX:-256MiB}
MAX_BODY=${MAX_BODY:-8388608}
JOB=bodypool-demo

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bodypool-e2e.XXXXXX")
DEMO_PIDS=()
PROM_PID=""
CHILD_PIDS=() # the load generators or the checker, while they run

log() { printf 'e2e: %s\n' "$*" >&2; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${CHILD_PIDS[@]}" "${DEMO_PIDS[@]}"; do
		stop_pid "$pid"
	done
	stop_pid "$PROM_PID"
	[[ $rc -eq 0 ]] || show_tails "$WORK"/{demo-a,demo-b,k6-a,k6-b,prometheus}.log
	leave_workdir "$rc"
}
on_exit cleanup

free_port() { # a loopback port nothing listens on now
	# Below the kernel's ephemeral range, so that no outgoing connection of
	# the tests before holds it as its local port.
	local p low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((low > 10000)) || low=32768
	for _ in $(seq 100); do
		p=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND... (status 125: give up)
	local secs=$1 what=$2 rc
	shift 2
	for _ in $(seq $((secs * 10))); do
		rc=0
		"$@" >/dev/null 2>&1 || rc=$? # errexit-safe wherever it is called
		[[ $rc -eq 0 ]] && return 0
		if [[ $rc -eq 125 ]]; then
			log "gave up waiting for $what"
			return 1
		fi
		sleep 0.1
	done
	log "timed out after ${secs}s waiting for $what"
	return 1
}

# 1. Prometheus and k6.
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
k6_install
log "$(k6 version 2>&1 | head -n 1)"

# 2. Build the demo server and the checker. The checker lives in the nested
# loadtest module, which holds the Prometheus API client; it is built
# rather than started with `go run`, so that the trap can stop it by its
# own pid.
if [[ -n ${DEMO_BIN:-} ]]; then
	log "using demo server $DEMO_BIN"
	cp "$DEMO_BIN" "$WORK/demo-server"
else
	log "building ./cmd/demo-server"
	timeout 300 go build -o "$WORK/demo-server" ./cmd/demo-server
fi
log "building loadtest/fleet/promcheck"
(cd loadtest && timeout 600 go build -o "$WORK/promcheck" ./fleet/promcheck)

# 3. Two demo servers on free loopback ports; read the addresses they print.
declare -A DEMO_URLS
for name in a b; do
	demo_start "$WORK/demo-server" "$WORK/demo-$name.log" -pool sized -max-body "$MAX_BODY" || exit 1
	DEMO_PIDS+=("$DEMO_PID")
	DEMO_URLS[$name]=$DEMO_URL
	log "demo server $name: $DEMO_URL"
done
DEMO_A=${DEMO_URLS[a]}
DEMO_B=${DEMO_URLS[b]}
INSTANCES="${DEMO_A#http://},${DEMO_B#http://}"

# prom_ready reports whether Prometheus is ready; once its process has
# exited it never will be, and the wait ends at once.
prom_ready() {
	kill -0 "$PROM_PID" 2>/dev/null || return 125
	curl -fsS "$PROM/-/ready"
}

# 4. A private Prometheus scraping both every second under one job, and
# itself under another (for the job filter check), with the rules loaded
# and the remote-write receiver on.
cp dashboard/rules.yml "$WORK/rules.yml"
for attempt in 1 2 3; do
	PROM_PORT=$(free_port)
	PROM="http://127.0.0.1:$PROM_PORT"
	cat >"$WORK/prometheus.yml" <<-END
		global:
		  scrape_interval: 1s
		  scrape_timeout: 1s
		  evaluation_interval: 1s
		rule_files:
		  - rules.yml
		scrape_configs:
		  - job_name: $JOB
		    static_configs:
		      - targets: ['${DEMO_A#http://}', '${DEMO_B#http://}']
		  - job_name: prometheus
		    static_configs:
		      - targets: ['127.0.0.1:$PROM_PORT']
	END
	promtool check config "$WORK/prometheus.yml" >/dev/null
	prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
		--web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
		>"$WORK/prometheus.log" 2>&1 &
	PROM_PID=$!
	if wait_for 30 "Prometheus at $PROM" prom_ready; then
		break
	fi
	tail -n 20 "$WORK/prometheus.log" >&2
	stop_pid "$PROM_PID"
	PROM_PID=""
	[[ $attempt -lt 3 ]] || exit 1
done
log "prometheus $PROM (pid $PROM_PID)"
query() { curl -fsS --get "$PROM/api/v1/query" --data-urlencode "query=$1"; }
both_up() { query "count(up{job=\"$JOB\"} == 1) == 2" | grep -q '"value"'; }
wait_for 20 "the first successful scrapes of both servers" both_up || exit 1

# 5. Bounded load against 127.0.0.1 only: k6/load.js against each server at
# its own rate, k6's metrics written to Prometheus as they are made.
sleep 2 # a few scrapes before the load, as a baseline for increase()
FROM=$(date +%s.%N)
log "k6 load for ${LOAD_SECONDS}s: A at ${RATE_A}/s, B at ${RATE_B}/s"
export K6_PROMETHEUS_RW_SERVER_URL="$PROM/api/v1/write"
export K6_PROMETHEUS_RW_PUSH_INTERVAL=1s
export K6_PROMETHEUS_RW_TREND_STATS='p(95),p(99),avg'
run_k6() { # run_k6 NAME URL RATE
	# No thresholds: this is a check of the dashboard, not of latency on a
	# shared machine; the checker asserts what it needs.
	k6 run --quiet --no-color --address "" --no-thresholds -o experimental-prometheus-rw \
		--tag "testid=e2e-$1" -e "BASE_URL=$2" -e "RATE=$3" -e "DURATION=${LOAD_SECONDS}s" \
		-e "SUMMARY=$WORK/k6-$1-summary.json" k6/load.js >"$WORK/k6-$1.log" 2>&1
}
run_k6 a "$DEMO_A" "$RATE_A" &
CHILD_PIDS+=($!)
run_k6 b "$DEMO_B" "$RATE_B" &
CHILD_PIDS+=($!)
for pid in "${CHILD_PIDS[@]}"; do
	wait "$pid" || { log "k6 failed"; exit 1; }
done
CHILD_PIDS=()
TO=$(date +%s.%N)
sleep 3 # the last scrapes and remote writes of the run

# 6. The rules are loaded, healthy, and record.
rules_ok() { query "count(job_pool:bufpool_hit_ratio:rate5m{job=\"$JOB\",pool=\"sized\"})" | grep -q '"1"\]'; }
wait_for 10 "the recording rules' first values" rules_ok || exit 1
if curl -fsS "$PROM/api/v1/rules" | grep -q '"health":"err"'; then
	log "a rule failed to evaluate:"
	curl -fsS "$PROM/api/v1/rules" | grep -o '"lastError":"[^"]*"' >&2
	exit 1
fi
log "rules: dashboard/rules.yml loaded, every rule healthy, job_pool:bufpool_hit_ratio:rate5m recorded"

# 7. The checker.
log "checking"
"$WORK/promcheck" -prom "$PROM" -dashboard dashboard/bodypool.json \
	-var pool=sized -var job="$JOB" -from "$FROM" -to "$TO" -warmup "$WARMUP" \
	-instances "$INSTANCES" -job-filter "$JOB" \
	-min-hit-ratio "$MIN_HIT_RATIO" -heap-max "$HEAP_MAX" ${E2E_SVG:+-svg "$E2E_SVG"} &
CHILD_PIDS+=($!)
wait "${CHILD_PIDS[0]}"
CHILD_PIDS=()
