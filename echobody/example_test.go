package echobody_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bodypool/bodypool/echobody"
	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// post sends body to h and prints the response's status, body and
// Content-Length.
func post(h http.Handler, body string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(body)))
	fmt.Printf("%d %q (Content-Length %q)\n", rec.Code, strings.TrimSpace(rec.Body.String()), rec.Header().Get("Content-Length"))
}

func ExampleNewMiddleware() {
	e := echo.New()
	// Recover and RequestLogger go before it, so that panics and refusals
	// are recovered and logged; Gzip after it, so that compressed
	// responses are buffered and go out with a Content-Length.
	e.Use(echomw.Recover(), echobody.NewMiddleware(), echomw.Gzip())
	e.POST("/", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprintf("read %d bytes", len(echobody.Body(c))))
	})

	post(e, "hello, echo")
	// Output:
	// 200 "read 11 bytes" (Content-Length "13")
}

func ExampleNewMiddlewareWithConfig() {
	e := echo.New()
	e.Use(echobody.NewMiddlewareWithConfig(echobody.Config{
		// Uploads are streamed by their handler, not read into memory.
		Skipper: func(c echo.Context) bool { return c.Request().URL.Path == "/upload" },
		Config:  middleware.Config{MaxRequestBody: 16},
	}))
	e.POST("/", func(c echo.Context) error {
		return c.String(http.StatusOK, string(echobody.Body(c)))
	})

	post(e, "short")
	// Refusals are *echo.HTTPError, shaped by Echo's error handler.
	post(e, "a body longer than sixteen bytes")
	// Output:
	// 200 "short" (Content-Length "5")
	// 413 "{\"message\":\"request body too large: the limit is 16 bytes\"}" (Content-Length "")
}

func ExampleDetachBody() {
	jobs := make(chan []byte, 1)
	e := echo.New()
	e.Use(echobody.NewMiddleware())
	e.POST("/", func(c echo.Context) error {
		// The job outlives the request: its body leaves the pool.
		jobs <- echobody.DetachBody(c)
		return c.NoContent(http.StatusAccepted)
	})

	post(e, "resize image 42")
	fmt.Printf("processing %q\n", <-jobs)
	// Output:
	// 202 "" (Content-Length "0")
	// processing "resize image 42"
}
