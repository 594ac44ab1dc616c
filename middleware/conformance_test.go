package middleware_test

// The differential wire-conformance suite: every handler behaviour in the
// tables is served twice on 127.0.0.1, plainly and behind the middleware,
// and a raw TCP client compares what comes back on the wire: interim (1xx)
// responses, the status line, the headers (Date aside), the framing, the
// body after dechunking, the trailers, and whether the connection stays
// open for a second request. The middleware must be invisible except for
// what it documents; every documented difference is listed on its entry as
// an exception, with the reason.
//
// Entries with fixed set failed before the fix they name (issue 13's
// numbering, or "new" for differences the suite found itself): each item
// has its named entries.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/pooltest"
	"github.com/bodypool/bodypool/middleware"
	"github.com/klauspost/compress/gzhttp"
)

// conformNetHTTP builds the net/http middleware under test. Every
// conformance table builds it here, so that a change of the public API is
// one change in the suite.
func conformNetHTTP(t testing.TB, cfg middleware.Config) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := middleware.New(cfg)
	if err != nil {
		t.Fatalf("middleware.New(%+v): %v", cfg, err)
	}
	return mw
}

// Helpers shared with the package's other tests; see package pooltest.
var (
	newPool = pooltest.NewPool
	gzipped = pooltest.Gzipped
	waitFor = pooltest.WaitFor
)

// conformConfig returns the suite's Config for one entry: a poisoning,
// tracking pool that must be at rest when the test ends (handlers that
// outlive a timeout included), the suite's MaxBufferedResponse, and the
// entry's own adjustments.
func conformConfig(t *testing.T, adjust func(*middleware.Config)) middleware.Config {
	t.Helper()
	p := newPool(t, bufpool.Config{Poison: true})
	settleLate(t, p)
	cfg := middleware.Config{Pool: p, MaxBufferedResponse: conformMaxBuffered}
	if adjust != nil {
		adjust(&cfg)
	}
	return cfg
}

// conformMaxBuffered is the suite's MaxBufferedResponse: small, so that
// the cases on both sides of it stay fast.
const conformMaxBuffered = 64 << 10

// Exceptions: the documented differences an entry may list.
const (
	// exceptFraming allows a response that plain net/http sends chunked to
	// arrive with a Content-Length equal to its body instead, and a HEAD
	// response that plain net/http sends with no length to carry the
	// length of the body the handler wrote.
	exceptFraming = "documented: a response up to MaxBufferedResponse is sent with a Content-Length instead of chunked " +
		"(for HEAD: instead of none)"
)

// conformCase is one handler behaviour and the requests that exercise it.
type conformCase struct {
	name string
	// handler serves both sides; newHandler, if set instead, builds a
	// fresh one for each side, for handlers that keep state between the
	// requests of a case (one reports what happened in another).
	handler    http.Handler
	newHandler func() http.Handler
	// wrap composes the handler with the middleware under test; nil means
	// mw(handler). The plain side gets wrap(identity).
	wrap func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler
	// plain, if set, is the reference handler instead of wrap(identity);
	// exception must say why.
	plain http.Handler
	// cfg adjusts the suite's Config.
	cfg func(*middleware.Config)
	// reqs are the raw requests, sent one after the other on one
	// connection. Default: GET / twice, so that reuse of the connection
	// is compared.
	reqs []string
	// raw compares the whole byte stream until the server closes (Date
	// lines aside) instead of parsed responses: for hijacked connections.
	raw bool
	// gunzip compares gzip-encoded bodies after decoding them.
	gunzip bool
	// boundary replaces the random boundary of multipart responses by a
	// fixed one on both sides before comparing.
	boundary bool
	// framing allows exceptFraming; exception must say so.
	framing bool
	// exception lists the documented differences this entry allows, and
	// why; empty means none.
	exception string
	// fixed names the bug this entry showed before it was fixed.
	fixed string
}

// wireResponse is one response as read off the wire.
type wireResponse struct {
	interim []string    // 1xx responses, each its status line and headers
	status  string      // "HTTP/1.1 200 OK"
	header  http.Header // without Date
	framing string      // chunked, length, until-close or none
	body    []byte      // dechunked
	trailer http.Header
	head    bool // the response to a HEAD request
}

// wireSession is what a client saw on one connection: the responses to
// the requests in order, and whether the server closed the connection
// before answering them all.
type wireSession struct {
	responses []wireResponse
	closed    bool   // the server closed before the next request was answered
	err       string // how the last response read failed, if it did
	raw       []byte // raw mode: the whole stream, Date lines removed
}

// conformDeadline bounds every exchange, so that a hang fails instead of
// blocking the suite.
const conformDeadline = 10 * time.Second

