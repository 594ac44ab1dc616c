// Package reliability holds the adversarial and reliability tests of
// bodypool: the demo server (cmd/demo-server) run as a subprocess and
// attacked over 127.0.0.1 with wrong and hostile Content-Lengths, bodies
// over the limit, Expect: 100-continue, thousands of slow, idle, aborted,
// pipelined and concurrent connections, an exhausted budget, HTTP/2 with
// reset streams, and a memory soak; and the middleware in process for
// panicking handlers and use after release.
//
// Every server runs with -pool sized -track, so it exits non-zero, with
// the stacks, if any buffer was never released: each test group stops its
// server with SIGTERM and requires exit status 0. After each case the
// tests wait, within a bound, for bufpool_in_use_bytes to return to 0 and
// go_goroutines to its baseline, and check that /healthz still answers.
//
// The package has no code of its own; run it with
//
//	go test -race ./internal/reliability
//
// Environment:
//
//   - BODYPOOL_RELIABILITY_FULL=1, in a run without -race, makes the data
//     isolation tests send 10,000 requests per pool mode (2,500 over
//     HTTP/2) instead of the 1,000 (250) that -race can afford on a small
//     machine: go test -run 'TestIsolation|TestH2' ./internal/reliability;
//   - BODYPOOL_SOAK=5m lengthens the memory soak from its default of 30s.
//
// h2spec.sh runs h2spec against the demo server with -h2c and against a
// plain net/http h2c server, and fails on any failure of the demo server
// that the plain server does not share.
package reliability
