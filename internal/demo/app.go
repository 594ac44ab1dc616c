package demo

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	_ "net/http/pprof" // for -pprof
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/bodypool/bodypool/echobody"
	"github.com/bodypool/bodypool/internal/seam"
	"github.com/bodypool/bodypool/metrics"
	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// App is the demo application: an Echo server whose handlers read and
// write bodies through bodypool in every mode but off.
type App struct {
	Echo *echo.Echo
	pool *pool // nil in mode off

	inflight sync.WaitGroup // handlers running
}

// NewApp builds the application for o.
func NewApp(o Options) (*App, error) {
	a := &App{Echo: echo.New()}
	e := a.Echo
	e.HideBanner, e.HidePort = true, true

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a.inflight.Add(1)
			defer a.inflight.Done()
			return next(c)
		}
	})
	e.Use(echomw.Recover())
	if o.LogRequests {
		e.Use(echomw.RequestLoggerWithConfig(echomw.RequestLoggerConfig{
			LogMethod: true, LogURI: true, LogStatus: true, LogLatency: true,
			LogValuesFunc: func(c echo.Context, v echomw.RequestLoggerValues) error {
				fmt.Fprintf(e.Logger.Output(), "%s %s %d %s\n", v.Method, v.URI, v.Status, v.Latency)
				return nil
			},
		}))
	}
	if o.Pool == ModeOff {
		// What most servers do today: Echo's BodyLimit and io.ReadAll.
		e.Use(echomw.BodyLimit(strconv.FormatInt(int64(o.MaxBody), 10)))
	} else {
		p, err := newPool(o)
		if err != nil {
			return nil, err
		}
		a.pool = p
		bodies := metrics.NewBodyCollector()
		reg.MustRegister(metrics.NewPoolCollector(o.Pool, p.stats), bodies)
		wait := o.BudgetWait
		if wait == 0 {
			wait = -1 // no wait: the middleware's 0 is its default
		}
		cfg := middleware.Config{
			MaxRequestBody:      int64(o.MaxBody),
			MaxBufferedResponse: int(o.MaxBuffered),
			BudgetWait:          wait,
			Decompress:          true,
			Observer:            bodies,
		}
		e.Use(echobody.NewMiddlewareWithConfig(echobody.Config{
			Config: seam.WithPool(cfg, p.buffers).(middleware.Config),
			// Scrapes and probes stay out of the body statistics.
			Skipper: func(c echo.Context) bool { return c.Path() == "/metrics" || c.Path() == "/healthz" },
		}))
	}

	e.POST("/echo", a.echo)
	e.POST("/upload", a.upload)
	e.POST("/json", a.json)
	e.Match([]string{http.MethodGet, http.MethodHead}, "/blob", a.blob)
	e.GET("/events", a.events)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	if o.Pprof {
		// net/http/pprof registers its handlers on http.DefaultServeMux,
		// which serves nothing else here.
		e.Any("/debug/pprof/*", echo.WrapHandler(http.DefaultServeMux))
	}
	return a, nil
}

