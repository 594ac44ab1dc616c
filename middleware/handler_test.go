package middleware

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/pooltest"
)

// recovering is the application's recovery around the middleware: it
// answers a panic with 500 "recovered".
func recovering(recovered *atomic.Int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				recovered.Add(1)
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "recovered")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// partialThenPanic reads the body, writes part of a response and panics.
func partialThenPanic(w http.ResponseWriter, r *http.Request) {
	if len(Body(r)) == 0 && r.ContentLength != 0 {
		panic("no body")
	}
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, "partial secret body")
	panic("handler failed")
}

// A panic after a partial response sends none of it: the recovery's 500
// is the whole response, and every buffer goes back to the pool.
func TestPanicSendsNothing(t *testing.T) {
	const repeats = 200
	for _, mode := range poolModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Run("server", func(t *testing.T) {
				p := newPool(t, mode.cfg)
				var recovered atomic.Int64
				srv := startServer(t, p, recovering(&recovered, newMiddleware(t, Config{Pool: p})(http.HandlerFunc(partialThenPanic))))
				for i := range repeats {
					resp, err := srv.Client().Post(srv.URL, "application/octet-stream", bytes.NewReader(payload(uint64(i), 100+i*500)))
					if err != nil {
						t.Fatal(err)
					}
					got, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 500 || string(got) != "recovered" {
						t.Fatalf("request %d: %d %q, want 500 \"recovered\"", i, resp.StatusCode, got)
					}
				}
				if recovered.Load() != repeats {
					t.Errorf("the recovery saw %d panics, want %d", recovered.Load(), repeats)
				}
			})
			t.Run("recorder", func(t *testing.T) {
				p := newPool(t, mode.cfg)
				var recovered atomic.Int64
				h := recovering(&recovered, newMiddleware(t, Config{Pool: p})(http.HandlerFunc(partialThenPanic)))
				for i := range repeats {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, newRequest("PUT", unsized{bytes.NewReader(payload(uint64(i), 100+i*500))}))
					if rec.Code != 500 || rec.Body.String() != "recovered" {
						t.Fatalf("request %d: %d %q, want 500 \"recovered\"", i, rec.Code, rec.Body)
					}
					checkLeaks(t, p)
				}
				if recovered.Load() != repeats {
					t.Errorf("the recovery saw %d panics, want %d", recovered.Load(), repeats)
				}
			})
		})
	}
}

// A handler that aborts with http.ErrAbortHandler and no recovery around
// it: the server drops the connection, and the buffers still go back.
func TestAbortHandler(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(Body(r))
		panic(http.ErrAbortHandler)
	})))
	resp, err := srv.Client().Post(srv.URL, "text/plain", bytes.NewReader(payload(30, 5000)))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got a %d response from an aborted handler", resp.StatusCode)
	}
}

// Many clients at once send distinct random bodies of random sizes; each
// must get back exactly its own. A pool in Poison mode turns any sharing
// of memory between requests into visible garbage.
func TestIsolation(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	h := newMiddleware(t, Config{Pool: p, MaxRequestBody: 2 << 20})(http.HandlerFunc(echoBody))
	srv := startServer(t, p, h)
	isolation(t, srv)
}

// echoBody writes the request body back, by one of three routes.
func echoBody(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/write":
		w.Write(Body(r))
	case "/copy":
		io.Copy(w, r.Body)
	case "/readfrom":
		w.(io.ReaderFrom).ReadFrom(unsized{r.Body})
	}
}

// isolation runs pooltest.Isolation against srv, which echoes bodies on
// /write, /copy and /readfrom.
func isolation(t *testing.T, srv *httptest.Server) {
	t.Helper()
	pooltest.Isolation(t, srv, pooltest.IsolationRequests, "/write", "/copy", "/readfrom")
}

// rewindable is pooltest's.
type rewindable = pooltest.Rewindable

var newSink = pooltest.NewSink

