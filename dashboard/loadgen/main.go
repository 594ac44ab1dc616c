// Command loadgen drives a bounded load against the bodypool demo server
// for the dashboard's end-to-end check (dashboard/e2e.sh).
//
// It refuses any address that is not a loopback address. It runs for
// -duration and sends at most -max-requests requests:
//
//   - -workers goroutines POST /echo with the same -echo-size body, at most
//     -rps requests per second in all (the repeated-size workload whose hit
//     ratio the checker asserts), checking that the echo is byte-identical;
//   - one goroutine, every -mix-every, runs a round of other requests:
//     POST /upload of several sizes (checking the reported bytes and
//     sha256), GET /blob of several sizes including one above 1 MiB and one
//     above the pool's largest class (checking the length), GET /events (an
//     SSE stream), and, every fourth round when -max-body is set, one POST
//     /upload with a declared length over the limit and one POST /echo with
//     a chunked body over the limit, both expecting 413.
//
// It prints a count per request kind and exits 1 when any answer was not
// the expected one.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type stats struct {
	mu     sync.Mutex
	counts map[string]int
	bad    map[string]int
	sample map[string]string // first error of each kind
}

func (s *stats) record(kind string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[kind]++
	if err != nil {
		s.bad[kind]++
		if _, ok := s.sample[kind]; !ok {
			s.sample[kind] = err.Error()
		}
	}
}

type loader struct {
	base    string
	client  *http.Client
	stats   *stats
	sent    atomic.Int64
	maxReqs int64
}

// take reserves one request of the budget; false when it is spent.
func (l *loader) take() bool {
	return l.sent.Add(1) <= l.maxReqs
}

func (l *loader) do(ctx context.Context, method, path string, body io.Reader, size int64) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, body)
	if err != nil {
		return nil, nil, err
	}
	if size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

func wantStatus(resp *http.Response, code int) error {
	if resp.StatusCode != code {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, code)
	}
	return nil
}

func (l *loader) echo(ctx context.Context, body []byte) error {
	resp, data, err := l.do(ctx, http.MethodPost, "/echo", bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return err
	}
	if !bytes.Equal(data, body) {
		return fmt.Errorf("echo of %d bytes returned %d different bytes", len(body), len(data))
	}
	return nil
}

func (l *loader) upload(ctx context.Context, body []byte) error {
	resp, data, err := l.do(ctx, http.MethodPost, "/upload", bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return err
	}
	var got struct {
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		return fmt.Errorf("upload answer %.100q: %v", data, err)
	}
	sum := sha256.Sum256(body)
	if got.Bytes != int64(len(body)) || !strings.EqualFold(got.SHA256, hex.EncodeToString(sum[:])) {
		return fmt.Errorf("upload of %d bytes answered %+v", len(body), got)
	}
	return nil
}

func (l *loader) blob(ctx context.Context, size int) error {
	resp, data, err := l.do(ctx, http.MethodGet, "/blob?size="+strconv.Itoa(size), nil, -1)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return err
	}
	if len(data) != size {
		return fmt.Errorf("blob of %d bytes returned %d", size, len(data))
	}
	return nil
}

func (l *loader) events(ctx context.Context, n int, interval time.Duration) error {
	resp, data, err := l.do(ctx, http.MethodGet, fmt.Sprintf("/events?n=%d&interval=%s", n, interval), nil, -1)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("events Content-Type %q", ct)
	}
	if got := bytes.Count(data, []byte("data:")); got < n {
		return fmt.Errorf("events: %d data lines, want %d", got, n)
	}
	return nil
}

// tooLarge sends a body over the limit, with its length declared or
// chunked, and expects 413.
func (l *loader) tooLarge(ctx context.Context, path string, size int, declared bool) error {
	length := int64(size)
	var body io.Reader = bytes.NewReader(make([]byte, size))
	if !declared {
		length = -1
		body = io.MultiReader(body) // hides the length: sent chunked
	}
	resp, _, err := l.do(ctx, http.MethodPost, path, body, length)
	if err != nil {
		// The server may answer 413 and close before reading the whole
		// body; the client then sees a broken write, not the answer.
		return err
	}
	return wantStatus(resp, http.StatusRequestEntityTooLarge)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type sizeList []int

func (s *sizeList) String() string { return fmt.Sprint(*s) }

func (s *sizeList) Set(v string) error {
	*s = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("bad size %q", f)
		}
		*s = append(*s, n)
	}
	return nil
}

