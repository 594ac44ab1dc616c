package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
)

// TestModes runs every endpoint against a server in every pool mode.
func TestModes(t *testing.T) {
	for _, mode := range demo.Modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, modeArgs(mode))
			for _, tc := range []struct {
				name string
				test func(t *testing.T, s *server, mode string)
			}{
				{"echo", testEcho},
				{"upload", testUpload},
				{"json", testJSON},
				{"blob", testBlob},
				{"events", testEvents},
				{"metrics", testMetrics},
				{"healthz", testHealthz},
				{"no pprof", testPprofOff},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.test(t, s, mode) })
			}
			if mode != demo.ModeOff {
				t.Run("at rest", func(t *testing.T) { testAtRest(t, s, mode) })
			}
			t.Run("limits and pprof", func(t *testing.T) { testLimits(t, mode) })
		})
	}
}

func testEcho(t *testing.T, s *server, mode string) {
	for _, n := range []int{0, 1, 1000, 100 << 10, 2 << 20} {
		body := randomBytes(n)
		ct := "application/x-test-" + strconv.Itoa(n)
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = unsized{r}
			}
			resp, got := s.do(t, http.MethodPost, "/echo", r, "Content-Type", ct)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
				t.Errorf("POST /echo %d bytes (chunked %t): status %d, %d bytes back, equal %t",
					n, chunked, resp.StatusCode, len(got), bytes.Equal(got, body))
			}
			if got := resp.Header.Get("Content-Type"); got != ct {
				t.Errorf("POST /echo %d bytes: Content-Type %q, want %q", n, got, ct)
			}
		}
	}
	resp, got := s.do(t, http.MethodPost, "/echo", strings.NewReader("no type"))
	if ct := resp.Header.Get("Content-Type"); string(got) != "no type" || ct != "application/octet-stream" {
		t.Errorf("POST /echo without Content-Type: %q with Content-Type %q, want application/octet-stream", got, ct)
	}
}

func testUpload(t *testing.T, s *server, mode string) {
	for _, n := range []int{0, 1, 1000, 100 << 10, 2 << 20} {
		body := randomBytes(n)
		sum := sha256.Sum256(body)
		want := map[string]any{"bytes": float64(n), "sha256": hex.EncodeToString(sum[:])}
		resp, b := s.do(t, http.MethodPost, "/upload", bytes.NewReader(body), "Content-Type", "application/octet-stream")
		var got map[string]any
		if err := json.Unmarshal(b, &got); resp.StatusCode != http.StatusOK || err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("POST /upload %d bytes: status %d, %s; want %v", n, resp.StatusCode, b, want)
		}
	}
}

func testJSON(t *testing.T, s *server, mode string) {
	// Big enough to need several buffers and to grow the response buffer.
	var in, want []map[string]any
	for i := range 2000 {
		in = append(in, map[string]any{"id": float64((i * 7919) % 2000), "name": "item-" + strconv.Itoa(i)})
	}
	in = append(in, map[string]any{"id": "b"}, map[string]any{"id": "a"}, map[string]any{"note": "no id"})
	for i, it := range in {
		w := map[string]any{"index": float64(i), "processed": true}
		for k, v := range it {
			w[k] = v
		}
		want = append(want, w)
	}
	// Numbers ascending (each id is distinct), then strings, then the rest.
	sorted := make([]map[string]any, len(want))
	for _, w := range want[:2000] {
		sorted[int(w["id"].(float64))] = w
	}
	copy(sorted[2000:], []map[string]any{want[2001], want[2000], want[2002]})

	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := s.do(t, http.MethodPost, "/json", bytes.NewReader(body), "Content-Type", "application/json")
	var got []map[string]any
	if err := json.Unmarshal(b, &got); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("POST /json: status %d, %v; body %.200q", resp.StatusCode, err, b)
	}
	if !reflect.DeepEqual(got, sorted) {
		t.Errorf("POST /json: %d items, not the input with index and processed, sorted by id; first %v", len(got), got[:min(3, len(got))])
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST /json: Content-Type %q", ct)
	}

	for _, bad := range []string{`[{"id":1}`, `not json`, ``, `{"id":1}`, `[1,2]`, `"text"`, `[{"id":1},null]`, `null`} {
		s.expectStatus(t, http.StatusBadRequest, http.MethodPost, "/json", strings.NewReader(bad), "Content-Type", "application/json")
	}
}

