package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// Bounds of the slow-streams test (S4 of issue 14).
const (
	// slowStreamBound is the most pool memory one slow stream may hold: a
	// stream that declared 8 MiB and sent 1 byte holds memory for what it
	// sent, not for what it declared.
	slowStreamBound = 4 * kib
	// slowDeclared is the Content-Length every slow stream declares.
	slowDeclared = 8 * mib
	// slowSmallRequests is how many small POSTs the other client sends
	// while the slow streams hold.
	slowSmallRequests = 20
)

// slowStreamsShape is the size of the slow-streams test: the 4,000
// streams (20 h2c connections × 200) against a 128 MiB budget with
// BODYPOOL_RELIABILITY_FULL=1 in a run without -race, where the client's
// two goroutines per stream stay under the race detector's limit of 8,128;
// otherwise 200 streams (4 × 50) against a budget scaled down with them.
func slowStreamsShape() (conns, streams int, budget string) {
	if !raceEnabled && os.Getenv("BODYPOOL_RELIABILITY_FULL") == "1" {
		return 20, 200, "128MiB"
	}
	return 4, 50, "8MiB"
}

// TestSlowStreams opens many HTTP/2 streams without TLS (h2c), each
// declaring a body of 8 MiB and sending 1 byte, then holding; meanwhile
// another client sends small POSTs over HTTP/1.1. The slow streams may hold
// at most slowStreamBound of pool memory each (bufpool_in_use_bytes over
// the streams), and the small POSTs must get 200, with and without an
// in-use budget. (Before the middleware's first buffer was 4 KiB, each
// stream held 64 KiB, and 4,000 of them took a 128 MiB budget whole.)
func TestSlowStreams(t *testing.T) {
	conns, perConn, budget := slowStreamsShape()
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"no budget", nil},
		{"budget " + budget, []string{"-budget", budget}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, append([]string{"-h2c"}, tc.flags...)...)
			r := holdSlowStreams(t, s, conns, perConn)
			t.Logf("%d slow streams (%d h2c connections × %d) hold %.0f bytes of pool memory in use (%.0f B per stream), "+
				"%.0f bytes of the budget; %d of them ended early (first: %v); small POSTs: %d of %d got 200 (first failure: %v); "+
				"budget rejections %.0f",
				r.streams, conns, perConn, r.inUse, r.perStream, r.budgetUsed, r.endedEarly, r.firstEarly,
				r.smallOK, slowSmallRequests, r.firstSmallFailure, r.rejections)
			s.settle(t)

			if r.perStream > slowStreamBound {
				t.Errorf("pool memory per slow stream %.0f B, want at most %d B", r.perStream, slowStreamBound)
			}
			if r.endedEarly > 0 {
				t.Errorf("%d of %d slow streams ended before the test released them (first: %v)", r.endedEarly, r.streams, r.firstEarly)
			}
			if r.smallOK != slowSmallRequests {
				t.Errorf("%d of %d small POSTs got 200 while the slow streams held (first failure: %v)",
					r.smallOK, slowSmallRequests, r.firstSmallFailure)
			}
		})
	}
}

// slowResult is what holdSlowStreams measured while the streams held.
type slowResult struct {
	streams                       int
	inUseBefore, goroutinesBefore float64 // before the streams opened
	inUse, budgetUsed, rejections float64 // while they held
	perStream                     float64 // in-use bytes they added, per stream
	endedEarly                    int
	firstEarly                    error
	smallOK                       int
	firstSmallFailure             error
}

