package middleware_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/echobody"
	"github.com/bodypool/bodypool/middleware"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
)

// conformEcho builds the Echo middleware under test. Every Echo
// conformance table builds it here, so that a change of the public API is
// one change in the suite.
func conformEcho(cfg middleware.Config) echo.MiddlewareFunc {
	return echobody.NewMiddlewareWithConfig(echobody.Config{Config: cfg})
}

// echoPlacement is where the middleware under test goes in an Echo app,
// relative to the Echo middleware of the entry (if any).
type echoPlacement struct {
	name  string
	pre   bool // added with e.Pre, else with e.Use
	inner bool // added after the entry's Echo middleware, so it runs inside it
}

var echoPlacements = []echoPlacement{
	{"Pre,outer", true, false},
	{"Pre,inner", true, true},
	{"Use,outer", false, false},
	{"Use,inner", false, true},
}

// echoConformCase is one Echo handler behaviour, alone or under one of
// Echo's middleware, and the requests that exercise it.
type echoConformCase struct {
	name string
	// route registers the handler; default GET / answered by handler.
	method  string
	handler echo.HandlerFunc
	// other is the Echo middleware combined with ours, if any, built
	// afresh for each app; note records what a /report request returns.
	other func(note func(string)) echo.MiddlewareFunc
	// plainInner, if set, is the reference handler when ours runs inside
	// other (placement inner); exception must say why.
	plainInner echo.HandlerFunc
	// The fields below mean what they mean in conformCase.
	cfg       func(*middleware.Config)
	reqs      []string
	raw       bool
	gunzip    bool
	framing   bool
	exception string
	// fixed names the bug this entry showed before it was fixed;
	// fixedAt, the placements it showed in.
	fixed   string
	fixedAt []string
	// racy, if set, says why the entry races whatever the middleware
	// does; it is skipped under the race detector.
	racy string
}

// conformRace reports whether the test binary was built with -race.
func conformRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// newConformEcho returns an Echo app serving c's route behind other, if
// any, and ours (mw nil: none) at placement p, with a /report route
// returning the last note.
func (c echoConformCase) app(mw echo.MiddlewareFunc, p echoPlacement, h echo.HandlerFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	last := make(chan string, 1)
	last <- "nothing yet"
	note := func(s string) { <-last; last <- s }
	var mws []echo.MiddlewareFunc
	if c.other != nil {
		mws = append(mws, c.other(note))
	}
	if mw != nil {
		if p.inner {
			mws = append(mws, mw)
		} else {
			mws = append([]echo.MiddlewareFunc{mw}, mws...)
		}
	}
	if p.pre {
		e.Pre(mws...)
	} else {
		e.Use(mws...)
	}
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	e.Add(method, "/", h)
	e.GET("/report", func(ec echo.Context) error {
		s := <-last
		last <- "reported"
		return ec.String(http.StatusOK, s)
	})
	return e
}

// run compares c with and without ours at every placement.
func (c echoConformCase) run(t *testing.T) {
	t.Helper()
	if (c.framing || c.plainInner != nil) && c.exception == "" {
		t.Fatal("an entry with an allowed difference must say why in exception")
	}
	for _, p := range echoPlacements {
		if c.other == nil && p.inner {
			continue // nothing to be inside of
		}
		t.Run(p.name, func(t *testing.T) {
			if c.racy != "" && conformRace() {
				t.Skip("races without the middleware too: " + c.racy)
			}
			t.Parallel()
			cfg := conformConfig(t, c.cfg)
			plainH := c.handler
			if p.inner && c.plainInner != nil {
				plainH = c.plainInner
			}
			plainSrv := conformServe(t, c.app(nil, p, plainH))
			mwSrv := conformServe(t, c.app(conformEcho(cfg), p, c.handler))
			reqs := c.reqs
			if reqs == nil {
				reqs = twice(get("/"))
			}
			compareOnWire(t, plainSrv, mwSrv, reqs, conformCase{raw: c.raw, gunzip: c.gunzip, framing: c.framing, exception: c.exception})
		})
	}
}

