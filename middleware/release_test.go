package middleware

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
)

// With http.TimeoutHandler inside the middleware, the handler goes on
// after the timeout answered, and the body is released under it. Its reads
// then fail as reads of a closed body do in net/http, never returning a
// clean EOF or memory another request owns; GetBody fails too.
func TestBodyReleasedUnderTimeoutHandler(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	release := make(chan struct{})
	type outcome struct {
		readErr, getBodyErr error
		body                []byte
	}
	done := make(chan outcome, 1)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, 10)
		io.ReadFull(r.Body, first)
		<-release // past the timeout: the middleware has returned
		var o outcome
		_, o.readErr = r.Body.Read(make([]byte, 10))
		_, o.getBodyErr = r.GetBody()
		o.body = Body(r)
		done <- o
	})
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p})(http.TimeoutHandler(inner, 20*time.Millisecond, "timeout")))
	resp, err := srv.Client().Post(srv.URL, "application/octet-stream", bytes.NewReader(payload(1, 5000)))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want TimeoutHandler's 503", resp.StatusCode)
	}
	waitFor(t, "the body to go back to the pool", func() bool { return p.Stats().Total.InUse == 0 })
	close(release)
	o := <-done
	if !errors.Is(o.readErr, http.ErrBodyReadAfterClose) {
		t.Errorf("Read after release: %v, want http.ErrBodyReadAfterClose", o.readErr)
	}
	if !errors.Is(o.getBodyErr, http.ErrBodyReadAfterClose) {
		t.Errorf("GetBody after release: %v, want http.ErrBodyReadAfterClose", o.getBodyErr)
	}
	if o.body != nil {
		t.Errorf("Body after release: %d bytes, want nil", len(o.body))
	}
}

// Closing r.Body ends that reader, as in net/http; GetBody gives a new one.
func TestBodyReadAfterClose(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	var readErr, againErr error
	h := newMiddleware(t, Config{Pool: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		_, readErr = r.Body.Read(make([]byte, 1))
		rc, err := r.GetBody()
		if err != nil {
			againErr = err
			return
		}
		_, againErr = io.ReadAll(rc)
	}))
	h.ServeHTTP(httptest.NewRecorder(), newRequest("POST", strings.NewReader("hello")))
	if !errors.Is(readErr, http.ErrBodyReadAfterClose) || againErr != nil {
		t.Errorf("Read after Close: %v; GetBody then: %v; want ErrBodyReadAfterClose, nil", readErr, againErr)
	}
}

// A response read with ReadFrom (io.Copy from a reader of unknown length)
// never takes a buffer beyond the class of MaxBufferedResponse, and a
// response whose handler set Content-Length (http.ServeContent, as
// http.ServeFile does) takes none.
func TestReadFromMemoryBound(t *testing.T) {
	const threshold = 64 << 10
	for _, size := range []int{threshold - 1, threshold, threshold + 1, 4 * threshold} {
		for _, via := range []string{"copy", "ServeContent"} {
			t.Run(via+"/"+sizeName(size), func(t *testing.T) {
				p := newPool(t, bufpool.Config{})
				data := payload(uint64(size), size)
				h := newMiddleware(t, Config{Pool: p, MaxBufferedResponse: threshold})(
					http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if via == "copy" {
							io.Copy(w, struct{ io.Reader }{bytes.NewReader(data)})
							return
						}
						http.ServeContent(w, r, "data.bin", time.Time{}, bytes.NewReader(data))
					}))
				srv := startServer(t, p, h)
				resp, err := srv.Client().Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read %d of %d bytes, %v", len(got), size, err)
				}
				limit := p.ClassSize(threshold)
				st := p.Stats()
				for _, c := range append(st.Classes, st.Oversize) {
					if c.Gets > 0 && (c.Size == 0 || c.Size > limit) {
						t.Errorf("a buffer of class %d was taken, beyond the class of the threshold (%d)", c.Size, limit)
					}
				}
				if via == "ServeContent" && st.Total.Gets != 0 {
					t.Errorf("a response with its own Content-Length took %d buffers, want 0", st.Total.Gets)
				}
			})
		}
	}
}

