# shellcheck shell=bash
# Shell launcher of the demo server and of k6, sourced by k6/run.sh and
# dashboard/e2e.sh. The Go harnesses use internal/demoproc, which reads the
# server's start line ("demo-server: listening on http://ADDR (...)") the
# same way demo_start does.

K6_VERSION=v1.8.1

# k6_install: put $(go env GOBIN) (or GOPATH/bin) on PATH and install k6
# there with go install, pinned, when it is not on PATH.
k6_install() {
	local bin
	bin=$(go env GOBIN)
	[[ -n $bin ]] || bin="$(go env GOPATH | cut -d: -f1)/bin"
	export PATH="$bin:$PATH"
	if ! command -v k6 >/dev/null 2>&1; then
		printf 'installing k6 %s (go install, a few minutes)\n' "$K6_VERSION" >&2
		timeout 1200 go install "go.k6.io/k6@$K6_VERSION"
	fi
}

# stop_pid PID [SECONDS]: TERM, wait up to SECONDS (default 5), then KILL.
stop_pid() {
	local pid=$1 secs=${2:-5}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# demo_healthy URL: GET URL/healthz answers 200 (bash's /dev/tcp; no curl).
demo_healthy() {
	local hostport=${1#http://} line
	exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 1
	printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$hostport" >&3
	IFS= read -r -t 5 line <&3 || line=""
	exec 3<&-
	[[ $line == *" 200 "* ]]
}

# demo_start BIN LOG [FLAGS...]: start BIN -addr 127.0.0.1:0 FLAGS in the
# background with its output in LOG, set DEMO_PID, and DEMO_URL from its
# start line, and wait up to 20 s for /healthz. When the server exits at
# start (it exits 2 on a bad flag, such as an unknown -pool) it returns the
# server's exit status; 1 when it timed out.
demo_start() {
	local bin=$1 log=$2
	shift 2
	"$bin" -addr 127.0.0.1:0 "$@" >"$log" 2>&1 &
	DEMO_PID=$!
	DEMO_URL=""
	for _ in $(seq 200); do
		DEMO_URL=$(sed -n 's|.*listening on \(http://[^ ]*\).*|\1|p' "$log" | head -n 1)
		if [[ -n $DEMO_URL ]] && demo_healthy "$DEMO_URL" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$DEMO_PID" 2>/dev/null; then
			local rc=0
			wait "$DEMO_PID" || rc=$?
			DEMO_PID=""
			return $((rc == 0 ? 1 : rc))
		fi
		sleep 0.1
	done
	printf '%s did not answer /healthz within 20s\n' "$bin" >&2
	return 1
}

# show_tails FILE...: the last 20 lines of every FILE that is not empty, on
# stderr, for the log of a failed run.
show_tails() {
	local f
	for f in "$@"; do
		if [[ -s $f ]]; then
			printf 'last lines of %s:\n' "$(basename "$f")" >&2
			tail -n 20 "$f" >&2 || true
		fi
	done
}

# leave_workdir RC: remove $WORK, or keep it when KEEP_WORKDIR is set, and
# exit with RC.
leave_workdir() {
	if [[ -n ${KEEP_WORKDIR:-} ]]; then
		printf 'kept %s\n' "$WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$1"
}

# on_exit FUNC: run FUNC when the script exits, also on Ctrl-C (status 130)
# and SIGTERM (143).
on_exit() {
	trap "$1" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