// CheckLeaks reports buffers never released, in the sized mode with -track.
// It first waits, at most wait, for handlers still running (those a
// server cut off at the end of its grace period) to return theirs.
func (a *App) CheckLeaks(wait time.Duration) error {
	done := make(chan struct{})
	go func() { a.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
	if a.pool == nil || a.pool.sized == nil {
		return nil
	}
	return a.pool.sized.CheckLeaks()
}

// body returns the request body: pooled and without a copy, or read with
// io.ReadAll in mode off.
func (a *App) body(c echo.Context) ([]byte, error) {
	if a.pool != nil {
		return echobody.Body(c), nil
	}
	return io.ReadAll(c.Request().Body)
}

func (a *App) echo(c echo.Context) error {
	body, err := a.body(c)
	if err != nil {
		return err
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct == "" {
		ct = echo.MIMEOctetStream
	}
	// The length is known: the response goes out without a second buffer.
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	return c.Blob(http.StatusOK, ct, body)
}

type uploadResult struct {
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func (a *App) upload(c echo.Context) error {
	body, err := a.body(c)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	return c.JSON(http.StatusOK, uploadResult{Bytes: len(body), SHA256: hex.EncodeToString(sum[:])})
}

// json accepts an array of objects, adds "index" (the position it came in)
// and "processed": true to each, and returns them sorted by their "id".
func (a *App) json(c echo.Context) error {
	body, err := a.body(c)
	if err != nil {
		return err
	}
	var items []map[string]any
	err = json.Unmarshal(body, &items)
	if err == nil && (items == nil || slices.ContainsFunc(items, func(it map[string]any) bool { return it == nil })) {
		err = errors.New("null where an object belongs")
	}
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "body must be a JSON array of objects: "+err.Error())
	}
	for i, it := range items {
		it["index"] = i
		it["processed"] = true
	}
	slices.SortStableFunc(items, func(x, y map[string]any) int { return compareIDs(x["id"], y["id"]) })
	// The encoder writes into the response, which the middleware buffers in
	// pooled memory.
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	return json.NewEncoder(c.Response()).Encode(items)
}

// compareIDs orders numbers before strings before anything else.
func compareIDs(x, y any) int {
	rank := func(v any) int {
		switch v.(type) {
		case float64:
			return 0
		case string:
			return 1
		}
		return 2
	}
	if r := cmp.Compare(rank(x), rank(y)); r != 0 {
		return r
	}
	switch xv := x.(type) {
	case float64:
		return cmp.Compare(xv, y.(float64))
	case string:
		return cmp.Compare(xv, y.(string))
	}
	return 0
}

// blobBlock holds a whole number of periods of the blob pattern, so that
// consecutive blocks continue it: byte i of a blob is i % 251.
var blobBlock = func() []byte {
	b := make([]byte, 251*128)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// BlobByte returns byte i of every /blob response.
func BlobByte(i int) byte { return byte(i % 251) }

func (a *App) blob(c echo.Context) error {
	n, err := ParseSize(c.QueryParam("size"))
	if err != nil || n > MaxBlob {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("size must be a byte count from 0 to %d (%s)", MaxBlob, Size(MaxBlob)))
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, echo.MIMEOctetStream)
	w.WriteHeader(http.StatusOK)
	for left := int(n); left > 0; {
		k := min(left, len(blobBlock))
		if _, err := w.Write(blobBlock[:k]); err != nil {
			return nil // the client went away
		}
		left -= k
	}
	return nil
}

// Bounds of GET /events.
const (
	maxEvents        = 1000
	maxEventInterval = 10 * time.Second
	maxEventStream   = 30 * time.Second
)

func (a *App) events(c echo.Context) error {
	n, err := strconv.Atoi(cmp.Or(c.QueryParam("n"), "5"))
	if err != nil || n < 1 || n > maxEvents {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("n must be a count from 1 to %d", maxEvents))
	}
	interval, err := time.ParseDuration(cmp.Or(c.QueryParam("interval"), "100ms"))
	if err != nil || interval < 0 || interval > maxEventInterval || time.Duration(n-1)*interval > maxEventStream {
		return echo.NewHTTPError(http.StatusBadRequest,
			fmt.Sprintf("interval must be a duration from 0 to %s, and the stream no longer than %s", maxEventInterval, maxEventStream))
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set(echo.HeaderCacheControl, "no-cache")
	w.WriteHeader(http.StatusOK)
	ctx := c.Request().Context()
	t := time.NewTimer(0)
	defer t.Stop()
	for i := range n {
		if i > 0 {
			t.Reset(interval)
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
		fmt.Fprintf(w, "id: %d\ndata: {\"n\":%d,\"sent\":%q}\n\n", i, i, time.Now().UTC().Format(time.RFC3339Nano))
		w.Flush()
	}
	return nil
}