// gzipWindow returns the plaintext window an idle gzip reader keeps, and
// the reader it reads from, by reflection on compress/flate's internals.
func gzipWindow(t *testing.T, zr *gzip.Reader) (window []byte, src any) {
	t.Helper()
	v := reflect.ValueOf(zr).Elem()
	src = fieldOf(v, "r")
	dec := v.FieldByName("decompressor")
	if dec.IsNil() {
		return nil, src
	}
	hist := dec.Elem().Elem().FieldByName("dict").FieldByName("hist")
	window = make([]byte, hist.Len())
	for i := range window {
		window[i] = byte(hist.Index(i).Uint())
	}
	return window, src
}

// fieldOf returns the dynamic type of an unexported interface field, as a
// zero value of that type, for comparison by type only.
func fieldOf(v reflect.Value, name string) any {
	f := v.FieldByName(name)
	if f.IsNil() {
		return nil
	}
	return reflect.Zero(f.Elem().Type()).Interface()
}

// A parked gzip reader refers to no request's body, and with the pool's
// ZeroOnRelease keeps none of the plaintext it decompressed.
func TestGzipReadersHoldNothing(t *testing.T) {
	secret := bytes.Repeat([]byte("secret plaintext "), 4000)
	for _, wipe := range []bool{false, true} {
		t.Run(fmt.Sprintf("ZeroOnRelease=%v", wipe), func(t *testing.T) {
			z := new(gunzipper)
			if err := z.zr.Reset(struct{ io.Reader }{bytes.NewReader(gzipped(t, secret))}); err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(&z.zr); err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("decompressed %d bytes, %v", len(got), err)
			}
			if window, _ := gzipWindow(t, &z.zr); !bytes.Contains(window, []byte("secret")) {
				t.Fatal("the window holds no plaintext before parking: the test inspects the wrong field")
			}
			z.park(wipe)
			window, src := gzipWindow(t, &z.zr)
			if _, ok := src.(*bytes.Reader); !ok {
				t.Errorf("a parked gzip reader reads from %T, want its own parked reader", src)
			}
			if kept := bytes.Contains(window, []byte("secret")); kept == wipe {
				t.Errorf("plaintext kept in the window: %v, want %v", kept, !wipe)
			}
		})
	}
}

// Content-Encoding on several lines is read in order, and only the
// outermost gzip layers are removed; the rest stays on the body and in
// the header.
func TestGzipLayers(t *testing.T) {
	tests := []struct {
		lines  []string
		layers int
		rest   []string
	}{
		{nil, 0, nil},
		{[]string{"gzip"}, 1, []string{}},
		{[]string{"x-gzip"}, 1, []string{}},
		{[]string{"gzip, deflate"}, 0, []string{"gzip", "deflate"}},
		{[]string{"gzip", "deflate"}, 0, []string{"gzip", "deflate"}},
		{[]string{"deflate", "gzip"}, 1, []string{"deflate"}},
		{[]string{"gzip", "gzip"}, 2, []string{}},
		{[]string{"gzip, identity", " GZIP "}, 2, []string{}},
		{[]string{"br", "gzip,gzip"}, 2, []string{"br"}},
		{[]string{"gzip,gzip,gzip,gzip,gzip"}, maxGzipLayers, []string{"gzip"}},
		{[]string{""}, 0, nil},
	}
	for _, tt := range tests {
		h := http.Header{"Content-Encoding": tt.lines}
		layers, rest := gzipLayers(h)
		if layers != tt.layers || strings.Join(rest, ",") != strings.Join(tt.rest, ",") {
			t.Errorf("%q: %d layers, rest %q; want %d, %q", tt.lines, layers, rest, tt.layers, tt.rest)
		}
	}
}

// A body gzipped twice, declared on two lines, is decompressed twice; one
// whose outermost coding is not gzip reaches the handler untouched.
func TestGzipTwoLines(t *testing.T) {
	plain := payload(3, 3000)
	once := gzipped(t, plain)
	twice := gzipped(t, once)
	tests := []struct {
		name     string
		lines    []string
		body     []byte
		wantBody []byte
		wantCE   []string
	}{
		{"gzip then gzip", []string{"gzip", "gzip"}, twice, plain, nil},
		{"gzip then deflate", []string{"gzip", "deflate"}, []byte("not decoded"), []byte("not decoded"), []string{"gzip", "deflate"}},
		{"deflate then gzip", []string{"deflate", "gzip"}, once, plain, []string{"deflate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, bufpool.Config{})
			var gotBody []byte
			var gotCE []string
			h := newMiddleware(t, Config{Pool: p, Decompress: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotBody, _ = io.ReadAll(r.Body)
				gotCE = r.Header.Values("Content-Encoding")
			}))
			r := newRequest("POST", bytes.NewReader(tt.body))
			r.Header["Content-Encoding"] = tt.lines
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 200 || !bytes.Equal(gotBody, tt.wantBody) || strings.Join(gotCE, "|") != strings.Join(tt.wantCE, "|") {
				t.Errorf("status %d, body %d bytes (want %d), Content-Encoding %q (want %q)",
					rec.Code, len(gotBody), len(tt.wantBody), gotCE, tt.wantCE)
			}
		})
	}
}

