package reliability

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBudget sends 200 concurrent uploads of 4 MiB to a server whose pool
// may have 64 MiB checked out: the pool never exceeds the budget, and
// every request gets either a correct 200 or a 503 with Retry-After.
//
// The uploads use raw connections that read the response while they
// write: a refusal in the middle of a body is followed by the server
// closing the connection half a second later (net/http's lingering), and
// on a loaded machine http.Client often reports the write error of the
// reset instead of the 503 it had received.
func TestBudget(t *testing.T) {
	const (
		budget  = 64 * mib
		uploads = 200
		size    = 4 * mib
	)
	s := startServer(t, "-budget", "64MiB", "-budget-wait", "200ms")
	data := randomBytes(t, 2*size)

	// The poller watches the pool while the uploads run.
	var (
		maxInUse, maxBudgetUsed float64
		polls                   int
		pollErr                 error
		stop                    = make(chan struct{})
		polled                  = make(chan struct{})
	)
	go func() {
		defer close(polled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			m, err := s.scrape()
			if err != nil {
				pollErr = err
				return
			}
			polls++
			maxInUse = max(maxInUse, m[inUseBytes])
			maxBudgetUsed = max(maxBudgetUsed, m[budgetUsed])
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	var ok, busy, wrong, lost atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(counter *atomic.Int64, format string, args ...any) {
		counter.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 5 {
			failures = append(failures, format)
			t.Errorf(format, args...)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Go(func() {
			off := rand.IntN(size)
			body := data[off : off+size]
			resp, got, err := s.postConcurrently("/upload", []string{"Content-Type: application/octet-stream"}, body, 2*time.Minute)
			if err != nil {
				fail(&lost, "upload %d: %v (want a 200 or a 503)", i, err)
				return
			}
			switch resp.StatusCode {
			case http.StatusOK:
				var res struct {
					Bytes  int    `json:"bytes"`
					SHA256 string `json:"sha256"`
				}
				sum := sha256.Sum256(body)
				if err := json.Unmarshal(got, &res); err != nil || res.Bytes != size || res.SHA256 != hex.EncodeToString(sum[:]) {
					fail(&wrong, "upload %d: 200 with %s, want %d bytes with sha256 %x (%v)", i, got, size, sum, err)
					return
				}
				ok.Add(1)
			case http.StatusServiceUnavailable:
				if resp.Header.Get("Retry-After") == "" {
					fail(&wrong, "upload %d: 503 without Retry-After", i)
					return
				}
				busy.Add(1)
			default:
				fail(&wrong, "upload %d: status %d: %.200s", i, resp.StatusCode, got)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-polled
	if pollErr != nil {
		t.Fatal(pollErr)
	}

	t.Logf("%d uploads of 4 MiB in %s: %d x 200 with the right sha256, %d x 503 with Retry-After, %d wrong, %d lost; "+
		"over %d scrapes the pool had at most %.1f MiB in use and %.1f MiB of the budget taken (budget %d MiB)",
		uploads, elapsed.Round(time.Millisecond), ok.Load(), busy.Load(), wrong.Load(), lost.Load(),
		polls, maxInUse/mib, maxBudgetUsed/mib, budget/mib)
	if n := ok.Load() + busy.Load(); n != uploads {
		t.Errorf("%d of %d uploads got a correct 200 or a 503", n, uploads)
	}
	if ok.Load() == 0 {
		t.Errorf("no upload succeeded")
	}
	if busy.Load() == 0 {
		t.Logf("no upload was refused: the load did not reach the budget")
	}
	if maxInUse > budget || maxBudgetUsed > budget {
		t.Errorf("in use %.0f bytes and budget used %.0f bytes at most, want both <= %d", maxInUse, maxBudgetUsed, budget)
	}
	s.settle(t)
}
