//go:build !race

package demoproc

const raceEnabled = false