// A body an outer middleware already decompressed, leaving
// Content-Encoding in place (Echo's Decompress does), is not decompressed
// again.
func TestGzipDecompressedOutside(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	plain := payload(4, 2000)
	var got []byte
	h := newMiddleware(t, Config{Pool: p, Decompress: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = Body(r)
		w.Write(got)
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		r.Body = zr
		h.ServeHTTP(w, r)
	})
	r := newRequest("POST", bytes.NewReader(gzipped(t, plain)))
	r.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	outer.ServeHTTP(rec, r)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), plain) {
		t.Errorf("status %d, %d bytes; want 200 and the plain body", rec.Code, rec.Body.Len())
	}

	// Plain bytes labelled gzip are refused with a message that says so.
	r = newRequest("POST", strings.NewReader("plain text, not gzip at all"))
	r.Header.Set("Content-Encoding", "gzip")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "not gzip") {
		t.Errorf("plain body labelled gzip: %d %q, want 400 saying it is not gzip", rec.Code, rec.Body.String())
	}
}

// Skip leaves the requests it selects to the handler as they are: their
// body unread (a full-duplex handler reads it itself) and their response
// not buffered.
func TestSkip(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	h := newMiddleware(t, Config{Pool: p, Skip: func(r *http.Request) bool {
		return strings.HasPrefix(r.URL.Path, "/stream/")
	}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, wrapped := w.(*responseWriter)
		_, pooled := r.Body.(*bodyReader)
		io.WriteString(w, map[bool]string{true: "pooled", false: "plain"}[wrapped && pooled])
	}))
	for path, want := range map[string]string{"/stream/x": "plain", "/other": "pooled"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader("body")))
		if rec.Body.String() != want {
			t.Errorf("%s: %q, want %q", path, rec.Body.String(), want)
		}
	}
}

// The pool's budget rejections count requests refused, nothing else: not
// a request that waited and got its memory, not a response that found no
// room to buffer and streamed.
func TestBudgetRejectionsExact(t *testing.T) {
	const budget = 256 << 10
	p := newPool(t, bufpool.Config{MaxInUseBytes: budget})
	h := newMiddleware(t, Config{Pool: p, MaxRequestBody: 64 << 10, BudgetWait: time.Second})(http.HandlerFunc(echoRequest))

	// Wait and succeed: the budget frees while the request waits.
	hold, err := p.Acquire(context.Background(), budget)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(30 * time.Millisecond)
		hold.Release()
	}()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest("POST", strings.NewReader("waits, then fits")))
	wg.Wait()
	if rec.Code != 200 {
		t.Fatalf("a request that waited: %d", rec.Code)
	}
	if got := p.Stats().BudgetRejections; got != 0 {
		t.Errorf("a request that waited and fitted counted %d rejections, want 0", got)
	}

	// A response that finds no room streams, and counts nothing.
	hold, err = p.Acquire(context.Background(), budget)
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	newMiddleware(t, Config{Pool: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "streams")
	})).ServeHTTP(rec, newRequest("GET", nil))
	if rec.Body.String() != "streams" {
		t.Errorf("response under a full budget: %q", rec.Body.String())
	}
	if got := p.Stats().BudgetRejections; got != 0 {
		t.Errorf("a response that streamed counted %d rejections, want 0", got)
	}

	// A request refused after waiting counts one.
	short := newMiddleware(t, Config{Pool: p, MaxRequestBody: 64 << 10, BudgetWait: 10 * time.Millisecond})(http.HandlerFunc(echoRequest))
	rec = httptest.NewRecorder()
	short.ServeHTTP(rec, newRequest("POST", strings.NewReader("refused")))
	hold.Release()
	if rec.Code != 503 {
		t.Errorf("a request under a held budget: %d, want 503", rec.Code)
	}
	if got := p.Stats().BudgetRejections; got != 1 {
		t.Errorf("one refused request counted %d rejections, want 1", got)
	}
}