// echoConformCases is the Echo table; dir holds conformFiles.
func echoConformCases(t *testing.T, dir string) []echoConformCase {
	html := "<!DOCTYPE html><html><head><title>t</title></head><body>sniffed</body></html>"
	bigText := strings.Repeat("abcdefghij", 300)
	echoBack := func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEOctetStream, b)
	}
	// partialPanic sets headers, writes part of a body and panics.
	partialPanic := func(c echo.Context) error {
		c.Response().Header().Set("Content-Disposition", `attachment; filename="secret.txt"`)
		c.Response().Header().Set("Content-Encoding", "gzip")
		c.Response().Write([]byte("partial secret"))
		panic("handler failed")
	}
	panicAtOnce := func(c echo.Context) error { panic("handler failed") }
	lateHandler := func(c echo.Context) error {
		conformLate.Add(1)
		defer conformLate.Add(-1)
		<-c.Request().Context().Done()
		return c.String(http.StatusOK, "too late")
	}
	timeout := func(func(string)) echo.MiddlewareFunc {
		//lint:ignore SA1019 Echo's deprecated Timeout is still deployed, and ours must not undo it (bug 8).
		return echomw.TimeoutWithConfig(echomw.TimeoutConfig{Timeout: 5 * time.Millisecond, ErrorMessage: "timed out"})
	}
	contextTimeout := func(func(string)) echo.MiddlewareFunc {
		return echomw.ContextTimeoutWithConfig(echomw.ContextTimeoutConfig{Timeout: 5 * time.Millisecond})
	}
	form := url.Values{"_method": {"DELETE"}, "x": {"42"}}.Encode()
	formPost := rawRequest("POST", "/", []byte(form), "Content-Type: application/x-www-form-urlencoded")
	plaintext := pattern(3000)

	return []echoConformCase{
		// Echo's own ways of answering.
		{name: "String", handler: func(c echo.Context) error { return c.String(http.StatusOK, "hello") }},
		{name: "Blob 3000 bytes", handler: func(c echo.Context) error { return c.Blob(http.StatusOK, "text/plain", []byte(bigText)) },
			framing: true, exception: exceptFraming},
		{name: "HTML sniffed", handler: func(c echo.Context) error {
			_, err := c.Response().Write([]byte(html))
			return err
		}},
		{name: "JSON", handler: func(c echo.Context) error { return c.JSON(http.StatusCreated, map[string]int{"a": 1}) }},
		{name: "NoContent 204", handler: func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }},
		{name: "NoContent 304", handler: func(c echo.Context) error { return c.NoContent(http.StatusNotModified) }},
		{name: "HTTPError", handler: func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "teapot") }},
		{name: "plain error", handler: func(c echo.Context) error { return errors.New("boom") }},
		{name: "error after partial write", handler: func(c echo.Context) error {
			c.Response().Write([]byte("partial"))
			return errors.New("boom")
		}},
		{name: "route not found", handler: echoBack, reqs: twice(get("/missing"))},
		{name: "method not allowed", handler: echoBack, reqs: twice(rawRequest("PUT", "/", []byte("x")))},
		{name: "Redirect", handler: func(c echo.Context) error { return c.Redirect(http.StatusFound, "/elsewhere") }},
		{name: "File", handler: func(c echo.Context) error { return c.File(filepath.Join(dir, "1k.txt")) }},
		{name: "File over MaxBufferedResponse", handler: func(c echo.Context) error { return c.File(filepath.Join(dir, "over.txt")) }},
		{name: "Stream with Flush", handler: func(c echo.Context) error {
			c.Response().Header().Set("Content-Type", "text/plain")
			for i := range 3 {
				fmt.Fprintf(c.Response(), "line %d\n", i)
				c.Response().Flush()
			}
			return nil
		}},
		{name: "103 Early Hints then 200", handler: func(c echo.Context) error {
			c.Response().Header().Set("Link", "</a.css>; rel=preload")
			c.Response().WriteHeader(http.StatusEarlyHints)
			return c.String(http.StatusOK, "final")
		}},
		{name: "declared trailer", handler: func(c echo.Context) error {
			c.Response().Header().Set("Trailer", "X-Sum")
			c.Response().Write([]byte("summed"))
			c.Response().Header().Set("X-Sum", "42")
			return nil
		}, fixed: "1: trailers lost"},
		{name: "header set after Write", handler: func(c echo.Context) error {
			c.Response().Write([]byte("hello"))
			c.Response().Header().Set("X-Late", "1")
			return nil
		}, fixed: "4: header changes after Write take effect"},
		{name: "WriteHeader(200) then Hijack", handler: func(c echo.Context) error {
			hijackAfterHeader(c.Response(), c.Request())
			return nil
		}, raw: true, reqs: []string{get("/")}, fixed: "2: the status line is not sent on WriteHeader(200)+Hijack"},
		{name: "POST echo", method: http.MethodPost, handler: echoBack, reqs: twice(rawRequest("POST", "/", pattern(1000)))},
		{name: "POST chunked echo", method: http.MethodPost, handler: echoBack,
			reqs:    twice(rawRequest("POST", "/", chunk(pattern(5000), 999), "Transfer-Encoding: chunked")),
			framing: true, exception: exceptFraming},
		{name: "form Bind", method: http.MethodPost, handler: func(c echo.Context) error {
			var v struct {
				X string `form:"x"`
			}
			if err := c.Bind(&v); err != nil {
				return err
			}
			return c.String(http.StatusOK, "x="+v.X)
		}, reqs: twice(formPost)},
		{name: "panic without Recover", handler: func(c echo.Context) error {
			c.Response().Write([]byte("partial"))
			panic("handler failed")
		}},

		// Echo's middleware, on both sides of ours.
		{name: "Gzip, large body", other: func(func(string)) echo.MiddlewareFunc { return echomw.Gzip() },
			handler: func(c echo.Context) error { return c.HTML(http.StatusOK, strings.Repeat(html, 100)) },
			reqs:    twice(get("/", "Accept-Encoding: gzip")), gunzip: true, framing: true, exception: exceptFraming},
		{name: "Gzip, small body", other: func(func(string)) echo.MiddlewareFunc { return echomw.Gzip() },
			handler: func(c echo.Context) error { return c.String(http.StatusOK, "small") },
			reqs:    twice(get("/", "Accept-Encoding: gzip")), gunzip: true, framing: true, exception: exceptFraming},
		{name: "Gzip, no Accept-Encoding", other: func(func(string)) echo.MiddlewareFunc { return echomw.Gzip() },
			handler: func(c echo.Context) error { return c.HTML(http.StatusOK, strings.Repeat(html, 100)) },
			framing: true, exception: exceptFraming},
		{name: "Decompress", other: func(func(string)) echo.MiddlewareFunc { return echomw.Decompress() },
			method: http.MethodPost, handler: echoBack,
			reqs:    twice(rawRequest("POST", "/", gzipped(t, plaintext), "Content-Encoding: gzip")),
			framing: true, exception: exceptFraming},
		{name: "Decompress with ours decompressing too", other: func(func(string)) echo.MiddlewareFunc { return echomw.Decompress() },
			method: http.MethodPost, handler: echoBack, cfg: func(c *middleware.Config) { c.Decompress = true },
			reqs:    twice(rawRequest("POST", "/", gzipped(t, plaintext), "Content-Encoding: gzip")),
			framing: true, exception: exceptFraming,
			fixed: "new: Echo's Decompress in front decodes the body but leaves Content-Encoding: gzip, so ours " +
				"decodes the plaintext again and refuses it with 400", fixedAt: []string{"Pre,inner", "Use,inner"}},
		{name: "BodyDump", other: func(note func(string)) echo.MiddlewareFunc {
			return echomw.BodyDump(func(c echo.Context, req, res []byte) {
				if c.Path() != "/report" {
					note(fmt.Sprintf("dumped request %q response %q", req, res))
				}
			})
		}, method: http.MethodPost, handler: echoBack,
			reqs: []string{rawRequest("POST", "/", []byte("dump me")), get("/report")}},
		{name: "Recover, panic after partial response", other: func(func(string)) echo.MiddlewareFunc { return echomw.Recover() },
			handler: partialPanic, plainInner: panicAtOnce,
			exception: "documented: a panic discards the buffered response, so inside Recover the 500 goes out instead of " +
				"plain Echo's 200 with its headers and the partial body; the reference is Recover answering a handler that " +
				"panicked before touching the response",
			fixed: "3: the recovery's 500 carries the headers of the discarded response", fixedAt: []string{"Pre,inner", "Use,inner"}},
		{name: "Recover, panic before writing", other: func(func(string)) echo.MiddlewareFunc { return echomw.Recover() },
			handler: panicAtOnce},
		{name: "Timeout, handler finishes late", other: timeout, handler: lateHandler,
			racy: "Echo's deprecated Timeout keeps using the echo.Context in the handler's goroutine after the " +
				"timeout, while Echo resets it for the next request",
			fixed:   "8: Echo's Timeout middleware undone (EchoWithConfig restores c.Response().Writer): connection closed",
			fixedAt: []string{"Pre,outer", "Use,outer"}},
		{name: "Timeout, fast handler", other: timeout, handler: func(c echo.Context) error { return c.String(http.StatusOK, "fast") }},
		{name: "ContextTimeout, handler finishes late", other: contextTimeout, handler: func(c echo.Context) error {
			conformLate.Add(1)
			defer conformLate.Add(-1)
			<-c.Request().Context().Done()
			return c.Request().Context().Err()
		}},
		{name: "ContextTimeout, fast handler", other: contextTimeout,
			handler: func(c echo.Context) error { return c.String(http.StatusOK, "fast") }},
		{name: "MethodOverride from the form", other: func(func(string)) echo.MiddlewareFunc {
			return echomw.MethodOverrideWithConfig(echomw.MethodOverrideConfig{Getter: echomw.MethodFromForm("_method")})
		}, method: http.MethodDelete, handler: func(c echo.Context) error {
			return c.String(http.StatusOK, c.Request().Method+" x="+c.FormValue("x"))
		}, reqs: twice(formPost),
			fixed: "9: request changes by later middleware (e.Pre + MethodOverride) land on a copy", fixedAt: []string{"Pre,outer"}},
		{name: "MethodOverride from the header", other: func(func(string)) echo.MiddlewareFunc { return echomw.MethodOverride() },
			method: http.MethodDelete, handler: func(c echo.Context) error {
				b, _ := io.ReadAll(c.Request().Body)
				return c.String(http.StatusOK, c.Request().Method+" "+string(b))
			}, reqs: twice(rawRequest("POST", "/", []byte("body"), "X-HTTP-Method-Override: DELETE")),
			fixed: "9: request changes by later middleware (e.Pre + MethodOverride) land on a copy", fixedAt: []string{"Pre,outer"}},
		{name: "BodyLimit, declared length over the limit", other: func(func(string)) echo.MiddlewareFunc { return echomw.BodyLimit("1K") },
			method: http.MethodPost, handler: echoBack, reqs: twice(rawRequest("POST", "/", pattern(2000)))},
		{name: "BodyLimit, chunked body over the limit", other: func(func(string)) echo.MiddlewareFunc { return echomw.BodyLimit("1K") },
			method: http.MethodPost, handler: echoBack,
			reqs: twice(rawRequest("POST", "/", chunk(pattern(2000), 500), "Transfer-Encoding: chunked")),
			plainInner: func(c echo.Context) error {
				c.Response().Header().Set("Connection", "close")
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
			},
			exception: "documented: inside BodyLimit, ours reads the body first and refuses it with its own 413 and " +
				"Connection: close; the reference sends that refusal"},
		{name: "BodyLimit, body under the limit", other: func(func(string)) echo.MiddlewareFunc { return echomw.BodyLimit("1K") },
			method: http.MethodPost, handler: echoBack, reqs: twice(rawRequest("POST", "/", pattern(500)))},
	}
}