// holdSlowStreams opens conns h2c connections with perConn slow streams
// each, waits until the server handles every stream that is still open,
// reads the pool's figures, sends the small POSTs, and then releases the
// streams and closes the connections, whatever happens.
func holdSlowStreams(t *testing.T, s *server, conns, perConn int) slowResult {
	t.Helper()
	before := s.metrics(t)
	res := slowResult{streams: conns * perConn, inUseBefore: before[inUseBytes], goroutinesBefore: before[goroutines]}

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg    sync.WaitGroup
		sent  atomic.Int64 // streams whose byte went out
		ended atomic.Int64 // streams answered or failed before cancel
		mu    sync.Mutex
		ccs   []*http.ClientConn
	)
	release := func() {
		cancel()
		wg.Wait()
		for _, cc := range ccs {
			cc.Close()
		}
		tr.CloseIdleConnections()
	}
	defer release()

	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	for range conns {
		cc, err := tr.NewClientConn(dctx, "http", s.Addr)
		if err != nil {
			t.Fatalf("h2c connection: %v", err)
		}
		ccs = append(ccs, cc)
	}
	for _, cc := range ccs {
		for range perConn {
			body := newSlowBody(ctx, &sent)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/echo", body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = slowDeclared
			wg.Go(func() {
				resp, err := cc.RoundTrip(req)
				if ctx.Err() != nil {
					if err == nil {
						resp.Body.Close()
					}
					return // released by the test
				}
				ended.Add(1)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					err = fmt.Errorf("status %s", resp.Status)
				}
				mu.Lock()
				if res.firstEarly == nil {
					res.firstEarly = err
				}
				mu.Unlock()
			})
		}
	}

	// Every stream has sent its byte, and the server runs a handler for
	// every stream not yet answered.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := s.metrics(t)
		open := float64(res.streams) - float64(ended.Load())
		if sent.Load() == int64(res.streams) && m[goroutines] >= res.goroutinesBefore+open {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %d of %d slow streams sent their byte, %d ended; server goroutines %v, want %v + %v",
				sent.Load(), res.streams, ended.Load(), m[goroutines], res.goroutinesBefore, open)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The handlers are there; their bodies' first reads may still be on
	// their way to the pool. The figure counts once two reads agree.
	var m demoproc.Metrics
	for prev, i := -1.0, 0; i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		m = s.metrics(t)
		if m[inUseBytes] == prev {
			break
		}
		prev = m[inUseBytes]
	}
	res.inUse, res.budgetUsed = m[inUseBytes], m[budgetUsed]
	res.rejections = m.Sum("bufpool_budget_rejections_total")
	res.perStream = (res.inUse - res.inUseBefore) / float64(res.streams)

	// The other client: small POSTs over HTTP/1.1, one at a time.
	payload := []byte("hello world") // 11 bytes
	for i := range slowSmallRequests {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/echo", bytes.NewReader(payload))
		resp, got, err := s.do(t, req, 10*time.Second)
		switch {
		case err != nil:
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("status %s: %.100s", resp.Status, strings.TrimSpace(string(got)))
		case !bytes.Equal(got, payload):
			err = fmt.Errorf("echo %q, want %q", got, payload)
		}
		if err != nil {
			if res.firstSmallFailure == nil {
				res.firstSmallFailure = fmt.Errorf("small POST %d: %w", i, err)
			}
			continue
		}
		res.smallOK++
	}
	res.endedEarly = int(ended.Load())
	release()
	return res
}

// slowBody is a request body that sends one byte, then nothing until its
// context ends or it is closed: a client that declared more than it sends.
type slowBody struct {
	ctx    context.Context
	sent   *atomic.Int64 // counts the bodies whose byte was read
	read   bool          // only the transport's one writer reads
	closed chan struct{}
	once   sync.Once
}

func newSlowBody(ctx context.Context, sent *atomic.Int64) *slowBody {
	return &slowBody{ctx: ctx, sent: sent, closed: make(chan struct{})}
}

var errSlowBodyClosed = errors.New("slow body closed")

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.read && len(p) > 0 {
		b.read = true
		p[0] = 'x'
		b.sent.Add(1)
		return 1, nil
	}
	select {
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	case <-b.closed:
		return 0, errSlowBodyClosed
	}
}

// Close ends a Read that waits; the transport calls it when the stream
// ends, from another goroutine than the reader's.
func (b *slowBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}
