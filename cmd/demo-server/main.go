// Command demo-server runs the bodypool demo: an Echo server whose request
// and response bodies live in pooled memory, with Prometheus metrics and
// switchable pool modes for A/B comparison. Run with -help for its flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bodypool/bodypool/internal/demo"
)

func main() {
	opts, err := demo.ParseOptions(os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, demo.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo-server: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo-server: %v\n", err)
		os.Exit(1)
	}
}
