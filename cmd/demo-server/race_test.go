//go:build race

package main

// raceEnabled reports whether the tests run with the race detector, so
// that the server binary is built with it too.
const raceEnabled = true
