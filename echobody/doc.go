// Package echobody is the bodypool middleware for Echo v4: request bodies
// read into pooled buffers under a limit, and responses buffered in pooled
// memory up to a threshold, as package middleware does for net/http.
//
//	e := echo.New()
//	e.Use(echobody.NewMiddleware())
//
//	e.POST("/echo", func(c echo.Context) error {
//		body := echobody.Body(c) // no copy; valid until the handler returns
//		return c.Blob(http.StatusOK, "application/octet-stream", body)
//	})
//
// It follows Echo's conventions: a Config with a Skipper, DefaultConfig,
// NewMiddleware and NewMiddlewareWithConfig, which panics on a bad Config.
// Refusals (413, 400, or 503 with Retry-After) are returned as
// [*echo.HTTPError], so that the application's error handler shapes them.
//
// Where it goes: add it with e.Use, after Recover and RequestLogger (so
// that panics and refusals are logged and recovered) and before Gzip (so
// that compressed responses are buffered and go out with a
// Content-Length). With e.Pre it also works, before or after
// MethodOverride: the request is changed in place, never copied. Do not
// combine Echo's Decompress with Config.Decompress: use one of them (this
// package's applies the body limit to the decompressed size; a body Echo
// already decompressed is not decoded again). Echo's Timeout middleware
// must sit outside this one, as [http.TimeoutHandler] must (see package
// [middleware]).
package echobody
