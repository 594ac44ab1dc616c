package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Run serves the demo application on o.Addr until ctx ends, then shuts
// down gracefully: it stops accepting, lets in-flight requests finish
// within o.Grace, and closes what is left. It logs one line at start, with
// the address it listens on, and one at stop. With -track it returns an
// error listing buffers never released.
func Run(ctx context.Context, o Options, log io.Writer) error {
	app, err := NewApp(o)
	if err != nil {
		return err
	}
	app.Echo.Logger.SetOutput(log)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app.Echo,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	if o.H2C {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	fmt.Fprintf(log, "demo-server: listening on http://%s (pool=%s max-body=%s max-buffered=%s budget=%s h2c=%t)\n",
		ln.Addr(), o.Pool, o.MaxBody, o.MaxBuffered, o.Budget, o.H2C)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), o.Grace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("requests still running after the grace period of %s were cut off", o.Grace)
		srv.Close()
	}
	<-served
	fmt.Fprintf(log, "demo-server: stopped after %s\n", time.Since(start).Round(time.Millisecond))
	if err != nil {
		fmt.Fprintf(log, "demo-server: %v\n", err)
	}
	return app.CheckLeaks(5 * time.Second)
}
