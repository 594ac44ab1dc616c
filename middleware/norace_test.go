//go:build !race

package middleware

// Allocation counts are exact without the race detector.
const (
	raceSlack      = 0
	allocBatches   = 5
	allocBatchRuns = 20
)