func main() {
	var (
		base      = flag.String("url", "", "base URL of the demo server; must be a loopback address")
		duration  = flag.Duration("duration", 25*time.Second, "how long to send load")
		workers   = flag.Int("workers", 4, "concurrent /echo clients")
		rps       = flag.Int("rps", 1000, "cap on /echo requests per second in all (0: no cap)")
		echoSize  = flag.Int("echo-size", 16<<10, "size of every /echo body (the repeated-size workload)")
		mixEvery  = flag.Duration("mix-every", 500*time.Millisecond, "interval between rounds of the other requests")
		maxBody   = flag.Int("max-body", 0, "the server's -max-body in bytes; when set, bodies above it are sent expecting 413")
		maxReqs   = flag.Int64("max-requests", 200000, "hard cap on the number of requests")
		uploads   = sizeList{1 << 10, 64 << 10, 300 << 10}
		blobs     = sizeList{1 << 10, 64 << 10, 2 << 20, 6 << 20}
		eventsN   = flag.Int("events-n", 3, "events per /events stream")
		eventsGap = flag.Duration("events-interval", 50*time.Millisecond, "interval between events of a stream")
	)
	flag.Var(&uploads, "upload-sizes", "comma-separated /upload body sizes")
	flag.Var(&blobs, "blob-sizes", "comma-separated /blob sizes")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
		fmt.Fprintf(os.Stderr, "loadgen: -url must be http://<loopback address>:port, got %q\n", *base)
		os.Exit(2)
	}
	if *duration <= 0 || *duration > 5*time.Minute || *workers < 1 || *workers > 64 {
		fmt.Fprintln(os.Stderr, "loadgen: want 0 < -duration <= 5m and 1 <= -workers <= 64")
		os.Exit(2)
	}
	l := &loader{
		base: strings.TrimRight(*base, "/"),
		client: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: *workers + 4,
				DisableCompression:  true,
			},
		},
		stats:   &stats{counts: map[string]int{}, bad: map[string]int{}, sample: map[string]string{}},
		maxReqs: *maxReqs,
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	start := time.Now()

	body := make([]byte, *echoSize)
	rand.Read(body)

	var tick <-chan time.Time
	if *rps > 0 {
		t := time.NewTicker(time.Second / time.Duration(*rps))
		defer t.Stop()
		tick = t.C
	}
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if tick != nil {
					select {
					case <-ctx.Done():
						return
					case <-tick:
					}
				}
				if ctx.Err() != nil || !l.take() {
					return
				}
				if err := l.echo(ctx, body); ctx.Err() == nil {
					l.stats.record(fmt.Sprintf("POST /echo %dB", *echoSize), err)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(*mixEvery)
		defer t.Stop()
		for round := 0; ; round++ {
			type step struct {
				kind string
				run  func() error
			}
			var steps []step
			for _, n := range uploads {
				data := make([]byte, n)
				rand.Read(data)
				steps = append(steps, step{fmt.Sprintf("POST /upload %dB", n), func() error { return l.upload(ctx, data) }})
			}
			for _, n := range blobs {
				steps = append(steps, step{fmt.Sprintf("GET /blob?size=%d", n), func() error { return l.blob(ctx, n) }})
			}
			steps = append(steps, step{"GET /events", func() error { return l.events(ctx, *eventsN, *eventsGap) }})
			if *maxBody > 0 && round%4 == 0 {
				over := *maxBody + 64<<10
				steps = append(steps,
					step{fmt.Sprintf("POST /upload %dB declared (want 413)", over), func() error { return l.tooLarge(ctx, "/upload", over, true) }},
					step{fmt.Sprintf("POST /echo %dB chunked (want 413)", over), func() error { return l.tooLarge(ctx, "/echo", over, false) }})
			}
			for _, s := range steps {
				if ctx.Err() != nil || !l.take() {
					return
				}
				if err := s.run(); ctx.Err() == nil {
					l.stats.record(s.kind, err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)

	s := l.stats
	kinds := make([]string, 0, len(s.counts))
	total, failed := 0, 0
	for k, n := range s.counts {
		kinds = append(kinds, k)
		total += n
		failed += s.bad[k]
	}
	sort.Strings(kinds)
	fmt.Printf("loadgen: %d requests in %.1fs against %s (%.0f/s)\n", total, elapsed.Seconds(), l.base, float64(total)/elapsed.Seconds())
	for _, k := range kinds {
		line := fmt.Sprintf("  %-45s %6d sent, %d unexpected", k, s.counts[k], s.bad[k])
		if e, ok := s.sample[k]; ok {
			line += " (first: " + e + ")"
		}
		fmt.Println(line)
	}
	if failed > 0 {
		fmt.Printf("loadgen: %d unexpected answers\n", failed)
		os.Exit(1)
	}
}
