package reliability

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/echobody"
	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// TestEchoPanic hits an Echo handler that writes part of its body and
// panics, 200 times, behind echomw.Recover and the middleware over a
// Track+Poison pool: every response is a 500 without the partial body, no
// buffer is left checked out, and goroutines do not pile up.
func TestEchoPanic(t *testing.T) {
	pool, err := bufpool.New(bufpool.Config{Track: true, Poison: true})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Logger.SetOutput(io.Discard) // Recover logs every stack
	e.Use(echomw.Recover())
	e.Use(echobody.NewMiddlewareWithConfig(echobody.Config{Config: middleware.Config{Pool: pool}}))
	e.POST("/panic", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextPlain)
		c.Response().WriteHeader(http.StatusOK)
		io.WriteString(c.Response(), partialBody)
		panic("reliability: an Echo handler panics after writing part of its body")
	})
	ts := httptest.NewServer(e)
	defer ts.Close()
	client := ts.Client()
	payload := randomBytes(t, 200*1000)

	before := runtime.NumGoroutine()
	for i := range 200 {
		// Bodies of every size up to 200 KB, so that requests take buffers
		// of many classes, and some grow.
		resp, err := client.Post(ts.URL+"/panic", "application/octet-stream", bytes.NewReader(payload[:i*1000]))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || bytes.Contains(body, []byte(partialBody)) {
			t.Fatalf("request %d: status %d, body %q; want 500 without the partial body", i, resp.StatusCode, body)
		}
	}
	client.CloseIdleConnections()
	if err := pool.CheckLeaks(); err != nil {
		t.Error(err)
	}
	if st := pool.Stats(); st.Total.InUseBytes != 0 {
		t.Errorf("%d bytes in use after 200 panics, want 0", st.Total.InUseBytes)
	}
	// The server's connection goroutine may take a moment to end.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); after > before+2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	t.Logf("goroutines: %d before the 200 panics, %d after", before, after)
	if after > before+2 {
		t.Errorf("%d goroutines after 200 panics, %d before", after, before)
	}
}
