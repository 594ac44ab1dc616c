package middleware

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
)

// onlyReader hides every method but Read, so io.Copy takes the writer's
// ReadFrom.
type onlyReader struct{ io.Reader }

var fuzzCodes = []int{200, 201, 204, 304, 404, 500, 103, 418}

// runOps performs the response-writer operations a fuzzer encoded in ops.
// Each written byte depends on its position in the body, so bytes out of
// order, lost or repeated show in the comparison.
func runOps(w http.ResponseWriter, ops []byte) {
	off := 0
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte((off + i) * 7 % 251)
		}
		return b
	}
	for i := 0; i+1 < len(ops); i += 2 {
		arg := int(ops[i+1])
		switch ops[i] % 7 {
		case 0:
			w.Header().Set("X-Op", strconv.Itoa(i))
		case 1:
			w.WriteHeader(fuzzCodes[arg%len(fuzzCodes)])
		case 2:
			n, _ := w.Write(payload(arg * 13))
			off += n
		case 3:
			http.NewResponseController(w).Flush()
		case 4:
			n, _ := io.Copy(w, onlyReader{bytes.NewReader(payload(arg * 29))})
			off += int(n)
		case 5:
			n, _ := w.Write(payload(arg * 257))
			off += n
		case 6:
			w.Header().Set("Content-Type", "application/x-fuzz")
		}
	}
}

// FuzzResponseWriter runs fuzzed sequences of Header, WriteHeader, Write,
// Flush and ReadFrom against a plain net/http server and one behind the
// middleware (with a small buffering threshold, so both buffering and
// streaming happen): the client must receive the same status and bytes,
// and every buffer must come back.
func FuzzResponseWriter(f *testing.F) {
	f.Add([]byte{2, 10, 2, 20})
	f.Add([]byte{1, 1, 2, 100, 3, 0, 2, 5})
	f.Add([]byte{1, 2, 2, 3})       // 204, then a write
	f.Add([]byte{1, 6, 1, 0, 2, 4}) // 103, 200, body
	f.Add([]byte{5, 10, 4, 200, 3, 0, 5, 1})
	f.Add([]byte{0, 0, 6, 0, 2, 1, 1, 7})
	f.Add([]byte{})

	p, err := bufpool.New(bufpool.Config{Track: true, Poison: true})
	if err != nil {
		f.Fatal(err)
	}
	mw, err := New(Config{Pool: p, MaxBufferedResponse: 2048})
	if err != nil {
		f.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ops, _ := io.ReadAll(r.Body)
		runOps(w, ops)
	})
	done := make(chan struct{}, 1)
	quiet := log.New(io.Discard, "", 0)
	plain := httptest.NewUnstartedServer(handler)
	plain.Config.ErrorLog = quiet
	plain.Start()
	defer plain.Close()
	pooled := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw(handler).ServeHTTP(w, r)
		done <- struct{}{}
	}))
	pooled.Config.ErrorLog = quiet
	pooled.Start()
	defer pooled.Close()

	get := func(t *testing.T, url string, ops []byte) (int, []byte) {
		t.Helper()
		resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(ops))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		wantStatus, wantBody := get(t, plain.URL, ops)
		status, body := get(t, pooled.URL, ops)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the pooled handler did not finish")
		}
		if status != wantStatus || !bytes.Equal(body, wantBody) {
			t.Fatalf("ops %v: got %d with %d bytes, plain net/http sent %d with %d bytes", ops, status, len(body), wantStatus, len(wantBody))
		}
		if err := p.CheckLeaks(); err != nil {
			t.Fatal(err)
		}
	})
}
