package middleware

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bodypool/bodypool/bufpool"
)

// testThreshold is MaxBufferedResponse in the response tests.
const testThreshold = 16 << 10

var errBoom = errors.New("boom")

func TestResponseStatus(t *testing.T) {
	under := payload(20, testThreshold)
	over := payload(21, 3*testThreshold+7)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	underFile, overFile := file("under", under), file("over", over)
	copyFile := func(path string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if _, err := io.Copy(w, f); err != nil {
				t.Errorf("io.Copy from %s: %v", path, err)
			}
		}
	}
	readFrom := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// unsized hides bytes.Reader's WriteTo: io.Copy must use the
			// writer's ReadFrom.
			n, err := w.(io.ReaderFrom).ReadFrom(unsized{bytes.NewReader(b)})
			if err != nil || n != int64(len(b)) {
				t.Errorf("ReadFrom: %d, %v; want %d, nil", n, err, len(b))
			}
		}
	}
	noBody := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			if n, err := w.Write([]byte("not allowed")); n != 0 || !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("Write after %d: %d, %v; want 0, ErrBodyNotAllowed", code, n, err)
			}
			if n, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("nor this")); n != 0 || !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("ReadFrom after %d: %d, %v; want 0, ErrBodyNotAllowed", code, n, err)
			}
		}
	}

	tests := []struct {
		name     string
		handler  http.HandlerFunc
		status   int
		want     []byte
		streamed bool // no Content-Length: the response went out as written
		noPool   bool
	}{
		{name: "small", handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
			status: 200, want: []byte("hello")},
		{name: "nothing written", handler: func(w http.ResponseWriter, r *http.Request) {},
			status: 200, want: []byte{}, noPool: true},
		{name: "201 small", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "made")
		}, status: 201, want: []byte("made")},
		{name: "418 large", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			w.Write(over)
		}, status: 418, want: over, streamed: true},
		{name: "500 without body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}, status: 500, want: []byte{}, noPool: true},
		{name: "second WriteHeader ignored", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "accepted")
		}, status: 202, want: []byte("accepted")},
		{name: "exactly the threshold", handler: func(w http.ResponseWriter, r *http.Request) { w.Write(under) },
			status: 200, want: under},
		{name: "one write over", handler: func(w http.ResponseWriter, r *http.Request) { w.Write(over) },
			status: 200, want: over, streamed: true},
		{name: "small writes crossing the threshold", handler: func(w http.ResponseWriter, r *http.Request) {
			for b := over; len(b) > 0; b = b[min(1000, len(b)):] {
				if n, err := w.Write(b[:min(1000, len(b))]); err != nil || n != min(1000, len(b)) {
					t.Errorf("Write: %d, %v", n, err)
				}
			}
		}, status: 200, want: over, streamed: true},
		{name: "Content-Length set by the handler", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(under)))
			w.Write(under[:100])
			w.Write(under[100:])
		}, status: 200, want: under, noPool: true},
		{name: "204", handler: noBody(http.StatusNoContent), status: 204, want: []byte{}, noPool: true},
		{name: "304", handler: noBody(http.StatusNotModified), status: 304, want: []byte{}, noPool: true},
		{name: "file under", handler: copyFile(underFile), status: 200, want: under},
		{name: "file over", handler: copyFile(overFile), status: 200, want: over, streamed: true},
		{name: "ReadFrom under", handler: readFrom(under), status: 200, want: under},
		{name: "ReadFrom over", handler: readFrom(over), status: 200, want: over, streamed: true},
		{name: "ReadFrom empty", handler: readFrom([]byte{}), status: 200, want: []byte{}},
		{name: "201 then ReadFrom empty", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			readFrom(nil)(w, r)
		}, status: 201, want: []byte{}},
		{name: "ReadFrom failing", handler: func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(w, iotest.ErrReader(errBoom)); !errors.Is(err, errBoom) {
				t.Errorf("io.Copy from a failing reader: %v, want %v", err, errBoom)
			}
		}, status: 200, want: []byte{}},
		{name: "ReadFrom after Write", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Write(over[:100])
			io.Copy(w, unsized{bytes.NewReader(over[100:])})
		}, status: 200, want: over, streamed: true},
		{name: "Write after ReadFrom", handler: func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, unsized{bytes.NewReader(over[:testThreshold+1])})
			w.Write(over[testThreshold+1:])
		}, status: 200, want: over, streamed: true},
	}
	for _, mode := range poolModes {
		t.Run(mode.name, func(t *testing.T) {
			for _, v := range vias {
				t.Run(v.name, func(t *testing.T) {
					for _, tt := range tests {
						t.Run(tt.name, func(t *testing.T) {
							p := newPool(t, mode.cfg)
							h := newMiddleware(t, Config{Pool: p, MaxBufferedResponse: testThreshold})(tt.handler)

							res := v.do(t, h, newRequest("GET", nil))

							if res.status != tt.status {
								t.Errorf("status %d, want %d", res.status, tt.status)
							}
							if !bytes.Equal(res.body, tt.want) {
								t.Errorf("body: %d bytes %.40q, want %d bytes %.40q", len(res.body), res.body, len(tt.want), tt.want)
							}
							cl := res.header.Get("Content-Length")
							switch {
							case tt.streamed && cl != "":
								t.Errorf("a streamed response has Content-Length %s", cl)
							case tt.streamed && v.name == "server" && !res.chunked:
								t.Error("a streamed response is not chunked")
							case !tt.streamed && res.chunked:
								t.Error("a buffered response is chunked")
							case !tt.streamed && !bodyAllowed(tt.status) && cl != "":
								t.Errorf("status %d with Content-Length %s", tt.status, cl)
							case !tt.streamed && bodyAllowed(tt.status) && len(tt.want) > 0 && cl != strconv.Itoa(len(tt.want)):
								t.Errorf("Content-Length %q, want %d", cl, len(tt.want))
							}
							if tt.noPool && gets(p) != 0 {
								t.Errorf("%d buffers taken, want none", gets(p))
							}
						})
					}
				})
			}
		})
	}
}

