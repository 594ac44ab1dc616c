// Package demo is the bodypool demo server: an Echo application that shows
// the middleware, the pool and its metrics, with pool modes for A/B
// comparison. cmd/demo-server parses flags and runs it; tests import it.
package demo
