//go:build race

package middleware

// Under the race detector, sync.Pool drops a quarter of Puts at random.
// The misses that follow are counted and their allocations taken out, so
// counts stay nearly exact: raceSlack allows for what a collection in the
// middle of a batch would cost. Batches are short, as copying a megabyte is
// slow under the detector.
const (
	raceSlack      = 1
	allocBatches   = 4
	allocBatchRuns = 5
)
