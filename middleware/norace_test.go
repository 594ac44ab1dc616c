//go:build !race

package middleware

// Allocation counts are exact without the race detector.
const (
	raceSlack      = 0
	allocBatches   = 5
	allocBatchRuns = 20
)

// isolationRequests is the number of requests each client of the
// isolation tests sends.
const isolationRequests = 50
