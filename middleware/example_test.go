package middleware_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
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

func ExampleEcho() {
	e := echo.New()
	e.Use(middleware.Echo())
	e.POST("/", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprintf("read %d bytes", len(middleware.EchoBody(c))))
	})

	post(e, "hello, echo")
	// Output:
	// 200 "read 11 bytes" (Content-Length "13")
}

func ExampleEchoWithConfig() {
	e := echo.New()
	e.Use(middleware.EchoWithConfig(middleware.Config{
		MaxRequestBody: 16,
		// Uploads are streamed by their handler, not read into memory.
		Skipper: func(c echo.Context) bool { return c.Request().URL.Path == "/upload" },
	}))
	e.POST("/", func(c echo.Context) error {
		return c.String(http.StatusOK, string(middleware.EchoBody(c)))
	})

	post(e, "short")
	// Refusals are *echo.HTTPError, shaped by Echo's error handler.
	post(e, "a body longer than sixteen bytes")
	// Output:
	// 200 "short" (Content-Length "5")
	// 413 "{\"message\":\"request body too large: the limit is 16 bytes\"}" (Content-Length "")
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