// exchange sends reqs one after the other on one connection to addr and
// reads the responses.
func exchange(t *testing.T, addr string, reqs []string, raw bool) wireSession {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(conformDeadline))
	var s wireSession
	if raw {
		if _, err := io.WriteString(c, strings.Join(reqs, "")); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		if err != nil && !isClosed(err) {
			t.Fatalf("reading the raw stream: %v (read %q)", err, b)
		}
		s.raw = dropDateLines(b)
		return s
	}
	br := bufio.NewReader(c)
	for i, raw := range reqs {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("bad raw request %d %q: %v", i, raw, err)
		}
		if _, err := io.WriteString(c, raw); err != nil {
			if isClosed(err) {
				s.closed = true
				return s
			}
			t.Fatalf("writing request %d: %v", i, err)
		}
		r, err := readWireResponse(br, req)
		if err != nil {
			if !isClosed(err) {
				t.Fatalf("reading response %d: %v", i, err)
			}
			s.closed = true
			if r.status != "" || len(r.interim) > 0 {
				// Cut off in the middle of a response, not between two.
				s.err = fmt.Sprintf("response %d cut off: %v (read %q, %d body bytes %q)", i, err, r.status, len(r.body), clip(r.body))
			}
			return s
		}
		s.responses = append(s.responses, r)
	}
	return s
}

// isClosed reports whether err means the peer closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "broken pipe")
}

// readWireResponse reads one final response to req from br, with the
// interim responses before it.
func readWireResponse(br *bufio.Reader, req *http.Request) (wireResponse, error) {
	var w wireResponse
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return w, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			var b strings.Builder
			b.WriteString(resp.Proto + " " + resp.Status + "\r\n")
			resp.Header.Write(&b)
			w.interim = append(w.interim, b.String())
			continue
		}
		w.status = resp.Proto + " " + resp.Status
		w.head = req.Method == http.MethodHead
		w.header = resp.Header.Clone()
		w.header.Del("Date")
		switch {
		case slices.Contains(resp.TransferEncoding, "chunked"):
			w.framing = "chunked"
		case resp.Header.Get("Content-Length") != "":
			w.framing = "length"
		case resp.ContentLength == -1 && req.Method != http.MethodHead && resp.StatusCode != 204 && resp.StatusCode != 304:
			w.framing = "until-close"
		default:
			w.framing = "none"
		}
		w.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return w, fmt.Errorf("reading the body (%d bytes so far): %w", len(w.body), err)
		}
		w.trailer = resp.Trailer
		return w, nil
	}
}

// dropDateLines removes the Date header lines of a raw stream.
func dropDateLines(b []byte) []byte {
	var out []byte
	for line := range bytes.Lines(b) {
		if !bytes.HasPrefix(line, []byte("Date: ")) {
			out = append(out, line...)
		}
	}
	return out
}

// diffSessions describes every difference between what the plain server
// sent and what the middleware's sent, field by field; framing allows
// exceptFraming.
func diffSessions(plain, mw wireSession, framing bool) []string {
	var d []string
	if plain.raw != nil || mw.raw != nil {
		if !bytes.Equal(plain.raw, mw.raw) {
			d = append(d, fmt.Sprintf("raw stream:\n\tplain      %q\n\tmiddleware %q", clip(plain.raw), clip(mw.raw)))
		}
		return d
	}
	if plain.err != mw.err {
		d = append(d, fmt.Sprintf("read error:\n\tplain      %s\n\tmiddleware %s", plain.err, mw.err))
	}
	if plain.closed != mw.closed || len(plain.responses) != len(mw.responses) {
		d = append(d, fmt.Sprintf("connection: plain answered %d request(s) (closed: %v), middleware %d (closed: %v)",
			len(plain.responses), plain.closed, len(mw.responses), mw.closed))
	}
	for i := range min(len(plain.responses), len(mw.responses)) {
		p, m := plain.responses[i], mw.responses[i]
		at := fmt.Sprintf("response %d: ", i)
		if !slices.Equal(p.interim, m.interim) {
			d = append(d, fmt.Sprintf("%sinterim responses: plain %q, middleware %q", at, p.interim, m.interim))
		}
		if p.status != m.status {
			d = append(d, fmt.Sprintf("%sstatus line: plain %q, middleware %q", at, p.status, m.status))
		}
		ph, mh := p.header.Clone(), m.header.Clone()
		if framing && m.framing == "length" &&
			(p.framing == "chunked" && m.header.Get("Content-Length") == strconv.Itoa(len(m.body)) ||
				p.head && p.framing == "none" && p.header.Get("Content-Length") == "") {
			mh.Del("Content-Length")
		} else if p.framing != m.framing {
			d = append(d, fmt.Sprintf("%sframing: plain %s, middleware %s", at, p.framing, m.framing))
		}
		d = append(d, diffHeader(at+"header", ph, mh)...)
		if !bytes.Equal(p.body, m.body) {
			d = append(d, fmt.Sprintf("%sbody: plain %d bytes %q, middleware %d bytes %q (first difference at byte %d)",
				at, len(p.body), clip(p.body), len(m.body), clip(m.body), firstDiff(p.body, m.body)))
		}
		d = append(d, diffHeader(at+"trailer", p.trailer, m.trailer)...)
	}
	return d
}

