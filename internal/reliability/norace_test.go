//go:build !race

package reliability

// raceEnabled reports whether this test binary has the race detector: the
// demo server is then built with it too, and the heaviest loads shrink.
const raceEnabled = false