// An empty Write after a status without a body succeeds, as in net/http;
// a non-empty one fails with http.ErrBodyNotAllowed.
func TestEmptyWriteWithoutBody(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	var empty, full error
	h := newMiddleware(t, Config{Pool: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
		_, empty = w.Write(nil)
		_, full = w.Write([]byte("x"))
	}))
	h.ServeHTTP(httptest.NewRecorder(), newRequest("GET", nil))
	if empty != nil || !errors.Is(full, http.ErrBodyNotAllowed) {
		t.Errorf("after 304: empty Write %v, Write %v; want nil, ErrBodyNotAllowed", empty, full)
	}
}

// A second instance of the middleware inside the first (a route with a
// smaller limit) applies its limit to the body already read: no second
// read, no second buffer, no second response buffer.
func TestNestedLimits(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	inner := newMiddleware(t, Config{Pool: p, MaxRequestBody: 1 << 10})
	outer := newMiddleware(t, Config{Pool: p, MaxRequestBody: 1 << 20})
	mux := http.NewServeMux()
	mux.Handle("/small", inner(http.HandlerFunc(echoRequest)))
	mux.HandleFunc("/large", echoRequest)
	h := outer(mux)
	tests := []struct {
		path   string
		size   int
		status int
	}{
		{"/small", 500, 200},
		{"/small", 2000, 413},
		{"/large", 2000, 200},
	}
	for _, tt := range tests {
		before := gets(p)
		body := payload(uint64(tt.size), tt.size)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", tt.path, bytes.NewReader(body))
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%s, %d bytes: status %d, want %d", tt.path, tt.size, rec.Code, tt.status)
		}
		if tt.status == 200 && !bytes.Equal(rec.Body.Bytes(), body) {
			t.Errorf("%s, %d bytes: body differs", tt.path, tt.size)
		}
		// One buffer for the body, one for the response, at most.
		if took := gets(p) - before; took > 2 {
			t.Errorf("%s, %d bytes: %d buffers taken, want at most 2 (body and response)", tt.path, tt.size, took)
		}
	}
}

// The net/http middleware links nothing of Echo: a net/http program that
// uses it does not carry a framework it does not use.
func TestNoEchoDependency(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/bodypool/bodypool/middleware").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for dep := range strings.Lines(string(out)) {
		if strings.Contains(dep, "labstack") {
			t.Errorf("middleware depends on %s", strings.TrimSpace(dep))
		}
	}
}

// While a buffered response drains to a client that reads slowly, the
// request's body is back in the pool: a request holds one buffer, not
// two, once its handler returned. The client here reads nothing until the
// check, with a small receive buffer, so the 16 MiB response cannot fit
// in the sockets' buffers and the server waits in its write.
func TestBodyReleasedBeforeResponseDrains(t *testing.T) {
	const size = 16 << 20
	p := newPool(t, bufpool.Config{})
	returned := make(chan struct{})
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		io.Copy(w, r.Body)
	})
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxRequestBody: size, MaxBufferedResponse: size})(echo))
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.(*net.TCPConn).SetReadBuffer(32 << 10); err != nil {
		t.Fatal(err)
	}
	body := payload(7, size)
	go func() {
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		conn.Write(body)
	}()
	<-returned
	waitFor(t, "the request body to go back", func() bool { return p.Stats().Total.InUse == 1 })
	// The one buffer out is the response's, and it stays out: the server
	// is still writing it.
	time.Sleep(50 * time.Millisecond)
	if st := p.Stats().Total; st.InUse != 1 || st.InUseBytes < size {
		t.Fatalf("while the response drains: %d buffers (%d bytes) in use, want the response's alone", st.InUse, st.InUseBytes)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("echo of %d bytes: read %d bytes, equal %v, err %v", size, len(got), bytes.Equal(got, body), err)
	}
	waitFor(t, "the response buffer to go back", func() bool { return p.Stats().Total.InUse == 0 })
}