// A streamed response goes out chunked over HTTP/1.1, and the middleware
// with a negative MaxBufferedResponse streams every response.
func TestResponseStreamsChunked(t *testing.T) {
	for _, limit := range []int{testThreshold, -1} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			p := newPool(t, bufpool.Config{})
			body := payload(22, 2*testThreshold)
			srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxBufferedResponse: limit})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })))
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, body) || resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
				t.Errorf("got %d bytes, ContentLength %d, TransferEncoding %v; want %d bytes chunked",
					len(got), resp.ContentLength, resp.TransferEncoding, len(body))
			}
			if limit < 0 && gets(p) != 0 {
				t.Errorf("%d buffers taken with buffering disabled", gets(p))
			}
		})
	}
}

// HEAD gets the Content-Length GET gets, and no body.
func TestHead(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	body := payload(23, 1234)
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })))
	get, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	head, err := srv.Client().Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	headBody, _ := io.ReadAll(head.Body)
	head.Body.Close()
	if !bytes.Equal(got, body) || get.ContentLength != int64(len(body)) {
		t.Errorf("GET: %d bytes, Content-Length %d; want %d", len(got), get.ContentLength, len(body))
	}
	if len(headBody) != 0 || head.ContentLength != get.ContentLength || head.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("HEAD: %d bytes, Content-Length %d (%q); want none and %d",
			len(headBody), head.ContentLength, head.Header.Get("Content-Length"), len(body))
	}
}

// Flush sends what was written at once: the first event of a stream
// arrives while the handler still waits for the test.
func TestFlushStreams(t *testing.T) {
	flushers := map[string]func(http.ResponseWriter) error{
		"Flusher": func(w http.ResponseWriter) error { w.(http.Flusher).Flush(); return nil },
		"ResponseController": func(w http.ResponseWriter) error {
			return http.NewResponseController(w).Flush()
		},
	}
	for name, flush := range flushers {
		t.Run(name, func(t *testing.T) {
			p := newPool(t, bufpool.Config{Poison: true})
			proceed := make(chan struct{})
			srv := startServer(t, p, newMiddleware(t, Config{Pool: p})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, "data: first\n\n")
					if err := flush(w); err != nil {
						t.Errorf("Flush: %v", err)
					}
					select {
					case <-proceed:
					case <-time.After(10 * time.Second):
						t.Error("the first event never arrived")
					}
					io.WriteString(w, "data: second\n\n")
				})))
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			first, err := textproto.NewReader(br).ReadLine()
			if err != nil || first != "data: first" {
				t.Fatalf("first event %q, %v", first, err)
			}
			close(proceed)
			rest, _ := io.ReadAll(br)
			if string(rest) != "\ndata: second\n\n" {
				t.Errorf("rest of the stream %q", rest)
			}
			if resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Errorf("a flushed stream with Content-Length %d, Content-Type %q", resp.ContentLength, resp.Header.Get("Content-Type"))
			}
		})
	}
}

