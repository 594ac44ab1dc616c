package reliability

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/middleware"
)

// h2Limit is the -max-body of the HTTP/2 tests: above the largest
// isolation payload.
const h2Limit = 2 * mib

// TestH2C runs the isolation, limit and SSE cases over HTTP/2 without TLS,
// and resets streams in the middle of their bodies.
func TestH2C(t *testing.T) {
	s := startServer(t, "-h2c", "-max-body", strconv.Itoa(h2Limit))
	tr := &http.Transport{}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	s.Client = &http.Client{Transport: tr, Timeout: time.Minute}
	payload := randomBytes(t, h2Limit+1)

	t.Run("isolation", func(t *testing.T) {
		checkIsolation(t, s.Client, s.URL, isolationRequests()/4, true)
		s.settle(t)
	})
	t.Run("limit", func(t *testing.T) {
		checkLimit(t, s.Client, s.URL, payload, h2Limit)
		s.settle(t)
	})
	t.Run("SSE", func(t *testing.T) {
		checkEvents(t, s.Client, s.URL+"/events?n=5&interval=200ms", 5, 200*time.Millisecond)
		s.settle(t)
	})
	t.Run("streams reset mid-body", func(t *testing.T) {
		const streams = 10
		var wg sync.WaitGroup
		cancels := make([]context.CancelFunc, streams)
		errs := make([]error, streams)
		for i := range streams {
			ctx, cancel := context.WithCancel(context.Background())
			cancels[i] = cancel
			pr, pw := io.Pipe()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/upload", pr)
			req.ContentLength = h2Limit
			wg.Go(func() {
				resp, err := s.Client.Do(req)
				if err == nil {
					resp.Body.Close()
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				errs[i] = err
				pr.CloseWithError(err)
			})
			wg.Go(func() {
				// Part of the body, then nothing until the reset.
				pw.Write(payload[:256*kib])
				<-ctx.Done()
				pw.CloseWithError(ctx.Err())
			})
		}
		s.waitMetric(t, inUseBytes, 30*time.Second, fmt.Sprintf(">= %d x 256 KiB", streams),
			func(v float64) bool { return v >= streams*256*kib })
		for _, cancel := range cancels {
			cancel()
		}
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("stream %d: %v, want it canceled", i, err)
			}
		}
		s.settle(t)
	})
}

// checkLimit requires the body limit to hold over h2: a body of exactly
// limit bytes echoes, one byte more is refused with 413, declared or not.
func checkLimit(t *testing.T, client *http.Client, url string, payload []byte, limit int) {
	t.Helper()
	for _, tc := range []struct {
		n       int
		chunked bool
		status  int
	}{
		{limit, false, http.StatusOK},
		{limit, true, http.StatusOK},
		{limit + 1, false, http.StatusRequestEntityTooLarge},
		{limit + 1, true, http.StatusRequestEntityTooLarge},
	} {
		var body io.Reader = bytes.NewReader(payload[:tc.n])
		if tc.chunked {
			body = io.MultiReader(body)
		}
		req, _ := http.NewRequest(http.MethodPost, url+"/echo", body)
		if tc.chunked {
			req.ContentLength = -1
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%d bytes (length declared: %t): %v", tc.n, !tc.chunked, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("response over %s, want HTTP/2", resp.Proto)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%d bytes (length declared: %t): status %d, want %d: %.200s", tc.n, !tc.chunked, resp.StatusCode, tc.status, got)
		}
		if tc.status == http.StatusOK && !bytes.Equal(got, payload[:tc.n]) {
			t.Errorf("%d bytes (length declared: %t): echo differs", tc.n, !tc.chunked)
		}
	}
}

// checkEvents requires a stream of n server-sent events, interval apart,
// to arrive event by event, not all at the end.
func checkEvents(t *testing.T, client *http.Client, url string, n int, interval time.Duration) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	var arrived []time.Time
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			if id != strconv.Itoa(len(arrived)) {
				t.Errorf("event id %s, want %d", id, len(arrived))
			}
			arrived = append(arrived, time.Now())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(arrived) != n {
		t.Fatalf("%d events, want %d", len(arrived), n)
	}
	// Flushed one by one, the events arrive spread over the stream; held
	// back, they would all arrive together at its end.
	if spread := arrived[n-1].Sub(arrived[0]); spread < time.Duration(n-1)*interval/2 {
		t.Errorf("%d events arrived within %s, want them about %s apart: not flushed", n, spread, interval)
	}
	if resp.ProtoMajor != 2 && strings.HasPrefix(url, "https") {
		t.Errorf("events over %s, want HTTP/2", resp.Proto)
	}
}

// TestH2TLS runs the middleware in process behind TLS and HTTP/2 over a
// Track+Poison pool: isolation, the limit, SSE with Flush, and a handler
// that panics after writing, behind a recovery handler. No buffer may be
// left checked out.
func TestH2TLS(t *testing.T) {
	pool, err := bufpool.New(bufpool.Config{Track: true, Poison: true})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := middleware.New(middleware.Config{Pool: pool, MaxRequestBody: h2Limit})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(recoverer(mw(testMux())))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	client := ts.Client()
	payload := randomBytes(t, h2Limit+1)

	t.Run("isolation", func(t *testing.T) {
		checkIsolation(t, client, ts.URL, isolationRequests()/4, true)
	})
	t.Run("limit", func(t *testing.T) {
		checkLimit(t, client, ts.URL, payload, h2Limit)
	})
	t.Run("SSE", func(t *testing.T) {
		checkEvents(t, client, ts.URL+"/events?n=5&interval=200ms", 5, 200*time.Millisecond)
	})
	t.Run("panic", func(t *testing.T) {
		for i := range 50 {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/panic", bytes.NewReader(payload[:i*1000]))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusInternalServerError || bytes.Contains(body, []byte(partialBody)) {
				t.Fatalf("panicking handler: %s %d %q, want HTTP/2 500 without the partial body", resp.Proto, resp.StatusCode, body)
			}
		}
	})
	client.CloseIdleConnections()
	if err := pool.CheckLeaks(); err != nil {
		t.Error(err)
	}
	if st := pool.Stats(); st.Total.InUseBytes != 0 {
		t.Errorf("%d bytes in use at the end, want 0", st.Total.InUseBytes)
	}
}

// partialBody is what the panicking handler writes before it panics.
const partialBody = "partial body before the panic"

// testMux serves, behind the middleware, what the demo server does:
// /echo, /blob, /events, and /panic, which writes and then panics.
func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(middleware.Body(r))
	})
	mux.HandleFunc("GET /blob", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil || n < 0 || n > demo.MaxBlob {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		block := make([]byte, 251*64)
		for i := range block {
			block[i] = demo.BlobByte(i)
		}
		for left := n; left > 0; left -= min(left, len(block)) {
			if _, err := w.Write(block[:min(left, len(block))]); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		interval, _ := time.ParseDuration(r.URL.Query().Get("interval"))
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range n {
			if i > 0 {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(interval):
				}
			}
			fmt.Fprintf(w, "id: %d\ndata: {\"n\":%d}\n\n", i, i)
			if err := rc.Flush(); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("POST /panic", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, partialBody)
		panic("reliability: a handler panics after writing part of its body")
	})
	return mux
}

// recoverer turns a panic of next into a 500, as an application's recovery
// middleware does. http.ErrAbortHandler goes on to the server.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