// missCost measures the allocations a pool miss costs: the memory, its
// slab and Buffer, and the cleanup registered for it.
func missCost(t *testing.T) float64 {
	t.Helper()
	// Detach takes the memory out of the pool: every Get misses.
	p, err := bufpool.New(bufpool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return testing.AllocsPerRun(100, func() { _ = p.Get(1024).Detach() })
}

// allocsPerRequest returns the allocations of a request through h, and
// the pool misses per request. Misses happen under the race detector,
// which drops a quarter of sync.Pool Puts on purpose; each costs missCost
// allocations, which are taken out. A garbage collection costs the pool
// allocations too (sync.Pool allocates its per-P state again after one),
// so batches run with the collector off, each right after a collection,
// and the count is the least of a few batches.
func allocsPerRequest(t *testing.T, p *bufpool.Pool, h http.Handler, req *http.Request, body []byte) (allocs, misses float64) {
	t.Helper()
	w := newSink()
	rd := bytes.NewReader(body)
	run := func() {
		rd.Reset(body)
		req.Body = rewindable{Reader: rd}
		w.Reset()
		h.ServeHTTP(w, req)
	}
	cost := missCost(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	allocs = math.Inf(1)
	var ms runtime.MemStats
	for range allocBatches {
		runtime.GC()
		run() // warm the pool and sync.Pool's state after the collection
		miss0 := p.Stats().Total.Misses
		runtime.ReadMemStats(&ms)
		mallocs0 := ms.Mallocs
		for range allocBatchRuns {
			run()
		}
		runtime.ReadMemStats(&ms)
		m := float64(p.Stats().Total.Misses-miss0) / allocBatchRuns
		if a := float64(ms.Mallocs-mallocs0)/allocBatchRuns - m*cost; a < allocs {
			allocs, misses = a, m
		}
	}
	return allocs, misses
}

// The middleware's cost per request, in allocations:
//
//   - A request without a body costs exactly one allocation more than the
//     bare handler: the response writer wrapper (a responseWriter is not
//     pooled, so that a writer kept by mistake never reaches a later
//     response).
//   - A request with a body costs 11 allocations, whatever its size: the
//     request copy (WithContext), its context value, the body reader, the
//     r.GetBody closure, the writer, the Content-Length header's value and
//     string (2), and for each of the two buffers (request and response)
//     the handle and call stack a Track pool allocates per Get (4). Growth
//     through the pool allocates nothing.
func TestAllocs(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	mw := newMiddleware(t, Config{Pool: p, MaxRequestBody: 2 << 20, MaxBufferedResponse: 2 << 20})

	t.Run("GET", func(t *testing.T) {
		for name, handler := range map[string]http.HandlerFunc{
			"nothing written": func(w http.ResponseWriter, r *http.Request) {},
			"204":             func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		} {
			req := newRequest("GET", nil)
			rec := func(h http.Handler) float64 {
				return testing.AllocsPerRun(200, func() { h.ServeHTTP(httptest.NewRecorder(), req) })
			}
			bare, through := rec(handler), rec(mw(handler))
			// The one allocation: the responseWriter wrapper.
			if through != bare+1 {
				t.Errorf("%s: %v allocations through the middleware, want %v (bare handler) + 1 (writer)", name, through, bare)
			}
			if gets(p) != 0 {
				t.Errorf("%s: a request without a body took %d buffers", name, gets(p))
			}
		}
	})

	t.Run("POST", func(t *testing.T) {
		// The body is written back from Body(r), buffered and sent with a
		// Content-Length.
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(Body(r)) }))
		const maxAllocs = 11
		counts := map[int]float64{}
		for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
			req := newRequest("POST", nil)
			req.ContentLength = int64(size)
			start := time.Now()
			allocs, misses := allocsPerRequest(t, p, h, req, payload(31, size))
			t.Logf("%7d bytes: %.2f allocations per request (pool misses %.2f, taken out) %v", size, allocs, misses, time.Since(start))
			if allocs > maxAllocs+raceSlack {
				t.Errorf("%d bytes: %.1f allocations per request, want at most %d", size, allocs, maxAllocs)
			}
			counts[size] = allocs
		}
		for size, n := range counts {
			if d := n - counts[1<<10]; math.Abs(d) > raceSlack {
				t.Errorf("%d bytes: %.1f allocations, 1 KiB: %.1f; want the same count for every size", size, n, counts[1<<10])
			}
		}
	})
}

// observed records what an Observer is told.
type observed struct {
	mu        sync.Mutex
	requests  []int
	responses []string
	rejected  []string
}

func (o *observed) RequestBody(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, n)
}

func (o *observed) ResponseBody(n int, streamed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.responses = append(o.responses, fmt.Sprintf("%d streamed=%v", n, streamed))
}

func (o *observed) Rejected(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejected = append(o.rejected, reason)
}

// The Observer is told every body's size and every refusal's reason.
func TestObserver(t *testing.T) {
	p := newPool(t, bufpool.Config{MaxInUseBytes: 1 << 20})
	var o observed
	cfg := Config{Pool: p, Observer: &o, MaxRequestBody: 64 << 10, MaxBufferedResponse: testThreshold, BudgetWait: -1}
	h := newMiddleware(t, cfg)(http.HandlerFunc(echoBody))
	serve := func(path string, body io.Reader) {
		req := newRequest("POST", body)
		req.URL.Path = path
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	serve("/write", bytes.NewReader(payload(80, 100)))
	serve("/copy", bytes.NewReader(payload(81, 2*testThreshold)))
	serve("/write", nil)
	serve("/write", bytes.NewReader(payload(82, 64<<10+1)))
	serve("/write", unsized{bytes.NewReader(payload(83, 64<<10+1))})
	serve("/write", iotest.ErrReader(io.ErrUnexpectedEOF))
	hold, err := p.Acquire(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	serve("/write", bytes.NewReader(payload(84, 100)))
	hold.Release()

	o.mu.Lock()
	defer o.mu.Unlock()
	wantRequests := []int{100, 2 * testThreshold}
	// The request without a body writes an empty response (Write(nil)).
	wantResponses := []string{"100 streamed=false", fmt.Sprintf("%d streamed=true", 2*testThreshold), "0 streamed=false"}
	wantRejected := []string{ReasonTooLarge, ReasonTooLarge, ReasonTruncated, ReasonBudget}
	if !slices.Equal(o.requests, wantRequests) {
		t.Errorf("request bodies %v, want %v", o.requests, wantRequests)
	}
	if !slices.Equal(o.responses, wantResponses) {
		t.Errorf("response bodies %q, want %q", o.responses, wantResponses)
	}
	if !slices.Equal(o.rejected, wantRejected) {
		t.Errorf("refusals %q, want %q", o.rejected, wantRejected)
	}
}
