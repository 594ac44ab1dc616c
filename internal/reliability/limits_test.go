package reliability

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
)

// limit is the -max-body of the limit tests.
const limit = 1 << 20

// TestLimits attacks the request body limit and the declared length:
// lengths that lie in both directions, the largest int64, bodies over the
// limit with and without Content-Length, every class boundary of the pool,
// Expect: 100-continue and pipelining.
func TestLimits(t *testing.T) {
	s := startServer(t, "-max-body", "1MiB")
	payload := randomBytes(t, 3*limit)

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *server, payload []byte)
	}{
		{"declared more than sent, then closed", declaredMoreClosed},
		{"declared more than sent, then half-closed", declaredMoreHalfClosed},
		{"declared less than sent", declaredLess},
		{"declared MaxInt64", declaredMaxInt64},
		{"over the limit with Content-Length", overLimitDeclared},
		{"over the limit chunked", overLimitChunked},
		{"at the limit and one byte over", atLimit},
		{"class boundaries", classBoundaries},
		{"Expect 100-continue", expectContinue},
		{"conflicting and invalid lengths", invalidLengths},
		{"gzip bomb", gzipBomb},
		{"pipelined", pipelined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, s, payload)
			s.settle(t)
		})
	}
}

// echo posts body to /echo, with a Content-Length or chunked, and returns
// the response.
func (s *server) echo(t testing.TB, body []byte, chunked bool) (*http.Response, []byte, error) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/echo", r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if chunked {
		req.ContentLength = -1
	}
	return s.do(t, req, time.Minute)
}

// wantEcho requires /echo to return body exactly.
func (s *server) wantEcho(t testing.TB, body []byte, chunked bool) {
	t.Helper()
	resp, got, err := s.echo(t, body, chunked)
	switch {
	case err != nil:
		t.Fatalf("echo of %d bytes (chunked %t): %v", len(body), chunked, err)
	case resp.StatusCode != http.StatusOK:
		t.Fatalf("echo of %d bytes (chunked %t): status %d: %.200s", len(body), chunked, resp.StatusCode, got)
	case !bytes.Equal(got, body):
		t.Fatalf("echo of %d bytes (chunked %t): got %d bytes, not the same", len(body), chunked, len(got))
	}
}

// wantTooLarge requires /echo to refuse body with 413.
func (s *server) wantTooLarge(t testing.TB, body []byte, chunked bool) {
	t.Helper()
	resp, got, err := s.echo(t, body, chunked)
	switch {
	case err != nil:
		t.Fatalf("post of %d bytes (chunked %t): %v (want a 413 response)", len(body), chunked, err)
	case resp.StatusCode != http.StatusRequestEntityTooLarge:
		t.Fatalf("post of %d bytes (chunked %t): status %d, want 413: %.200s", len(body), chunked, resp.StatusCode, got)
	}
}

func declaredMoreClosed(t *testing.T, s *server, payload []byte) {
	c := s.dial(t)
	if err := postRaw(c, "/echo", []string{"Content-Length: 100000"}, payload[:1000]); err != nil {
		t.Fatal(err)
	}
	// The server holds memory for what arrived, never for what was
	// declared: at most 64 times the bytes sent (README), rounded up to
	// the class of 64,000 bytes.
	const most = 64 << 10
	got := s.waitMetric(t, inUseBytes, 10*time.Second, "> 0", func(v float64) bool { return v > 0 })
	if got > most {
		t.Errorf("in use %v bytes for 1000 bytes sent of 100000 declared, want at most %d bytes", got, most)
	}
	c.Close()
}