// diffHeader describes the keys whose values differ between p and m.
func diffHeader(what string, p, m http.Header) []string {
	var d []string
	keys := make([]string, 0, len(p)+len(m))
	for k := range p {
		keys = append(keys, k)
	}
	for k := range m {
		if _, ok := p[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Equal(p[k], m[k]) {
			d = append(d, fmt.Sprintf("%s %s: plain %q, middleware %q", what, k, p[k], m[k]))
		}
	}
	return d
}

// clip shortens b for a message.
func clip(b []byte) []byte {
	if len(b) <= 200 {
		return b
	}
	return append(append(slices.Clip(b[:160]), "..."...), b[len(b)-30:]...)
}

// firstDiff returns the index of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// conformServe serves h on 127.0.0.1 until the test ends; the server's
// error log (superfluous WriteHeader calls, recovered panics) is dropped.
func conformServe(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// gunzipBodies replaces gzip-encoded bodies by their plaintext.
func gunzipBodies(t *testing.T, s *wireSession) {
	t.Helper()
	for i, r := range s.responses {
		if r.header.Get("Content-Encoding") != "gzip" || len(r.body) == 0 {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		s.responses[i].body = b
		// The compressed length is not what is compared.
		s.responses[i].header.Del("Content-Length")
	}
}

// fixBoundaries replaces the boundary of every multipart response by a
// fixed string, in the Content-Type and in the body.
func fixBoundaries(s *wireSession) {
	for i, r := range s.responses {
		ct := r.header.Get("Content-Type")
		_, params, err := mime.ParseMediaType(ct)
		if err != nil || params["boundary"] == "" {
			continue
		}
		b := params["boundary"]
		s.responses[i].header.Set("Content-Type", strings.ReplaceAll(ct, b, "BOUNDARY"))
		s.responses[i].body = bytes.ReplaceAll(r.body, []byte(b), []byte("BOUNDARY"))
	}
}

// run serves c plainly and behind the middleware and fails t on any
// difference it does not list as an exception.
func (c conformCase) run(t *testing.T) {
	t.Helper()
	if (c.framing || c.plain != nil) && c.exception == "" {
		t.Fatal("an entry with an allowed difference must say why in exception")
	}
	t.Parallel()
	mw := conformNetHTTP(t, conformConfig(t, c.cfg))
	handler := func() http.Handler {
		if c.newHandler != nil {
			return c.newHandler()
		}
		return c.handler
	}
	wrap := c.wrap
	if wrap == nil {
		wrap = func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler { return mw(h) }
	}
	plainH := c.plain
	if plainH == nil {
		plainH = wrap(func(h http.Handler) http.Handler { return h }, handler())
	}
	plainSrv := conformServe(t, plainH)
	mwSrv := conformServe(t, wrap(mw, handler()))
	reqs := c.reqs
	if reqs == nil {
		reqs = []string{get("/"), get("/")}
	}
	compareOnWire(t, plainSrv, mwSrv, reqs, c)
}

// compareOnWire sends reqs to both servers and reports the differences.
func compareOnWire(t *testing.T, plainSrv, mwSrv *httptest.Server, reqs []string, c conformCase) {
	t.Helper()
	plain := exchange(t, plainSrv.Listener.Addr().String(), reqs, c.raw)
	mw := exchange(t, mwSrv.Listener.Addr().String(), reqs, c.raw)
	if c.gunzip {
		gunzipBodies(t, &plain)
		gunzipBodies(t, &mw)
	}
	if c.boundary {
		fixBoundaries(&plain)
		fixBoundaries(&mw)
	}
	if d := diffSessions(plain, mw, c.framing); len(d) > 0 {
		t.Errorf("differences on the wire (exception: %q):\n%s", c.exception, strings.Join(d, "\n"))
	}
}

// Raw requests.

// get is a GET of target.
func get(target string, headers ...string) string { return rawRequest("GET", target, nil, headers...) }

// rawRequest is method target with headers ("Name: value") and body,
// which gets a Content-Length unless a header says how it is framed.
func rawRequest(method, target string, body []byte, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: conform.test\r\n", method, target)
	framed := false
	for _, h := range headers {
		if strings.HasPrefix(strings.ToLower(h), "transfer-encoding:") || strings.HasPrefix(strings.ToLower(h), "content-length:") {
			framed = true
		}
		b.WriteString(h + "\r\n")
	}
	if body != nil && !framed {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.String()
}

// chunk encodes body with chunked transfer encoding, in pieces of n.
func chunk(body []byte, n int) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		k := min(n, len(body))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", k, body[:k])
		body = body[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// twice is the same request twice on one connection.
func twice(r string) []string { return []string{r, r} }

// Handlers.

// writeN writes n bytes of a repeating text pattern in writes of at most
// size bytes.
func writeN(w io.Writer, n, size int) {
	for n > 0 {
		k := min(n, size)
		w.Write(pattern(k))
		n -= k
	}
}

// pattern is n bytes of readable text, the same for every call.
func pattern(n int) []byte {
	const text = "the quick brown fox jumps over the lazy dog 0123456789\n"
	b := bytes.Repeat([]byte(text), n/len(text)+1)
	return b[:n]
}

// text returns a handler writing body in one write.
func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }
}

// echoRequestBody writes back the request body and what the handler saw
// of the request's framing and encoding.
func echoRequestBody(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Request-Content-Encoding", strings.Join(r.Header.Values("Content-Encoding"), "|"))
	w.Header().Set("X-Request-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// echoRequestMeta writes what the handler saw of the request's framing.
func echoRequestMeta(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "ContentLength=%d TransferEncoding=%q Content-Length=%q body=%d\n",
		r.ContentLength, r.TransferEncoding, r.Header.Values("Content-Length"), len(b))
}

// decodeRequestBody decodes every content coding the request still
// declares, last applied first, and writes back the plaintext: what an
// application that honours Content-Encoding ends up with.
func decodeRequestBody(w http.ResponseWriter, r *http.Request) {
	var codings []string
	for _, v := range r.Header.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				codings = append(codings, strings.ToLower(c))
			}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	for i := len(codings) - 1; i >= 0; i-- {
		var zr io.Reader
		switch codings[i] {
		case "gzip", "x-gzip":
			zr, err = gzip.NewReader(bytes.NewReader(body))
		case "deflate":
			zr, err = zlib.NewReader(bytes.NewReader(body))
		default:
			err = fmt.Errorf("unknown coding %q", codings[i])
		}
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			http.Error(w, "decoding "+codings[i]+": "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	w.Write(body)
}

// deflated compresses b in HTTP's deflate coding (zlib).
func deflated(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := zlib.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// conformRecover is an application's recovery outside the middleware: a
// panic becomes 500 "internal error" through the same writer.
func conformRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "internal error\n")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// reporting returns a handler that serves "/report" with what the last
// other request's act returned, and every other request with act.
func reporting(act func(w http.ResponseWriter, r *http.Request) string) func() http.Handler {
	return func() http.Handler {
		last := make(chan string, 1)
		last <- "nothing yet"
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/report" {
				io.WriteString(w, <-last)
				last <- "reported"
				return
			}
			s := act(w, r)
			<-last
			last <- s
		})
	}
}

// writeResult formats what a Write returned.
func writeResult(n int, err error) string { return fmt.Sprintf("n=%d err=%v", n, err) }

// conformLate counts the handlers still running after a timeout handler
// answered for them; the pool is checked for leaks only once they are
// done, as closing a server does not wait for them.
var conformLate atomic.Int64

// settleLate makes t wait, before the leak check of p, for the handlers
// that outlive their timeout, and for p's buffers to come back: a handler
// behind a timeout handler may release its memory after the server closed.
// A buffer that never comes back fails the test after 10 s.
func settleLate(t testing.TB, p *bufpool.Pool) {
	t.Helper()
	t.Cleanup(func() {
		waitFor(t, "handlers that outlived their timeout", func() bool { return conformLate.Load() == 0 })
		waitFor(t, "buffers held past a timeout", func() bool { return p.Stats().Total.InUse == 0 })
	})
}

// blockUntilDone waits for the request to be cancelled (by a timeout
// handler), then tries to answer.
func blockUntilDone(w http.ResponseWriter, r *http.Request) {
	conformLate.Add(1)
	defer conformLate.Add(-1)
	<-r.Context().Done()
	io.WriteString(w, "too late")
}

// conformFiles writes the files the file-serving entries serve and returns
// their directory.
func conformFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, n := range map[string]int{
		"empty.txt": 0, "1k.txt": 1 << 10, "limit.txt": conformMaxBuffered, "over.txt": conformMaxBuffered + 1,
		"1m.txt": middleware.DefaultMaxBufferedResponse, "1m1.txt": middleware.DefaultMaxBufferedResponse + 1,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pattern(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "index.html"), []byte("<html><body>index</body></html>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// One modification time for every file, so Last-Modified matches
	// between the two servers whatever the order of writing.
	mt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err == nil {
			os.Chtimes(path, mt, mt)
		}
		return err
	})
	return dir
}

// conformModTime is the modification time of ServeContent's content.
var conformModTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// slowBackend writes its response in pieces with a flush and a short
// pause between them.
func slowBackend(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Backend", "slow")
	for i := range 5 {
		fmt.Fprintf(w, "piece %d\n", i)
		http.NewResponseController(w).Flush()
		time.Sleep(3 * time.Millisecond)
	}
}

// conformCases is the net/http table. dir holds conformFiles; backend is
// the slow backend's URL.
func conformCases(t *testing.T, dir string, backend *url.URL) []conformCase {
	hf := func(f func(w http.ResponseWriter, r *http.Request)) http.Handler { return http.HandlerFunc(f) }
	bigText := strings.Repeat("abcdefghij", 300) // 3000 bytes: plain net/http chunks it
	html := "<!DOCTYPE html><html><head><title>t</title></head><body>sniffed</body></html>"
	content := pattern(5000)
	serveContent := hf(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "content.txt", conformModTime, bytes.NewReader(content))
	})
	plaintext := pattern(3000)
	gz := gzipped(t, plaintext)
	gzgz := gzipped(t, gz)
	gzDeflate := deflated(t, gz)
	fileServer := http.FileServer(http.Dir(dir))
	proxy := httputil.NewSingleHostReverseProxy(backend)
	proxy.ErrorLog = log.New(io.Discard, "", 0)

	return []conformCase{
		// Plain writes.
		{name: "hello", handler: text("hello")},
		{name: "no write", handler: hf(func(w http.ResponseWriter, r *http.Request) {})},
		{name: "write of 0 bytes", handler: hf(func(w http.ResponseWriter, r *http.Request) { w.Write(nil) })},
		{name: "3000 bytes in one write", handler: text(bigText), framing: true, exception: exceptFraming},
		{name: "many small writes", handler: hf(func(w http.ResponseWriter, r *http.Request) { writeN(w, 10_000, 100) }),
			framing: true, exception: exceptFraming},
		{name: "exactly MaxBufferedResponse", handler: hf(func(w http.ResponseWriter, r *http.Request) { writeN(w, conformMaxBuffered, 4096) }),
			framing: true, exception: exceptFraming},
		{name: "MaxBufferedResponse+1 streams", handler: hf(func(w http.ResponseWriter, r *http.Request) { writeN(w, conformMaxBuffered+1, 4096) })},
		{name: "one write over MaxBufferedResponse", handler: hf(func(w http.ResponseWriter, r *http.Request) { writeN(w, 100_000, 100_000) })},
		{name: "explicit Content-Length", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3000")
			io.WriteString(w, bigText)
		})},
		{name: "status 404 with body", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "gone")
		})},
		{name: "WriteHeader twice", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "first wins")
		})},
		{name: "WriteHeader after Write", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "implicit 200")
			w.WriteHeader(http.StatusInternalServerError)
		})},
		{name: "WriteHeader only", handler: hf(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })},
		{name: "204", handler: hf(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })},
		{name: "204 then Write, reported", newHandler: reporting(func(w http.ResponseWriter, r *http.Request) string {
			w.WriteHeader(http.StatusNoContent)
			return writeResult(w.Write([]byte("x")))
		}), reqs: []string{get("/"), get("/report")}},
		{name: "304", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		})},
		{name: "304 then empty Write, reported", newHandler: reporting(func(w http.ResponseWriter, r *http.Request) string {
			w.WriteHeader(http.StatusNotModified)
			return writeResult(w.Write(nil))
		}), reqs: []string{get("/"), get("/report")},
			fixed: "an empty Write after WriteHeader(304) returns http.ErrBodyNotAllowed; net/http returns 0, nil"},
		{name: "304 then Write, reported", newHandler: reporting(func(w http.ResponseWriter, r *http.Request) string {
			w.WriteHeader(http.StatusNotModified)
			return writeResult(w.Write([]byte("body")))
		}), reqs: []string{get("/"), get("/report")}},
		{name: "103 Early Hints then 200", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "final")
		})},

		{name: "103 after Write", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first ")
			w.Header().Set("Link", "</late.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "second")
		}), fixed: "new: WriteHeader(103) after a Write sends an interim response before the final one; net/http ignores it " +
			"(and the Link header set after the Write reaches the wire, bug 4)"},

		// HEAD.
		{name: "HEAD without body", handler: hf(func(w http.ResponseWriter, r *http.Request) {}), reqs: twice(rawRequest("HEAD", "/", nil))},
		{name: "HEAD with body written", handler: text("a body HEAD drops"), reqs: twice(rawRequest("HEAD", "/", nil))},
		{name: "HEAD with large body written", handler: text(bigText), reqs: twice(rawRequest("HEAD", "/", nil)),
			framing: true, exception: exceptFraming},
		{name: "HEAD with explicit Content-Length", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1234")
		}), reqs: twice(rawRequest("HEAD", "/", nil))},
		{name: "HEAD with explicit Content-Length and body", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}), reqs: twice(rawRequest("HEAD", "/", nil))},

		// Content-Type sniffing.
		{name: "sniff html", handler: text(html)},
		{name: "sniff html in small writes", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(html); i += 7 {
				io.WriteString(w, html[i:min(i+7, len(html))])
			}
		})},
		{name: "sniff binary", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0})
		})},
		{name: "sniff beyond 512 bytes", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat(" ", 600))
			io.WriteString(w, html)
		})},
		{name: "explicit Content-Type", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, html)
		})},
		{name: "Content-Type deleted", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, html)
		})},

		// Header changes after the first Write.
		{name: "Content-Length set after Write", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
			w.Header().Set("Content-Length", "2")
		}), fixed: "4: header changes after Write take effect"},
		{name: "Content-Type set after Write", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
			w.Header().Set("Content-Type", "application/x-late")
		}), fixed: "4: header changes after Write take effect"},
		{name: "header set after Write", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Early", "1")
			io.WriteString(w, "hello")
			w.Header().Set("X-Late", "1")
			w.Header().Del("X-Early")
		}), fixed: "4: header changes after Write take effect"},
		{name: "header set after WriteHeader", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-Late", "1")
			io.WriteString(w, "hello")
		}), fixed: "4: header changes after WriteHeader take effect"},

		// Trailers.
		{name: "declared trailer", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "summed body")
			w.Header().Set("X-Sum", "42")
		}), fixed: "1: trailers lost"},
		{name: "TrailerPrefix trailer, short body", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			w.Header().Set(http.TrailerPrefix+"X-Late-Sum", "7")
		})},
		{name: "TrailerPrefix trailer, chunked body", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, bigText)
			w.Header().Set(http.TrailerPrefix+"X-Late-Sum", "7")
		}), framing: true, exception: exceptFraming, fixed: "1: trailers lost"},
		{name: "declared trailer after Flush", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "flushed body")
			http.NewResponseController(w).Flush()
			w.Header().Set("X-Sum", "42")
		})},

		// Flush and http.ResponseController.
		{name: "Flush first", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			http.NewResponseController(w).Flush()
			io.WriteString(w, "after flush")
		})},
		{name: "Flush mid-body", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "before ")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "after")
		})},
		{name: "ResponseController deadlines and full duplex", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			e1 := rc.SetWriteDeadline(time.Now().Add(time.Minute))
			e2 := rc.SetReadDeadline(time.Now().Add(time.Minute))
			e3 := rc.EnableFullDuplex()
			e4 := rc.SetWriteDeadline(time.Time{})
			fmt.Fprintf(w, "write deadline: %v\nread deadline: %v\nfull duplex: %v\nclear: %v\n", e1, e2, e3, e4)
		})},

		// Hijack.
		{name: "WriteHeader(200) then Hijack (CONNECT)", handler: hf(hijackAfterHeader), raw: true,
			reqs:  []string{"CONNECT backend.test:443 HTTP/1.1\r\nHost: backend.test:443\r\n\r\n"},
			fixed: "2: the status line is not sent on WriteHeader(200)+Hijack"},
		{name: "WriteHeader(200) then Hijack (GET)", handler: hf(hijackAfterHeader), raw: true, reqs: []string{get("/")},
			fixed: "2: the status line is not sent on WriteHeader(200)+Hijack"},
		{name: "Hijack without WriteHeader", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nraw")
			brw.Flush()
		}), raw: true, reqs: []string{get("/")}},

		// Panics and recovery outside the middleware.
		{name: "panic after headers and partial body, recovered outside",
			handler: hf(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Disposition", `attachment; filename="secret.txt"`)
				w.Header().Set("Content-Encoding", "gzip")
				io.WriteString(w, "partial secret")
				panic("handler failed")
			}),
			wrap:  func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler { return conformRecover(mw(h)) },
			plain: conformRecover(hf(func(w http.ResponseWriter, r *http.Request) { panic("handler failed") })),
			exception: "documented: a panic discards the buffered response; plain net/http would send the 200, its headers and " +
				"the partial body followed by the recovery's text, so the reference is the same recovery answering a handler " +
				"that panicked before touching the response",
			fixed: "3: the recovery's 500 carries the headers of the discarded response"},
		{name: "panic after WriteHeader, recovered outside",
			handler: hf(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Partial", "1")
				w.WriteHeader(http.StatusCreated)
				panic("handler failed")
			}),
			wrap:      func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler { return conformRecover(mw(h)) },
			plain:     conformRecover(hf(func(w http.ResponseWriter, r *http.Request) { panic("handler failed") })),
			exception: "documented: a panic discards the buffered response, so the recovery's 500 goes out instead of the 201",
			fixed:     "3: the recovery's 500 carries the headers of the discarded response"},
		{name: "panic after setting headers only, recovered outside", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before-Panic", "1")
			panic("handler failed")
		}), wrap: func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler { return conformRecover(mw(h)) }},
		{name: "panic without recovery", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			panic("handler failed")
		})},
		{name: "panic with ErrAbortHandler", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			panic(http.ErrAbortHandler)
		})},

		// Files and the standard handlers.
		{name: "ServeFile empty", handler: serveFile(dir, "empty.txt")},
		{name: "ServeFile 1 KiB", handler: serveFile(dir, "1k.txt")},
		{name: "ServeFile MaxBufferedResponse", handler: serveFile(dir, "limit.txt")},
		{name: "ServeFile MaxBufferedResponse+1", handler: serveFile(dir, "over.txt")},
		{name: "ServeFile default MaxBufferedResponse", handler: serveFile(dir, "1m.txt"),
			cfg: func(c *middleware.Config) { c.MaxBufferedResponse = 0 }},
		{name: "ServeFile default MaxBufferedResponse+1", handler: serveFile(dir, "1m1.txt"),
			cfg: func(c *middleware.Config) { c.MaxBufferedResponse = 0 }},
		{name: "ServeContent", handler: serveContent},
		{name: "ServeContent single range", handler: serveContent, reqs: twice(get("/", "Range: bytes=100-199"))},
		{name: "ServeContent multi-range", handler: serveContent, reqs: twice(get("/", "Range: bytes=0-9,4000-4099,-5")), boundary: true},
		{name: "ServeContent If-None-Match", handler: serveContent, reqs: twice(get("/", `If-None-Match: "v1"`))},
		{name: "ServeContent unsatisfiable range", handler: serveContent, reqs: twice(get("/", "Range: bytes=9000-"))},
		{name: "FileServer file", handler: fileServer, reqs: twice(get("/1k.txt"))},
		{name: "FileServer directory listing", handler: fileServer, reqs: twice(get("/"))},
		{name: "FileServer index redirect", handler: fileServer, reqs: twice(get("/sub/index.html"))},
		{name: "FileServer missing file", handler: fileServer, reqs: twice(get("/nope.txt"))},
		{name: "StripPrefix", handler: http.StripPrefix("/static", fileServer), reqs: twice(get("/static/sub/"))},
		{name: "Redirect", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere?a=1", http.StatusFound)
		})},
		{name: "Error", handler: hf(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip") // http.Error deletes it
			http.Error(w, "bad things", http.StatusBadGateway)
		})},
		{name: "NotFound", handler: http.NotFoundHandler()},

		// http.TimeoutHandler, inside and outside the middleware.
		{name: "TimeoutHandler inside, fast", handler: http.TimeoutHandler(text("fast"), time.Minute, "timed out")},
		{name: "TimeoutHandler inside, times out", handler: http.TimeoutHandler(hf(blockUntilDone), 5*time.Millisecond, "timed out")},
		{name: "TimeoutHandler outside, fast", handler: text("fast"),
			wrap: func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler {
				return http.TimeoutHandler(mw(h), time.Minute, "timed out")
			}},
		{name: "TimeoutHandler outside, times out", handler: hf(blockUntilDone),
			wrap: func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler {
				return http.TimeoutHandler(mw(h), 5*time.Millisecond, "timed out")
			}},

		// Reverse proxy to a slow backend that flushes.
		{name: "ReverseProxy to a slow backend", handler: proxy},

		// Request bodies.
		{name: "POST echo 1 byte", handler: hf(echoRequestBody), reqs: twice(rawRequest("POST", "/", []byte("x")))},
		{name: "POST echo 4 KiB", handler: hf(echoRequestBody), reqs: twice(rawRequest("POST", "/", pattern(4096))),
			framing: true, exception: exceptFraming},
		{name: "POST echo 100 KiB", handler: hf(echoRequestBody), reqs: twice(rawRequest("POST", "/", pattern(100<<10)))},
		{name: "POST empty", handler: hf(echoRequestBody), reqs: twice(rawRequest("POST", "/", []byte{}))},
		{name: "POST chunked echo", handler: hf(echoRequestBody),
			reqs:    twice(rawRequest("POST", "/", chunk(pattern(5000), 1000), "Transfer-Encoding: chunked")),
			framing: true, exception: exceptFraming},
		{name: "request framing seen by the handler", handler: hf(echoRequestMeta),
			reqs: twice(rawRequest("POST", "/", chunk(pattern(500), 100), "Transfer-Encoding: chunked")),
			fixed: "new: the handler sees ContentLength and Content-Length of the buffered body instead of -1 and " +
				"Transfer-Encoding chunked (not documented)"},
		{name: "POST body not read", handler: text("ignored the body"), reqs: twice(rawRequest("POST", "/", pattern(1000)))},
		{name: "POST large body not read", handler: text("ignored the body"), reqs: twice(rawRequest("POST", "/", pattern(300<<10))),
			plain: hf(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				io.WriteString(w, "ignored the body")
			}),
			exception: "documented: the middleware reads the whole body before the handler runs, so the connection stays " +
				"open where plain net/http, finding more than 256 KiB unread, closes it; the reference reads the body"},
		{name: "Expect 100-continue, body read", handler: hf(echoRequestBody),
			reqs: twice(rawRequest("POST", "/", pattern(100), "Expect: 100-continue"))},
		{name: "Expect 100-continue, body not read", handler: text("ignored the body"),
			reqs: twice(rawRequest("POST", "/", pattern(100), "Expect: 100-continue")),
			plain: hf(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				io.WriteString(w, "ignored the body")
			}),
			exception: "documented: the middleware reads the body before the handler runs, so 100 Continue is sent and " +
				"the connection stays open; the reference reads the body"},
		{name: "body over MaxRequestBody", handler: hf(echoRequestBody),
			cfg:  func(c *middleware.Config) { c.MaxRequestBody = 1000 },
			reqs: twice(rawRequest("POST", "/", pattern(2000))),
			plain: hf(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				http.Error(w, "request body too large: the limit is 1000 bytes", http.StatusRequestEntityTooLarge)
			}),
			exception: "documented: a body declared over MaxRequestBody is refused with 413 and Connection: close; " +
				"the reference sends that refusal"},
		{name: "gzip request, Decompress off", handler: hf(echoRequestBody),
			reqs: twice(rawRequest("POST", "/", gz, "Content-Encoding: gzip"))},
		{name: "gzip request, Decompress on, decoding handler", handler: hf(decodeRequestBody),
			cfg:  func(c *middleware.Config) { c.Decompress = true },
			reqs: twice(rawRequest("POST", "/", gz, "Content-Encoding: gzip")), framing: true, exception: exceptFraming},
		{name: "Content-Encoding gzip then deflate lines, Decompress on", handler: hf(echoRequestBody),
			cfg:   func(c *middleware.Config) { c.Decompress = true },
			reqs:  twice(rawRequest("POST", "/", gzDeflate, "Content-Encoding: gzip", "Content-Encoding: deflate")),
			fixed: "10: multi-line Content-Encoding decoded wrongly"},
		{name: "Content-Encoding gzip then gzip lines, Decompress on, decoding handler", handler: hf(decodeRequestBody),
			cfg:     func(c *middleware.Config) { c.Decompress = true },
			reqs:    twice(rawRequest("POST", "/", gzgz, "Content-Encoding: gzip", "Content-Encoding: gzip")),
			framing: true, exception: exceptFraming,
			fixed: "10: multi-line Content-Encoding decoded wrongly"},
		{name: "Content-Encoding gzip, gzip in one line, Decompress on, decoding handler", handler: hf(decodeRequestBody),
			cfg:     func(c *middleware.Config) { c.Decompress = true },
			reqs:    twice(rawRequest("POST", "/", gzgz, "Content-Encoding: gzip, gzip")),
			framing: true, exception: exceptFraming},

		// klauspost/compress gzhttp outside and inside the middleware.
		{name: "gzhttp outside, small body", handler: text("too small to compress"), gunzip: true,
			wrap: func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler {
				return gzhttp.GzipHandler(mw(h))
			},
			reqs: twice(get("/", "Accept-Encoding: gzip"))},
		{name: "gzhttp outside, large body", handler: text(strings.Repeat(html, 100)), gunzip: true,
			wrap: func(mw func(http.Handler) http.Handler, h http.Handler) http.Handler {
				return gzhttp.GzipHandler(mw(h))
			},
			reqs: twice(get("/", "Accept-Encoding: gzip"))},
		{name: "gzhttp inside, small body", handler: gzhttp.GzipHandler(text("too small to compress")), gunzip: true,
			reqs: twice(get("/", "Accept-Encoding: gzip"))},
		{name: "gzhttp inside, large body", handler: gzhttp.GzipHandler(text(strings.Repeat(html, 100))), gunzip: true,
			reqs: twice(get("/", "Accept-Encoding: gzip")), framing: true, exception: exceptFraming},
		{name: "gzhttp inside, flushing", handler: gzhttp.GzipHandler(hf(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat(html, 20))
			http.NewResponseController(w).Flush()
			io.WriteString(w, strings.Repeat(html, 20))
		})), gunzip: true, reqs: twice(get("/", "Accept-Encoding: gzip"))},
		{name: "gzhttp inside, no Accept-Encoding", handler: gzhttp.GzipHandler(text(strings.Repeat(html, 100))),
			framing: true, exception: exceptFraming},
	}
}

// serveFile serves the file name of dir with http.ServeFile.
func serveFile(dir, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, name))
	})
}

// hijackAfterHeader is the CONNECT-proxy pattern: WriteHeader(200), then
// Hijack, which sends the header, then raw bytes on the connection.
func hijackAfterHeader(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	brw.WriteString("raw tunnel bytes")
	brw.Flush()
}

// The net/http table: every behaviour is the same on the wire with and
// without the middleware, but for the exceptions each entry lists.
func TestConformanceNetHTTP(t *testing.T) {
	dir := conformFiles(t)
	backend := conformServe(t, http.HandlerFunc(slowBackend))
	u, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	cases := conformCases(t, dir, u)
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate entry %q", c.name)
		}
		names[c.name] = true
	}
	if len(cases) < 50 {
		t.Fatalf("%d entries, want at least 50", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}
