// Package demoproc builds, starts, waits for, scrapes and stops the demo
// server (cmd/demo-server) as a child process. It is the one launcher of
// the server in Go: the demo-server tests, the reliability tests and the
// A/B load harness (loadtest/internal/abtest) all start it here, and read
// its /metrics with the one Prometheus text parser, [ParseMetrics].
//
// A test package builds the server once and starts one per test:
//
//	func TestMain(m *testing.M) { demoproc.Main(m) }
//
//	bin, err := demoproc.Binary() // built once per test binary
//	s, err := demoproc.Start(ctx, demoproc.Config{Bin: bin, Args: []string{"-pool", "sized"}})
//	defer s.Stop(10 * time.Second)
//	m, err := s.Scrape(ctx)
//
// The server listens on a free port of 127.0.0.1 and is found by its start
// line ("demo-server: listening on http://ADDR (...)"); k6/lib/launch.sh
// reads the same line the same way for the shell scripts. On Linux the
// kernel kills the server when the process that started it dies.
package demoproc
