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
// The analysis (medians over rounds, per-round ratios to the mode off,
// verdicts against the targets), the Markdown and HTML reports and the SVG
// charts are plain functions of the recorded Results, so they are tested
// without a server. Command abtest (loadtest/cmd/abtest) is the entry point.
package abtest