func testBlob(t *testing.T, s *server, mode string) {
	for _, n := range []int{0, 10, 1 << 20, 3 << 20} {
		resp, b := s.do(t, http.MethodGet, fmt.Sprintf("/blob?size=%d", n), nil)
		if resp.StatusCode != http.StatusOK || len(b) != n {
			t.Errorf("GET /blob?size=%d: status %d, %d bytes", n, resp.StatusCode, len(b))
			continue
		}
		for i, c := range b {
			if c != demo.BlobByte(i) {
				t.Errorf("GET /blob?size=%d: byte %d is %d, want %d", n, i, c, demo.BlobByte(i))
				break
			}
		}
		// Small responses go out buffered; so do those up to -max-buffered
		// (1 MiB by default) through the middleware.
		if small := n <= 10 || (n <= 1<<20 && mode != demo.ModeOff); small && resp.ContentLength != int64(n) {
			t.Errorf("GET /blob?size=%d: Content-Length %d, want %d", n, resp.ContentLength, n)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("GET /blob?size=%d: Content-Type %q", n, ct)
		}
	}
	resp, b := s.do(t, http.MethodGet, "/blob?size=1KiB", nil)
	if resp.StatusCode != http.StatusOK || len(b) != 1024 {
		t.Errorf("GET /blob?size=1KiB: status %d, %d bytes", resp.StatusCode, len(b))
	}
	for _, q := range []string{"", "?size=", "?size=x", "?size=-1", "?size=65MiB", "?size=1.5"} {
		s.expectStatus(t, http.StatusBadRequest, http.MethodGet, "/blob"+q, nil)
	}

	get := s.expectStatus(t, http.StatusOK, http.MethodGet, "/blob?size=1000", nil)
	head, b := s.do(t, http.MethodHead, "/blob?size=1000", nil)
	if head.StatusCode != http.StatusOK || len(b) != 0 || head.ContentLength != 1000 || get.ContentLength != 1000 {
		t.Errorf("HEAD /blob?size=1000: status %d, %d body bytes, Content-Length %d (GET: %d); want 200, none, 1000",
			head.StatusCode, len(b), head.ContentLength, get.ContentLength)
	}
}

func testMetrics(t *testing.T, s *server, mode string) {
	m := s.scrape(t)
	if _, ok := m["go_memstats_alloc_bytes_total"]; !ok {
		t.Errorf("GET /metrics: no go_memstats_alloc_bytes_total")
	}
	var gets, ours int // bufpool_gets_total samples, and those of this mode
	for k := range m {
		if strings.HasPrefix(k, "bufpool_gets_total{") {
			gets++
			if strings.Contains(k, `pool="`+mode+`"`) {
				ours++
			}
		}
	}
	switch {
	case mode != demo.ModeOff && ours == 0:
		t.Errorf("GET /metrics: no bufpool_gets_total{pool=%q}", mode)
	case mode == demo.ModeOff && gets > 0:
		t.Errorf("GET /metrics in mode off reports bufpool_gets_total")
	}
}

func testHealthz(t *testing.T, s *server, mode string) {
	resp, b := s.do(t, http.MethodGet, "/healthz", nil)
	if resp.StatusCode != http.StatusOK || string(b) != "ok\n" {
		t.Errorf("GET /healthz: status %d, %q", resp.StatusCode, b)
	}
}

func testPprofOff(t *testing.T, s *server, mode string) {
	s.expectStatus(t, http.StatusNotFound, http.MethodGet, "/debug/pprof/", nil)
}

// testAtRest checks that once the requests are done every pooled buffer
// is back: a leak in any mode shows as bytes in use.
func testAtRest(t *testing.T, s *server, mode string) {
	name := `bufpool_in_use_bytes{pool="` + mode + `"}`
	var v float64
	if !eventually(5*time.Second, func() bool {
		var ok bool
		v, ok = s.scrape(t)[name]
		return ok && v == 0
	}) {
		t.Errorf("%s = %g, want 0 at rest", name, v)
	}
}

// testLimits starts a server with -max-body 1MiB and -pprof.
func testLimits(t *testing.T, mode string) {
	s := startServer(t, append(modeArgs(mode), "-max-body", "1MiB", "-pprof"))
	s.expectStatus(t, http.StatusOK, http.MethodGet, "/debug/pprof/", nil)

	limit := randomBytes(1 << 20)
	over := randomBytes(1<<20 + 1)
	for _, tc := range []struct {
		name string
		body func() io.Reader
		want int
	}{
		{"at the limit", func() io.Reader { return bytes.NewReader(limit) }, http.StatusOK},
		{"at the limit, chunked", func() io.Reader { return unsized{bytes.NewReader(limit)} }, http.StatusOK},
		{"over, declared", func() io.Reader { return bytes.NewReader(over) }, http.StatusRequestEntityTooLarge},
		{"over, chunked", func() io.Reader { return unsized{bytes.NewReader(over)} }, http.StatusRequestEntityTooLarge},
		{"far over, chunked", func() io.Reader { return unsized{bytes.NewReader(randomBytes(3 << 20))} }, http.StatusRequestEntityTooLarge},
	} {
		for _, path := range []string{"/upload", "/echo"} {
			resp, b := s.do(t, http.MethodPost, path, tc.body())
			if resp.StatusCode != tc.want {
				t.Errorf("POST %s %s: status %d, want %d; body %.200q", path, tc.name, resp.StatusCode, tc.want, b)
			}
		}
	}
	if mode != demo.ModeOff {
		testAtRest(t, s, mode)
	}
}
