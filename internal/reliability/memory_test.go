package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// TestMemoryAfterSpike sends a spike of 50 concurrent 4 MiB uploads and
// then light load: the pool's idle bytes and the heap must fall back near
// where they were before the spike within a bounded time. Idle buffers
// are reclaimed after about two garbage collections without use; the
// light load, JSON requests that allocate, is what makes collections
// happen, as it would on a real server.
func TestMemoryAfterSpike(t *testing.T) {
	const (
		uploads = 50
		size    = 4 * mib
		// recoveryBound bounds the wait for memory to come back.
		recoveryBound = 20 * time.Second
		// Tolerances over the pre-spike figures: the light load keeps a
		// few buffers idle and some heap of its own.
		idleMargin = 2 * mib
		heapMargin = 16 * mib
	)
	s := startServer(t)
	data := randomBytes(t, 2*size)
	light := newLightLoad(t, s)
	for range 10 {
		light.once(t)
	}
	pre := s.metrics(t)

	// The spike, watched.
	var peakInUse, peakHeap atomic.Int64
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			if m, err := s.scrape(); err == nil {
				peakInUse.Store(max(peakInUse.Load(), int64(m[inUseBytes])))
				peakHeap.Store(max(peakHeap.Load(), int64(m[heapInUse])))
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	err := forEach(uploads, uploads, func(i int) error {
		off := rand.IntN(size)
		resp, got, err := s.postConcurrently("/upload", nil, data[off:off+size], 2*time.Minute)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("upload %d: status %d: %.200s", i, resp.StatusCode, got)
		}
		return nil
	})
	close(stop)
	watch.Wait()
	if err != nil {
		t.Fatal(err)
	}
	after := s.metrics(t)

	// Light load until the memory is back, within the bound.
	start := time.Now()
	var m demoproc.Metrics
	for requests := 0; ; requests++ {
		m = s.metrics(t)
		if m[idleBytes] <= pre[idleBytes]+idleMargin && m[heapInUse] <= pre[heapInUse]+heapMargin && m[inUseBytes] == 0 {
			t.Logf("memory back after %s of light load (%d JSON requests)", time.Since(start).Round(time.Millisecond), requests)
			break
		}
		if time.Since(start) > recoveryBound {
			t.Errorf("after %s of light load: idle %.1f MiB (want <= %.1f MiB + %d MiB), heap in use %.1f MiB (want <= %.1f MiB + %d MiB), in use %.0f bytes",
				recoveryBound, m[idleBytes]/mib, pre[idleBytes]/mib, idleMargin/mib, m[heapInUse]/mib, pre[heapInUse]/mib, heapMargin/mib, m[inUseBytes])
			break
		}
		light.once(t)
	}
	t.Logf("%d uploads of 4 MiB: in use peaked at %.1f MiB, heap in use at %.1f MiB; idle / heap in use: %.1f / %.1f MiB before, %.1f / %.1f MiB just after, %.1f / %.1f MiB at the end",
		uploads, float64(peakInUse.Load())/mib, float64(peakHeap.Load())/mib,
		pre[idleBytes]/mib, pre[heapInUse]/mib, after[idleBytes]/mib, after[heapInUse]/mib, m[idleBytes]/mib, m[heapInUse]/mib)
	s.settle(t)
}

// lightLoad is a trickle of JSON requests: the server decodes them into
// maps, which allocates, so the garbage collector runs as it would on a
// server in use.
type lightLoad struct {
	s    *server
	body []byte
}

func newLightLoad(t *testing.T, s *server) *lightLoad {
	items := make([]map[string]any, 3000)
	for i := range items {
		items[i] = map[string]any{"id": len(items) - i, "name": "item-" + strconv.Itoa(i), "tags": []string{"a", "b", "c"}}
	}
	body, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	return &lightLoad{s: s, body: body}
}

func (l *lightLoad) once(t *testing.T) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, l.s.URL+"/json", bytes.NewReader(l.body))
	req.Header.Set("Content-Type", "application/json")
	resp, body, err := l.s.do(t, req, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /json: status %d: %.200s", resp.StatusCode, body)
	}
	time.Sleep(20 * time.Millisecond)
}

