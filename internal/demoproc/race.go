//go:build race

package demoproc

// raceEnabled says that this binary has the race detector, so that the
// server Binary builds has it too.
const raceEnabled = true
