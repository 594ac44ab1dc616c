package middleware_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/bodypool/bodypool/middleware"
)

// post sends body to h and prints the response's status, body and
// Content-Length.
func post(h http.Handler, body string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(body)))
	fmt.Printf("%d %q (Content-Length %q)\n", rec.Code, strings.TrimSpace(rec.Body.String()), rec.Header().Get("Content-Length"))
}

func ExampleNew() {
	mw, err := middleware.New(middleware.Config{MaxRequestBody: 1 << 10})
	if err != nil {
		log.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "read %d bytes", len(middleware.Body(r)))
	}))

	post(h, "hello")
	post(h, strings.Repeat("x", 2000))
	// Output:
	// 200 "read 5 bytes" (Content-Length "12")
	// 413 "request body too large: the limit is 1024 bytes" (Content-Length "")
}

func ExampleHandler() {
	// Handlers keep reading r.Body as usual: it reads the pooled bytes.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upper", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write([]byte(strings.ToUpper(string(b))))
	})
	h := middleware.Handler(mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/upper", strings.NewReader("pooled")))
	fmt.Println(rec.Code, rec.Header().Get("Content-Length"), rec.Body.String())
	// Output:
	// 200 6 POOLED
}

func ExampleConfig_skip() {
	// A route that reads its own body as it arrives (a full-duplex
	// handler, an upload written to disk) is left alone.
	mw, err := middleware.New(middleware.Config{
		Skip: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/upload/") },
	})
	if err != nil {
		log.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pooled: %v", middleware.Body(r) != nil)
	}))

	for _, path := range []string{"/upload/big.iso", "/api/items"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader("data")))
		fmt.Println(path, rec.Body.String())
	}
	// Output:
	// /upload/big.iso pooled: false
	// /api/items pooled: true
}

func ExampleNew_timeoutHandler() {
	mw, err := middleware.New(middleware.Config{})
	if err != nil {
		log.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d bytes", len(middleware.Body(r)))
	})
	// http.TimeoutHandler goes outside the middleware: the handler it
	// abandons at the timeout then still holds its body, which the
	// middleware releases only when that handler returns.
	h := http.TimeoutHandler(mw(handler), time.Second, "timeout")

	post(h, "hello")
	// Output:
	// 200 "5 bytes" (Content-Length "7")
}

func ExampleBody() {
	h := middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Body returns the pooled bytes themselves, without a copy. They
		// are valid until the handler returns.
		body := middleware.Body(r)
		fields := strings.Fields(string(body))
		fmt.Fprintf(w, "%d words in %d bytes", len(fields), r.ContentLength)
	}))

	post(h, "the quick brown fox")
	// Output:
	// 200 "4 words in 19 bytes" (Content-Length "19")
}

func ExampleDetachBody() {
	// jobs are processed after their request is answered: their bodies
	// must outlive the handler, so they are detached from the pool.
	jobs := make(chan []byte, 1)
	h := middleware.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jobs <- middleware.DetachBody(r)
		w.WriteHeader(http.StatusAccepted)
	}))

	post(h, "resize image 42")
	fmt.Printf("processing %q\n", <-jobs)
	// Output:
	// 202 "" (Content-Length "0")
	// processing "resize image 42"
}