// soakDuration is 30s, or BODYPOOL_SOAK.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("BODYPOOL_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("BODYPOOL_SOAK=%q: want a positive duration such as 5m", v)
		}
		return d
	}
	return 30 * time.Second
}

// TestSoak runs steady mixed load (echoes and blobs of up to 1 MiB,
// uploads of up to 4 MiB, JSON) for soakDuration and samples the server's
// resident memory and heap: in the second half, peak RSS and median heap
// in use must not exceed those of the first by more than soakGrowth plus
// soakSlack. Growth beyond that would be a leak
// of memory, of buffers or of goroutines.
func TestSoak(t *testing.T) {
	const (
		workers    = 8
		soakGrowth = 0.10     // relative growth allowed, second half over first
		soakSlack  = 16 * mib // absolute growth allowed
		sample     = 500 * time.Millisecond
	)
	d := soakDuration(t)
	s := startServer(t)
	payload := randomBytes(t, 8*mib)
	light := newLightLoad(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var requests, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(rand.Uint64(), uint64(w)))
			buf := make([]byte, 4*mib+1)
			for ctx.Err() == nil {
				var err error
				switch k := rnd.IntN(20); {
				case k < 12:
					n := logSize(rnd.Float64(), mib)
					off := rnd.IntN(len(payload) - n)
					err = postEcho(ctx, s.Client, s.URL, payload[off:off+n], buf)
				case k < 17:
					err = getBlob(ctx, s.Client, s.URL, logSize(rnd.Float64(), mib), buf)
				case k < 19:
					n := mib + rnd.IntN(3*mib)
					off := rnd.IntN(len(payload) - n)
					var resp *http.Response
					resp, err = s.Client.Post(s.URL+"/upload", "application/octet-stream", bytes.NewReader(payload[off:off+n]))
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("upload: status %d", resp.StatusCode)
						}
					}
				default:
					var req *http.Request
					req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/json", bytes.NewReader(light.body))
					if err == nil {
						var resp *http.Response
						if resp, err = s.Client.Do(req); err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					}
				}
				if ctx.Err() != nil {
					return // cut off by the end of the soak
				}
				requests.Add(1)
				if err != nil && failures.Add(1) <= 3 {
					t.Errorf("soak request: %v", err)
				}
			}
		})
	}

	type point struct{ rss, heap float64 }
	var points []point
	tick := time.NewTicker(sample)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			m, err := s.scrape()
			if err != nil {
				t.Error(err)
				continue
			}
			points = append(points, point{rss: s.rss(t), heap: m[heapInUse]})
		}
	}
	wg.Wait()
	if len(points) < 4 {
		t.Fatalf("%d samples in %s", len(points), d)
	}
	// Resident memory only grows until the runtime returns some, so its
	// peaks compare; the heap in use is a sawtooth between collections, so
	// its medians do.
	half := len(points) / 2
	rss := func(p point) float64 { return p.rss }
	heap := func(p point) float64 { return p.heap }
	first, second := points[:half], points[half:]
	rss1, rss2 := slices.Max(mapPoints(first, rss)), slices.Max(mapPoints(second, rss))
	heap1, heap2 := median(mapPoints(first, heap)), median(mapPoints(second, heap))
	t.Logf("soak of %s, %d workers: %d requests, %d failed; %d samples; peak RSS %.1f MiB in the first half, %.1f MiB in the second; "+
		"median heap in use %.1f MiB, then %.1f MiB (range %.1f to %.1f MiB); allowed growth +%.0f%% + %d MiB",
		d, workers, requests.Load(), failures.Load(), len(points), rss1/mib, rss2/mib, heap1/mib, heap2/mib,
		slices.Min(mapPoints(points, heap))/mib, slices.Max(mapPoints(points, heap))/mib, soakGrowth*100, soakSlack/mib)
	if rss2 > rss1*(1+soakGrowth)+soakSlack {
		t.Errorf("peak RSS grew from %.1f MiB to %.1f MiB", rss1/mib, rss2/mib)
	}
	if heap2 > heap1*(1+soakGrowth)+soakSlack {
		t.Errorf("median heap in use grew from %.1f MiB to %.1f MiB", heap1/mib, heap2/mib)
	}
	s.settle(t)
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func mapPoints[P any](ps []P, f func(P) float64) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = f(p)
	}
	return out
}
