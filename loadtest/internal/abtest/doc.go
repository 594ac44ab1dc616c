// Package abtest runs the A/B load comparison of bodypool's demo server
// across its pool modes and writes the figures and the report.
//
// For every round, workload and pool mode it starts cmd/demo-server as a
// process of its own on 127.0.0.1, sends a fixed number of POST /echo
// requests from a fixed number of keep-alive connections, verifies every
// answer (status, length and a CRC-32C of the echoed bytes), and records
// throughput, latency percentiles, bytes allocated and GC cycles per
// request (from the server's /metrics), server CPU time per request, and
// the server's peak resident memory (VmHWM) before it stops the process.
// Modes take turns within each round, so slow drift of a shared machine
// spreads over all of them.
//
// The analysis (medians over rounds, per-round ratios to the mode off and
// to the best peer, verdicts against the targets), the Markdown report and
// the SVG chart of each workload or scenario are plain functions of the
// recorded Results, driven by one table of metrics, so they are tested
// without a server and rebuilt from a results.json. Command abtest (loadtest/cmd/abtest) is the entry point.
package abtest