// The Echo table: Echo's ways of answering, and Echo's own middleware in
// front of ours and behind it, with ours added by e.Pre and by e.Use.
func TestConformanceEcho(t *testing.T) {
	dir := conformFiles(t)
	for _, c := range echoConformCases(t, dir) {
		t.Run(c.name, c.run)
	}
}

// The net/http table's handlers, served by Echo through echo.WrapHandler,
// with ours added by e.Pre and by e.Use.
func TestConformanceEchoWrapped(t *testing.T) {
	dir := conformFiles(t)
	backend := conformServe(t, http.HandlerFunc(slowBackend))
	u, err := url.Parse(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conformCases(t, dir, u) {
		if c.wrap != nil || c.plain != nil {
			continue // composed with net/http middleware: net/http only
		}
		if len(c.reqs) > 0 && strings.HasPrefix(c.reqs[0], "CONNECT") {
			continue // Echo's router does not route CONNECT's authority form
		}
		t.Run(c.name, func(t *testing.T) {
			for _, pre := range []bool{true, false} {
				name := "Use"
				if pre {
					name = "Pre"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					cfg := conformConfig(t, c.cfg)
					handler := c.handler
					if c.newHandler != nil {
						handler = c.newHandler()
					}
					plainSrv := conformServe(t, wrappedEcho(nil, pre, handler))
					if c.newHandler != nil {
						handler = c.newHandler()
					}
					mwSrv := conformServe(t, wrappedEcho(conformEcho(cfg), pre, handler))
					reqs := c.reqs
					if reqs == nil {
						reqs = twice(get("/"))
					}
					compareOnWire(t, plainSrv, mwSrv, reqs, c)
				})
			}
		})
	}
}

// wrappedEcho serves h for every method and path, behind mw (if not nil)
// added with e.Pre or e.Use.
func wrappedEcho(mw echo.MiddlewareFunc, pre bool, h http.Handler) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	if mw != nil {
		if pre {
			e.Pre(mw)
		} else {
			e.Use(mw)
		}
	}
	e.Any("/*", echo.WrapHandler(h))
	e.Any("/", echo.WrapHandler(h))
	return e
}
