//go:build race

package metrics_test

// raceEnabled reports whether the race detector is on: it makes sync.Pool
// drop about one Put in four, so that hits and misses are not exact.
const raceEnabled = true