func declaredMoreHalfClosed(t *testing.T, s *server, payload []byte) {
	c := s.dial(t)
	if err := postRaw(c, "/echo", []string{"Content-Length: 100000"}, payload[:1000]); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, body, err := readResponse(bufio.NewReader(c), http.MethodPost)
	if err != nil {
		t.Fatalf("reading the response to a truncated body: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("truncated body: status %d, want 400: %s", resp.StatusCode, body)
	}
}

func declaredLess(t *testing.T, s *server, payload []byte) {
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// What follows the declared 5 bytes is the next request, and garbage.
	if err := postRaw(c, "/echo", []string{"Content-Length: 5"}, []byte("helloGARBAGE\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, body, err := readResponse(br, http.MethodPost)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello" {
		t.Errorf("first response: %d %q, want 200 %q", resp.StatusCode, body, "hello")
	}
	resp, body, err = readResponse(br, http.MethodGet)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the extra bytes as a request: %d %q, want 400", resp.StatusCode, body)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after a malformed request the connection must close; read: %v", err)
	}
}

func declaredMaxInt64(t *testing.T, s *server, _ []byte) {
	before := s.metrics(t).Sum("bufpool_gets_total")
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// Headers only: the refusal must come without a byte of body.
	if err := postRaw(c, "/echo", []string{"Content-Length: 9223372036854775807"}, nil); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, body, err := readResponse(br, http.MethodPost)
	if err != nil {
		t.Fatalf("no response to a declared length of MaxInt64: %v", err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413: %s", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Errorf("a refusal of an unread body must close the connection; header %v", resp.Header)
	}
	if after := s.metrics(t).Sum("bufpool_gets_total"); after != before {
		t.Errorf("the refusal took %v buffers from the pool, want none", after-before)
	}
}

func overLimitDeclared(t *testing.T, s *server, payload []byte) {
	for _, n := range []int{limit + 1, 3 * limit} {
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		// The body is sent while the response is read, as a client that does
		// not wait would; the server refuses it from the header.
		wrote := make(chan error, 1)
		go func() {
			wrote <- postRaw(c, "/echo", []string{"Content-Length: " + strconv.Itoa(n)}, payload[:n])
		}()
		resp, body, err := readResponse(bufio.NewReader(c), http.MethodPost)
		c.Close()
		<-wrote
		if err != nil {
			t.Fatalf("%d bytes declared and sent: no response: %v", n, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%d bytes declared and sent: status %d, want 413: %s", n, resp.StatusCode, body)
		}
	}
	// And through a real client, which must see the 413, not a reset.
	s.wantTooLarge(t, payload[:limit+1], false)
	s.wantTooLarge(t, payload[:3*limit], false)
}

func overLimitChunked(t *testing.T, s *server, payload []byte) {
	s.wantTooLarge(t, payload[:limit+1], true)
	s.wantTooLarge(t, payload[:3*limit], true)
	// The 413 costs the server at most limit+1 bytes of reading, whatever
	// the client sends after.
}

func atLimit(t *testing.T, s *server, payload []byte) {
	for _, chunked := range []bool{false, true} {
		s.wantEcho(t, payload[:limit], chunked)
		s.wantTooLarge(t, payload[:limit+1], chunked)
	}
}

func classBoundaries(t *testing.T, s *server, payload []byte) {
	p, err := bufpool.New(bufpool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sizes := p.ClassSizes()
	checked := 0
	for _, class := range sizes {
		if class-1 > limit {
			break
		}
		for _, n := range []int{class - 1, class, class + 1} {
			for _, chunked := range []bool{false, true} {
				// Different bytes for every request: a stale buffer shows.
				off := (checked * 7919) % (len(payload) - n)
				if n > limit {
					s.wantTooLarge(t, payload[off:off+n], chunked)
				} else {
					s.wantEcho(t, payload[off:off+n], chunked)
				}
				checked++
			}
		}
	}
	t.Logf("%d requests at %d class boundaries, %d B to %d B", checked, checked/6, sizes[0]-1, limit+1)
}

func expectContinue(t *testing.T, s *server, payload []byte) {
	// Over the limit: 413 at once, and the body is never asked for.
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if err := postRaw(c, "/echo", []string{"Expect: 100-continue", "Content-Length: " + strconv.Itoa(2*limit)}, nil); err != nil {
		t.Fatal(err)
	}
	resp, body, err := readResponse(bufio.NewReader(c), http.MethodPost)
	if err != nil {
		t.Fatalf("Expect: 100-continue over the limit: %v", err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("Expect: 100-continue over the limit: status %d, want 413 before any body: %s", resp.StatusCode, body)
	}

	// Within the limit: 100 Continue, then the echo.
	c = s.dial(t)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	want := payload[:1000]
	if err := postRaw(c, "/echo", []string{"Expect: 100-continue", "Content-Length: 1000"}, nil); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, _, err = readResponse(br, http.MethodPost)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("Expect: 100-continue within the limit: %v %v, want 100 Continue", resp, err)
	}
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	resp, body, err = readResponse(br, http.MethodPost)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("Expect: 100-continue within the limit: %v %v, want 200 with the body", resp, err)
	}
}

// invalidLengths sends lengths that net/http must refuse before the
// middleware sees them: the refusal is a 400 and nothing is taken.
func invalidLengths(t *testing.T, s *server, _ []byte) {
	before := s.metrics(t).Sum("bufpool_gets_total")
	for _, header := range [][]string{
		{"Content-Length: 5", "Content-Length: 6"},
		{"Content-Length: -1"},
		{"Content-Length: 1e3"},
		{"Content-Length: 18446744073709551616"},
		{"Transfer-Encoding: gzip, chunked"},
	} {
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		// No body: net/http closes at once after refusing a malformed request,
		// and unread bytes would turn its 400 into a reset.
		if err := postRaw(c, "/echo", header, nil); err != nil {
			t.Fatal(err)
		}
		resp, body, err := readResponse(bufio.NewReader(c), http.MethodPost)
		if err != nil {
			t.Fatalf("%q: %v", header, err)
		}
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("%q: status %d, want 400 or 501: %s", header, resp.StatusCode, body)
		}
	}
	if after := s.metrics(t).Sum("bufpool_gets_total"); after != before {
		t.Errorf("malformed requests took %v buffers from the pool, want none", after-before)
	}
}

// gzipBomb posts gzip bodies (the demo server decompresses them): the limit
// applies to the decompressed bytes, which are read at most to limit+1.
func gzipBomb(t *testing.T, s *server, payload []byte) {
	compress := func(b []byte, times int) []byte {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		for range times {
			w.Write(b)
		}
		w.Close()
		return z.Bytes()
	}
	// 64 MiB of zeros in about 64 KiB.
	bomb := compress(make([]byte, mib), 64)
	resp, body, err := s.postConcurrently("/echo", []string{"Content-Encoding: gzip"}, bomb, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip of 64 MiB in %d bytes: status %d, want 413: %.200s", len(bomb), resp.StatusCode, body)
	}
	// Exactly the limit, decompressed, is fine.
	resp, body, err = s.postConcurrently("/echo", []string{"Content-Encoding: gzip"}, compress(payload[:limit], 1), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, payload[:limit]) {
		t.Errorf("gzip of %d bytes: status %d, %d bytes back, want 200 with the decompressed body", limit, resp.StatusCode, len(body))
	}
}

// pipelined writes 50 requests back to back on one connection, then reads
// the 50 responses, which must come in order, each with its own body.
func pipelined(t *testing.T, s *server, payload []byte) {
	const n = 50
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	var reqs bytes.Buffer
	bodies := make([][]byte, n)
	for i := range bodies {
		size := 1 + (i*997)%5000
		b := append([]byte(fmt.Sprintf("request %d:", i)), payload[i*5000:i*5000+size]...)
		bodies[i] = b
		fmt.Fprintf(&reqs, "POST /echo HTTP/1.1\r\nHost: bodypool.test\r\nContent-Length: %d\r\n\r\n", len(b))
		reqs.Write(b)
	}
	// The writer runs apart: the server answers while requests still arrive.
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(reqs.Bytes())
		wrote <- err
	}()
	br := bufio.NewReader(c)
	for i, want := range bodies {
		resp, got, err := readResponse(br, http.MethodPost)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Fatalf("response %d: status %d, %d bytes starting %q, want %d bytes starting %q",
				i, resp.StatusCode, len(got), got[:min(len(got), 14)], len(want), want[:14])
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.output(), "panic") {
		t.Errorf("server output mentions a panic:\n%s", s.output())
	}
}