// http.ResponseController reaches the connection's deadlines through
// Unwrap, and a deadline set through it governs the writes that follow.
func TestResponseControllerDeadlines(t *testing.T) {
	p := newPool(t, bufpool.Config{})
	big := payload(24, 4*testThreshold)
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxBufferedResponse: testThreshold})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetReadDeadline: %v", err)
			}
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			if r.URL.Path != "/expired" {
				w.Write(big)
				return
			}
			if err := rc.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			if _, err := w.Write(big); err == nil {
				t.Error("Write past the write deadline succeeded")
			}
		})))
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, big) {
		t.Errorf("got %d bytes, want %d", len(got), len(big))
	}
	if resp, err := srv.Client().Get(srv.URL + "/expired"); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	// A recorder has no deadlines: the controller says so.
	h := newMiddleware(t, Config{Pool: p})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now()); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("SetWriteDeadline on a recorder: %v, want ErrNotSupported", err)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), newRequest("GET", nil))
}

// Hijack hands the connection to the handler, and the writer refuses
// further writes. (What net/http sends when a status was written before
// Hijack is compared in the conformance suite.)
func TestHijack(t *testing.T) {
	hijackers := map[string]func(http.ResponseWriter) (net.Conn, error){
		"Hijacker": func(w http.ResponseWriter) (net.Conn, error) {
			c, _, err := w.(http.Hijacker).Hijack()
			return c, err
		},
		"ResponseController": func(w http.ResponseWriter) (net.Conn, error) {
			c, _, err := http.NewResponseController(w).Hijack()
			return c, err
		},
	}
	for name, hijack := range hijackers {
		t.Run(name, func(t *testing.T) {
			p := newPool(t, bufpool.Config{Poison: true})
			srv := startServer(t, p, newMiddleware(t, Config{Pool: p})(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Dropped", "never sent")
					conn, err := hijack(w)
					if err != nil {
						t.Errorf("Hijack: %v", err)
						return
					}
					defer conn.Close()
					io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Raw: yes\r\nConnection: close\r\n\r\nhijacked")
					if _, err := w.Write([]byte("late")); !errors.Is(err, http.ErrHijacked) {
						t.Errorf("Write after Hijack: %v, want ErrHijacked", err)
					}
					w.WriteHeader(http.StatusTeapot) // ignored
				})))
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != "hijacked" || resp.Header.Get("X-Raw") != "yes" {
				t.Errorf("got %d %q (X-Raw %q), want the raw response", resp.StatusCode, got, resp.Header.Get("X-Raw"))
			}
		})
	}
}

// A 103 Early Hints response goes out before the final 200 and its body.
func TestEarlyHints(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "final body")
		})))
	var hints []int
	var link string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, code)
		link = h.Get("Link")
		return nil
	}}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(hints) != 1 || hints[0] != 103 || !strings.Contains(link, "style.css") {
		t.Errorf("1xx responses %v (Link %q), want one 103 with the Link", hints, link)
	}
	if resp.StatusCode != 200 || string(got) != "final body" || resp.ContentLength != int64(len("final body")) {
		t.Errorf("final response %d %q (Content-Length %d), want 200 with the body", resp.StatusCode, got, resp.ContentLength)
	}
}

// A client that goes away mid-response ends the handler's writes, and
// every buffer goes back to the pool.
func TestClientAbort(t *testing.T) {
	p := newPool(t, bufpool.Config{Poison: true})
	done := make(chan error, 1)
	chunk := payload(25, 64<<10)
	srv := startServer(t, p, newMiddleware(t, Config{Pool: p, MaxBufferedResponse: testThreshold})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for {
				if _, err := w.Write(chunk); err != nil {
					done <- err
					return
				}
			}
		})))
	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("a request body"))
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, resp.Body, 256<<10)
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler kept writing to a closed connection")
	}
}
